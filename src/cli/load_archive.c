/* load_archive: an archive's files by name for kiln load. See load_archive.h. */
#include "cli/load_archive.h"

#include <stdlib.h>
#include <string.h>

#include "store/layer_read.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

#define IN_MEMORY_MAX (4u << 20)

void loader_free(struct loader *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->f[i].name);
        free(l->f[i].link);
        free(l->f[i].data);
        blob_writer_free(l->f[i].bw);
    }
    free(l->f);
}

static struct afile *find(struct loader *l, const char *name, int depth)
{
    for (size_t i = l->n; i-- > 0;) {
        if (strcmp(l->f[i].name, name) != 0)
            continue;
        if (l->f[i].link != NULL && depth < 8)
            return find(l, l->f[i].link, depth + 1);
        return l->f[i].link ? NULL : &l->f[i];
    }
    return NULL;
}

static struct afile *add(struct loader *l, const char *name)
{
    l->f = xrealloc(l->f, (l->n + 1) * sizeof(*l->f));
    struct afile *f = &l->f[l->n++];
    memset(f, 0, sizeof(*f));
    f->name = xstrdup(name);
    return f;
}

static int read_entry(struct loader *l, struct layer_reader *r, struct afile *f,
                      struct kiln_error **err)
{
    f->size = 0;
    char *buf = xmalloc(1 << 17);
    int rc = -1;
    struct strbuf mem = STRBUF_INIT;
    strbuf_init(&mem);
    for (;;) {
        ssize_t n = layer_reader_data(r, buf, 1 << 17, err);
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        if (f->bw == NULL && mem.len + (size_t)n > IN_MEMORY_MAX) {
            if (blob_writer_new(l->s, &f->bw, err) < 0 ||
                blob_writer_write(f->bw, mem.buf, mem.len, err) < 0)
                goto out;
            strbuf_reset(&mem);
        }
        if (f->bw != NULL) {
            if (blob_writer_write(f->bw, buf, (size_t)n, err) < 0)
                goto out;
        } else {
            strbuf_add(&mem, buf, (size_t)n);
        }
        f->size += (uint64_t)n;
    }
    if (f->bw == NULL) {
        f->len = mem.len;
        f->data = strbuf_detach(&mem);
    }
    rc = 0;
out:
    strbuf_release(&mem);
    free(buf);
    return rc;
}

/* "a/./b/../c" -> "a/c", ".." stopping at the top: names only, no file system. */
static char *lexical_clean(const char *p)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    while (*p != '\0') {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            char *slash = strrchr(sb.buf, '/');
            strbuf_setlen(&sb, slash ? (size_t)(slash - sb.buf) : 0);
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (sb.len > 0)
                strbuf_addc(&sb, '/');
            strbuf_add(&sb, p, n);
        }
        p += n;
        p += strspn(p, "/");
    }
    return strbuf_detach(&sb);
}

int loader_read(struct loader *l, int fd, struct kiln_error **err)
{
    struct layer_extract_opts o = {0};
    struct layer_reader *r = layer_reader_open(fd, &o);
    struct layer_entry e;
    int n;
    while ((n = layer_reader_next(r, &e, err)) > 0) {
        if (e.kind == LK_SYMLINK) {
            struct afile *f = add(l, e.path);
            const char *slash = strrchr(e.path, '/');
            cleanup_free char *joined =
                e.link[0] == '/' ? xstrdup(e.link)
                : slash          ? xasprintf("%.*s/%s", (int)(slash - e.path), e.path, e.link)
                                 : xstrdup(e.link);
            f->link = lexical_clean(joined);
            continue;
        }
        if (e.kind != LK_FILE)
            continue;
        if (read_entry(l, r, add(l, e.path), err) < 0) {
            n = -1;
            break;
        }
    }
    int rc = n < 0 ? -1 : layer_reader_finish(r, NULL, NULL, err);
    layer_reader_free(r);
    if (rc < 0)
        return kiln_error_prefix(err, "load: archive rejected");
    return 0;
}

int loader_store(struct loader *l, const char *name, const struct descriptor *want,
                 struct descriptor *out, struct kiln_error **err)
{
    struct afile *f = find(l, name, 0);
    if (f == NULL)
        return kiln_error_set(err, KILN_E_INVALID, "load: the archive has no file \"%s\"", name);
    if (want != NULL && want->size != f->size)
        return kiln_error_set(err, KILN_E_DIGEST,
                              "load: \"%s\" is %llu bytes, its descriptor says %llu", name,
                              (unsigned long long)f->size, (unsigned long long)want->size);
    const struct digest *exp = want ? &want->digest : NULL;
    if (f->stored) {
        if (exp != NULL && !digest_equal(exp, &f->digest))
            return kiln_error_set(err, KILN_E_DIGEST, "load: \"%s\" is sha256:%s, not sha256:%s",
                                  name, f->digest.hex, exp->hex);
    } else if (f->bw == NULL) {
        if (store_blob_put(l->s, f->data ? f->data : "", f->len, exp, &f->digest, err) < 0)
            return kiln_error_prefix(err, "load: \"%s\"", name);
    } else {
        int rc = blob_writer_commit(f->bw, exp, (int64_t)f->size, &f->digest, err);
        blob_writer_free(f->bw);
        f->bw = NULL;
        if (rc < 0)
            return kiln_error_prefix(err, "load: \"%s\"", name);
    }
    f->stored = 1;
    if (out != NULL) {
        out->digest = f->digest;
        out->size = f->size;
    }
    return 0;
}

json_t *loader_json(struct loader *l, const char *name, struct kiln_error **err)
{
    struct afile *f = find(l, name, 0);
    if (f == NULL)
        return kiln_error_set(err, KILN_E_INVALID, "load: the archive has no \"%s\"", name), NULL;
    if (f->data == NULL)
        return kiln_error_set(err, KILN_E_INVALID, "load: \"%s\" is too large for JSON", name),
               NULL;
    return json_parse_bytes(f->data, f->len, name, err);
}

struct afile *loader_find(struct loader *l, const char *name)
{
    return find(l, name, 0);
}
