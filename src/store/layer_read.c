/* The hostile-archive gate of the layer codec. libarchive parses tar (only
 * tar: no other formats, no filters; decompression is ours so we can hash the
 * uncompressed stream); every entry is then normalized and judged here. */
#include "store/layer_read.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/layer_pathset.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

#define RBUF         (1 << 17)
#define NAME_MAX_LEN 255
#define PATH_MAX_LEN 4095

struct layer_reader {
    const struct layer_extract_opts *o;
    struct archive *a;
    struct decompressor *dc;
    struct digester *dg;
    uint64_t total;
    uint64_t zero_run; /* zero bytes at the end of what was read so far */
    int eof, is_open;
    unsigned char *buf;
    struct kiln_error *cb_err; /* a read error from below libarchive */
    struct pathset *symlinks;  /* paths this archive made symlinks */
    struct strbuf path, link;
    struct tar_xattr *x;
    size_t nx;
};

static void track_zeros(struct layer_reader *r, const unsigned char *p, size_t n)
{
    size_t z = 0;
    while (z < n && p[n - 1 - z] == 0)
        z++;
    r->zero_run = z == n ? r->zero_run + n : z;
}

static la_ssize_t read_cb(struct archive *a, void *ctx, const void **out)
{
    struct layer_reader *r = ctx;
    if (r->eof)
        return 0;
    ssize_t n = decompressor_read(r->dc, r->buf, RBUF, &r->cb_err);
    if (n < 0) {
        archive_set_error(a, EIO, "%s", r->cb_err ? r->cb_err->msg : "read failed");
        return -1;
    }
    if (n == 0)
        r->eof = 1;
    digester_update(r->dg, r->buf, (size_t)n);
    r->total += (uint64_t)n;
    track_zeros(r, r->buf, (size_t)n);
    *out = r->buf;
    return n;
}

struct layer_reader *layer_reader_open(int fd, const struct layer_extract_opts *o)
{
    struct layer_reader *r = xcalloc(1, sizeof(*r));
    r->o = o;
    r->dc = decompressor_new(fd);
    r->dg = digester_new();
    r->buf = xmalloc(RBUF);
    r->symlinks = pathset_new();
    strbuf_init(&r->path);
    strbuf_init(&r->link);
    r->a = archive_read_new();
    if (r->a == NULL)
        abort();
    archive_read_support_format_tar(r->a);
    return r;
}

static int opened(struct layer_reader *r, struct kiln_error **err)
{
    if (archive_read_open(r->a, r, NULL, read_cb, NULL) == ARCHIVE_OK)
        return 0;
    return kiln_error_set(err, KILN_E_INVALID, "layer: not a tar archive: %s",
                          archive_error_string(r->a));
}

/* "./a//b/" -> "a/b"; refuses absolute names, "..", over-long names. value is
 * the entry's name or its hardlink target (what), entry the entry's name. */
static int normalize(const char *value, const char *entry, const char *what, struct strbuf *out,
                     struct kiln_error **err)
{
    strbuf_reset(out);
    cleanup_free char *shown = strlen(value) > 80 ? xasprintf("%.80s...", value) : xstrdup(value);
    cleanup_free char *ent = strlen(entry) > 80 ? xasprintf("%.80s...", entry) : xstrdup(entry);
    int is_name = value == entry;
    if (value[0] == '/')
        return kiln_error_set(err, KILN_E_INVALID,
                              "layer entry \"%s\": absolute %s%s%s%s refused (archives must hold "
                              "relative names)",
                              ent, what, is_name ? "" : " \"", is_name ? "" : shown,
                              is_name ? "" : "\"");
    const char *p = value;
    while (*p != '\0') {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return kiln_error_set(err, KILN_E_INVALID,
                                  "layer entry \"%s\": \"..\" in %s%s%s%s refused (it could leave "
                                  "the root)",
                                  ent, what, is_name ? "" : " \"", is_name ? "" : shown,
                                  is_name ? "" : "\"");
        if (n > NAME_MAX_LEN)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "layer entry \"%s\": a component of its %s is longer than %d "
                                  "bytes",
                                  ent, what, NAME_MAX_LEN);
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (out->len > 0)
                strbuf_addc(out, '/');
            strbuf_add(out, p, n);
        }
        p += n;
        if (*p == '/')
            p++;
    }
    if (out->len > PATH_MAX_LEN)
        return kiln_error_set(err, KILN_E_INVALID, "layer entry \"%s\": %s longer than %d bytes",
                              ent, what, PATH_MAX_LEN);
    return 0;
}

