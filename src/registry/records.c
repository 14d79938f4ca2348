/* KILN_ROOT/registry/{compressed,sources}: see records.h. */
#include "registry/records.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/digest_set.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

#define RECORDS_MAX (64u << 20)

static char *record_path(struct store *s, const char *name)
{
    return xasprintf("%s/registry/%s", store_root(s), name);
}

static char *load(struct store *s, const char *name)
{
    cleanup_free char *path = record_path(s, name);
    char *text = NULL;
    size_t len = 0;
    if (read_file(path, RECORDS_MAX, &text, &len, NULL) < 0)
        return NULL;
    return text;
}

static int append(struct store *s, const char *name, const char *line, struct kiln_error **err)
{
    cleanup_free char *dir = xasprintf("%s/registry", store_root(s));
    if (mkdir_p(dir, 0755, err) < 0)
        return -1;
    cleanup_free char *path = record_path(s, name);
    if (store_lock(s, err) < 0)
        return -1;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    int ret = 0;
    if (fd < 0)
        ret = kiln_error_errno(err, errno, "open %s", path);
    else if (write_all(fd, line, strlen(line)) < 0)
        ret = kiln_error_errno(err, errno, "write %s", path);
    if (fd >= 0)
        close(fd);
    store_unlock(s);
    return ret;
}

int records_compressed_get(struct store *s, const struct digest *tar, struct digest *gz,
                           uint64_t *size)
{
    cleanup_free char *text = load(s, "compressed");
    if (text == NULL)
        return 0;
    int found = 0;
    for (char *line = text; *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        char a[DIGEST_HEX_LEN + 1], b[DIGEST_HEX_LEN + 1];
        unsigned long long n;
        struct digest d;
        if (sscanf(line, "%64s %64s %llu", a, b, &n) == 3 && strcmp(a, tar->hex) == 0 &&
            digest_parse_hex(b, &d) == 0 && store_blob_has(s, &d)) {
            *gz = d;
            *size = n;
            found = 1; /* the last valid line wins */
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return found;
}

/* Calls fn for every well-formed "tar gz size" line; fn returns 1 to keep it. */
static void each_compressed(char *text,
                            int (*fn)(void *, const struct digest *, const struct digest *,
                                      const char *),
                            void *ctx)
{
    for (char *line = text; *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        char a[DIGEST_HEX_LEN + 1], b[DIGEST_HEX_LEN + 1];
        unsigned long long n;
        struct digest tar, gz;
        if (sscanf(line, "%64s %64s %llu", a, b, &n) == 3 && digest_parse_hex(a, &tar) == 0 &&
            digest_parse_hex(b, &gz) == 0)
            fn(ctx, &tar, &gz, line);
        if (nl == NULL)
            break;
        line = nl + 1;
    }
}

static int add_root(void *ctx, const struct digest *tar, const struct digest *gz, const char *line)
{
    (void)line;
    struct digest_set *roots = ctx;
    if (digest_set_has(roots, tar))
        digest_set_add(roots, gz);
    return 0;
}

int records_add_roots(void *ctx, struct store *s, struct digest_set *roots, struct kiln_error **err)
{
    (void)ctx, (void)err;
    cleanup_free char *text = load(s, "compressed");
    if (text != NULL)
        each_compressed(text, add_root, roots);
    return 0;
}

struct compact {
    struct store *s;
    struct strbuf out;
};

static int keep_present(void *ctx, const struct digest *tar, const struct digest *gz,
                        const char *line)
{
    (void)tar;
    struct compact *c = ctx;
    char *path = store_blob_path(c->s, gz);
    if (access(path, F_OK) == 0) {
        strbuf_adds(&c->out, line);
        strbuf_addc(&c->out, '\n');
    }
    free(path);
    return 0;
}

int records_compressed_compact(struct store *s, struct kiln_error **err)
{
    if (store_lock(s, err) < 0)
        return -1;
    cleanup_free char *text = load(s, "compressed");
    int ret = 0;
    if (text != NULL) {
        struct compact c = {s, STRBUF_INIT};
        strbuf_init(&c.out);
        each_compressed(text, keep_present, &c);
        cleanup_free char *path = record_path(s, "compressed");
        ret = write_file_atomic(path, c.out.buf, c.out.len, 0644, err);
        strbuf_release(&c.out);
    }
    store_unlock(s);
    return ret;
}

int records_compressed_put(struct store *s, const struct digest *tar, const struct digest *gz,
                           uint64_t size, struct kiln_error **err)
{
    cleanup_free char *line =
        xasprintf("%s %s %llu\n", tar->hex, gz->hex, (unsigned long long)size);
    return append(s, "compressed", line, err);
}

char *records_source_find(struct store *s, const struct digest *blob, const char *host,
                          const char *not_path)
{
    cleanup_free char *text = load(s, "sources");
    if (text == NULL)
        return NULL;
    char *found = NULL;
    for (char *line = text; *line != '\0' && found == NULL;) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        char *sp1 = strchr(line, ' ');
        char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        if (sp2 != NULL && (size_t)(sp1 - line) == DIGEST_HEX_LEN &&
            strncmp(line, blob->hex, DIGEST_HEX_LEN) == 0 &&
            (size_t)(sp2 - sp1 - 1) == strlen(host) && strncmp(sp1 + 1, host, strlen(host)) == 0 &&
            strcmp(sp2 + 1, not_path) != 0 && sp2[1] != '\0')
            found = xstrdup(sp2 + 1);
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return found;
}

int records_source_add(struct store *s, const struct digest *blob, const char *host,
                       const char *path, struct kiln_error **err)
{
    cleanup_free char *text = load(s, "sources");
    cleanup_free char *line = xasprintf("%s %s %s\n", blob->hex, host, path);
    if (text != NULL &&
        (strncmp(text, line, strlen(line)) == 0 || strstr(text, line) != NULL)) /* already known */
        return 0;
    return append(s, "sources", line, err);
}