/* Refuses a path whose parent (or itself, with self) is a symlink that this
 * archive created: writing through it is the classic escape. */
static int check_symlink_parents(struct layer_reader *r, const char *raw, const char *path,
                                 int self, struct kiln_error **err)
{
    size_t len = strlen(path);
    for (size_t i = 0; i <= len; i++) {
        if ((i == len && self) || (i < len && path[i] == '/')) {
            if (pathset_has(r->symlinks, path, i))
                return kiln_error_set(err, KILN_E_INVALID,
                                      "layer entry \"%s\": goes through \"%.*s\", a symlink this "
                                      "archive created; refused",
                                      raw, (int)i, path);
        }
    }
    return 0;
}

static void free_x(struct layer_reader *r)
{
    for (size_t i = 0; i < r->nx; i++) {
        free(r->x[i].name);
        free(r->x[i].value);
    }
    free(r->x);
    r->x = NULL;
    r->nx = 0;
}

static void read_xattrs(struct layer_reader *r, struct archive_entry *ae, const char *raw)
{
    const char *name;
    const void *value;
    size_t size;
    archive_entry_xattr_reset(ae);
    while (archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK) {
        if (strncmp(name, "trusted.overlay.", 16) == 0 || strncmp(name, "user.overlay.", 13) == 0) {
            if (r->o->warn != NULL) {
                cleanup_free char *m =
                    xasprintf("layer entry \"%s\": overlay xattr %s dropped", raw, name);
                r->o->warn(r->o->warn_ctx, m);
            }
            continue;
        }
        r->x = xrealloc(r->x, (r->nx + 1) * sizeof(*r->x));
        r->x[r->nx].name = xstrdup(name);
        r->x[r->nx].value = xmalloc(size + 1);
        memcpy(r->x[r->nx].value, value, size);
        r->x[r->nx].len = size;
        r->nx++;
    }
}

static int classify(struct layer_reader *r, struct archive_entry *ae, const char *raw,
                    struct layer_entry *e, struct kiln_error **err)
{
    const char *base = strrchr(r->path.buf, '/');
    size_t dirlen = base ? (size_t)(base - r->path.buf) : 0;
    base = base ? base + 1 : r->path.buf;
    if (strncmp(base, LAYER_WHITEOUT_PREFIX, 4) == 0) {
        const char *victim = base + 4;
        if (strcmp(base, LAYER_WHITEOUT_OPAQUE) == 0) {
            e->kind = LK_OPAQUE;
            strbuf_setlen(&r->path, dirlen);
            return check_symlink_parents(r, raw, r->path.buf, 1, err);
        }
        if (victim[0] == '\0' || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0)
            return kiln_error_set(err, KILN_E_INVALID, "layer entry \"%s\": invalid whiteout", raw);
        cleanup_free char *v = xstrdup(victim);
        strbuf_setlen(&r->path, base - r->path.buf);
        strbuf_adds(&r->path, v);
        e->kind = LK_WHITEOUT;
        pathset_remove(r->symlinks, r->path.buf, r->path.len);
        return 0;
    }
    const char *hl = archive_entry_hardlink(ae);
    if (hl != NULL) {
        if (normalize(hl, raw, "hardlink target", &r->link, err) < 0)
            return -1;
        if (r->link.len == 0 || strcmp(r->link.buf, r->path.buf) == 0)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "layer entry \"%s\": hardlink to itself or the root", raw);
        if (check_symlink_parents(r, raw, r->link.buf, 0, err) < 0)
            return -1;
        e->kind = LK_HARDLINK;
        e->link = r->link.buf;
        pathset_remove(r->symlinks, r->path.buf, r->path.len);
        return 0;
    }
    switch (archive_entry_filetype(ae)) {
    case AE_IFREG:
        e->kind = LK_FILE;
        break;
    case AE_IFDIR:
        e->kind = LK_DIR;
        break;
    case AE_IFLNK: {
        const char *t = archive_entry_symlink(ae);
        if (t == NULL || t[0] == '\0')
            return kiln_error_set(err, KILN_E_INVALID, "layer entry \"%s\": empty symlink target",
                                  raw);
        e->kind = LK_SYMLINK;
        e->link = t;
        break;
    }
    case AE_IFCHR:
    case AE_IFBLK:
        if (!r->o->allow_devices)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "layer entry \"%s\": device node refused (device nodes are not "
                                  "allowed in this layer)",
                                  raw);
        e->kind = archive_entry_filetype(ae) == AE_IFCHR ? LK_CHR : LK_BLK;
        e->devmajor = archive_entry_rdevmajor(ae);
        e->devminor = archive_entry_rdevminor(ae);
        break;
    case AE_IFIFO:
        e->kind = LK_FIFO;
        break;
    default:
        return kiln_error_set(err, KILN_E_INVALID, "layer entry \"%s\": unsupported file type",
                              raw);
    }
    if (r->path.len == 0 && e->kind != LK_DIR)
        return kiln_error_set(err, KILN_E_INVALID,
                              "layer entry \"%s\": names the root but is not a directory", raw);
    if (e->kind == LK_SYMLINK)
        pathset_add(r->symlinks, r->path.buf, r->path.len);
    else
        pathset_remove(r->symlinks, r->path.buf, r->path.len);
    return 0;
}

int layer_reader_next(struct layer_reader *r, struct layer_entry *e, struct kiln_error **err)
{
    if (!r->is_open) {
        if (opened(r, err) < 0)
            return -1;
        r->is_open = 1;
    }
    struct archive_entry *ae;
    int rc = archive_read_next_header(r->a, &ae);
    if (rc == ARCHIVE_EOF)
        return 0;
    if (rc < ARCHIVE_WARN) {
        if (r->cb_err != NULL)
            return kiln_error_set(err, r->cb_err->code, "layer: %s", r->cb_err->msg);
        return kiln_error_set(err, KILN_E_INVALID, "layer: damaged or truncated tar: %s",
                              archive_error_string(r->a));
    }
    const char *raw = archive_entry_pathname(ae);
    if (raw == NULL)
        return kiln_error_set(err, KILN_E_INVALID, "layer: an entry has no name");
    memset(e, 0, sizeof(*e));
    free_x(r);
    if (normalize(raw, raw, "name", &r->path, err) < 0)
        return -1;
    if (check_symlink_parents(r, raw, r->path.buf, 0, err) < 0)
        return -1;
    if (classify(r, ae, raw, e, err) < 0)
        return -1;
    la_int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae);
    if (uid < 0 || gid < 0 || uid > 0xfffffffeLL || gid > 0xfffffffeLL)
        return kiln_error_set(err, KILN_E_INVALID, "layer entry \"%s\": owner out of range", raw);
    read_xattrs(r, ae, raw);
    e->path = r->path.buf;
    e->raw = raw;
    e->mode = archive_entry_perm(ae) & 07777;
    e->uid = (uid_t)uid;
    e->gid = (gid_t)gid;
    e->mtime = archive_entry_mtime(ae);
    e->size = e->kind == LK_FILE ? (uint64_t)archive_entry_size(ae) : 0;
    e->x = r->x;
    e->nx = r->nx;
    return 1;
}

ssize_t layer_reader_data(struct layer_reader *r, void *buf, size_t len, struct kiln_error **err)
{
    la_ssize_t n = archive_read_data(r->a, buf, len);
    if (n < 0) {
        if (r->cb_err != NULL)
            return kiln_error_set(err, r->cb_err->code, "layer: %s", r->cb_err->msg);
        return kiln_error_set(err, KILN_E_INVALID, "layer: damaged or truncated tar: %s",
                              archive_error_string(r->a));
    }
    return n;
}

int layer_reader_finish(struct layer_reader *r, struct digest *diffid, uint64_t *size,
                        struct kiln_error **err)
{
    const void *p;
    if (!r->is_open)
        return kiln_error_set(err, KILN_E_FAIL, "layer: finished before reading");
    while (!r->eof) {
        if (read_cb(r->a, r, &p) < 0)
            return kiln_error_set(err, r->cb_err ? r->cb_err->code : KILN_E_INVALID, "layer: %s",
                                  r->cb_err ? r->cb_err->msg : "read failed");
    }
    if (r->zero_run < 1024)
        return kiln_error_set(err, KILN_E_INVALID,
                              "layer: tar ends without its end-of-archive marker (truncated?)");
    struct digester *dg = r->dg;
    r->dg = NULL;
    struct digest tmp;
    digester_finish(dg, diffid ? diffid : &tmp);
    if (size)
        *size = r->total;
    return 0;
}

void layer_reader_free(struct layer_reader *r)
{
    if (r == NULL)
        return;
    archive_read_free(r->a);
    decompressor_free(r->dc);
    digester_free(r->dg);
    free(r->buf);
    kiln_error_free(r->cb_err);
    pathset_free(r->symlinks);
    strbuf_release(&r->path);
    strbuf_release(&r->link);
    free_x(r);
    free(r);
}
