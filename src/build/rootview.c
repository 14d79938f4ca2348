/* Overlay lookups done by hand, component by component: for each name the
 * topmost layer that has it decides; a directory merges with the same
 * directory in lower layers until an opaque one; a whiteout ends the search. */
#include "build/rootview.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/userns.h"
#include "util/strbuf.h"

#define MAX_SYMLINKS 40

struct rootview {
    int *fds;
    char **dirs;
    size_t n;
    struct id_map ids;
    bool has_ids;
};

void rootview_set_ids(struct rootview *rv, const struct id_map *map)
{
    rv->ids = *map;
    rv->has_ids = true;
}

int rootview_open(const char *const *dirs, size_t n, struct rootview **out, struct kiln_error **err)
{
    struct rootview *rv = xcalloc(1, sizeof(*rv));
    rv->fds = xcalloc(n ? n : 1, sizeof(int));
    rv->dirs = xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        rv->fds[i] = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rv->fds[i] < 0) {
            int e = errno;
            rv->n = i;
            rootview_free(rv);
            return kiln_error_errno(err, e, "open layer snapshot %s", dirs[i]);
        }
        rv->dirs[i] = xstrdup(dirs[i]);
        rv->n = i + 1;
    }
    *out = rv;
    return 0;
}

void rootview_free(struct rootview *rv)
{
    if (rv == NULL)
        return;
    for (size_t i = 0; i < rv->n; i++) {
        close(rv->fds[i]);
        free(rv->dirs[i]);
    }
    free(rv->fds);
    free(rv->dirs);
    free(rv);
}

void rootview_entry_release(struct rootview_entry *e)
{
    free(e->path);
    e->path = NULL;
}

int rootview_layer_fd(const struct rootview *rv, size_t layer)
{
    return rv->fds[layer];
}

static int is_whiteout(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static int is_opaque(struct rootview *rv, size_t layer, const char *rel)
{
    cleanup_free char *p = xasprintf("%s/%s", rv->dirs[layer], rel);
    char v[4];
    ssize_t n = lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v));
    if (n == 1 && v[0] == 'y')
        return 1;
    n = lgetxattr(p, "user.overlay.opaque", v, sizeof(v));
    return n == 1 && v[0] == 'y';
}

/* Finds rel (canonical, no symlinks to resolve) in the layers [from, to).
 * Returns 1 with st/layer set, 0 when absent. `lo` bounds the layers that
 * still show the parent directory (opaque dirs and non-dirs cut it). */
static int find_in(struct rootview *rv, const char *rel, size_t lo, size_t hi, struct stat *st,
                   size_t *layer)
{
    for (size_t i = lo; i < hi; i++) {
        if (fstatat(rv->fds[i], rel, st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (is_whiteout(st))
                return 0;
            if (rv->has_ids) {
                st->st_uid = (uid_t)id_map_inner(rv->ids.uid, rv->ids.n_uid, st->st_uid);
                st->st_gid = (gid_t)id_map_inner(rv->ids.gid, rv->ids.n_gid, st->st_gid);
            }
            *layer = i;
            return 1;
        }
    }
    return 0;
}

/* Splits path into components, applying "." and ".." (clamped at the root). */

int rootview_lookup(struct rootview *rv, const char *path, int follow, struct rootview_entry *out,
                    struct kiln_error **err)
{
    memset(out, 0, sizeof(*out));
    cleanup_strbuf struct strbuf todo = STRBUF_INIT; /* what is left to walk */
    cleanup_strbuf struct strbuf cur = STRBUF_INIT;  /* resolved so far */
    strbuf_init(&cur);
    strbuf_adds(&todo, path);
    int links = 0;
    /* Layers [0, hi) still show cur as a directory. */
    size_t hi = rv->n;
    const char *p = todo.buf;
    for (;;) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int last = 1;
        for (const char *q = p + len; *q != '\0'; q++)
            if (*q != '/') {
                last = 0;
                break;
            }
        size_t mark = cur.len;
        if (len == 1 && p[0] == '.') {
            p += len;
            continue;
        }
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            cleanup_free char *rest = xstrdup(p + len);
            path_push_clean(&cur, "..");
            /* Re-walk from the root: the parent's layer range is unknown here. */
            cleanup_free char *again = xasprintf("%s/%s", cur.buf, rest);
            strbuf_reset(&cur);
            strbuf_reset(&todo);
            strbuf_adds(&todo, again);
            p = todo.buf;
            hi = rv->n;
            continue;
        }
        if (cur.len > 0)
            strbuf_addc(&cur, '/');
        strbuf_add(&cur, p, len);
        p += len;
        struct stat st;
        size_t layer = 0;
        if (!find_in(rv, cur.buf, 0, hi, &st, &layer)) {
            /* absent: report the would-be path (rest appended as is) */
            path_push_clean(&cur, p);
            out->path = strbuf_detach(&cur);
            return 0;
        }
        if (S_ISLNK(st.st_mode) && (!last || follow)) {
            if (++links > MAX_SYMLINKS)
                return kiln_error_set(err, KILN_E_INVALID, "/%s: too many levels of symbolic links",
                                      cur.buf);
            char target[4096];
            ssize_t n = readlinkat(rv->fds[layer], cur.buf, target, sizeof(target) - 1);
            if (n < 0)
                return kiln_error_errno(err, errno, "readlink /%s", cur.buf);
            target[n] = '\0';
            strbuf_setlen(&cur, mark);
            cleanup_free char *rest = xstrdup(p);
            cleanup_free char *again = target[0] == '/'
                                           ? xasprintf("%s%s", target, rest)
                                           : xasprintf("%s/%s%s", cur.buf, target, rest);
            strbuf_reset(&cur);
            strbuf_reset(&todo);
            strbuf_adds(&todo, again);
            p = todo.buf;
            hi = rv->n;
            continue;
        }
        if (last) {
            out->st = st;
            out->layer = layer;
            out->path = strbuf_detach(&cur);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            path_push_clean(&cur, p);
            out->path = strbuf_detach(&cur);
            return 0; /* a file in the middle of the path: ENOTDIR, i.e. absent */
        }
        /* The directory merges down to the first opaque one or non-dir. */
        size_t j = layer;
        for (; j < hi; j++) {
            struct stat s2;
            if (j > layer) {
                if (fstatat(rv->fds[j], cur.buf, &s2, AT_SYMLINK_NOFOLLOW) < 0)
                    continue;
                if (!S_ISDIR(s2.st_mode)) /* whiteout or file: lower ones hidden */
                    break;
            }
            if (is_opaque(rv, j, cur.buf)) {
                j++;
                break;
            }
        }
        hi = j;
    }
    /* The root itself. */
    if (rv->n > 0 && fstat(rv->fds[0], &out->st) < 0)
        return kiln_error_errno(err, errno, "stat layer root");
    if (rv->n == 0) {
        memset(&out->st, 0, sizeof(out->st));
        out->st.st_mode = S_IFDIR | 0755;
    }
    out->layer = 0;
    out->path = strbuf_detach(&cur);
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rootview_list(struct rootview *rv, const char *dir, char ***names, size_t *n,
                  struct kiln_error **err)
{
    char **v = NULL;
    size_t nv = 0, cap = 0;
    char **hidden = NULL; /* whiteouts seen in upper layers */
    size_t nh = 0, caph = 0;
    const char *rel = dir[0] == '\0' ? "." : dir;
    for (size_t i = 0; i < rv->n; i++) {
        struct stat st;
        if (fstatat(rv->fds[i], rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (!S_ISDIR(st.st_mode))
            break;
        int fd = openat(rv->fds[i], rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            continue;
        DIR *d = fdopendir(fd);
        if (d == NULL) {
            close(fd);
            continue;
        }
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            int seen = 0;
            for (size_t k = 0; k < nh && !seen; k++)
                seen = strcmp(hidden[k], de->d_name) == 0;
            for (size_t k = 0; k < nv && !seen; k++)
                seen = strcmp(v[k], de->d_name) == 0;
            if (seen)
                continue;
            struct stat cst;
            if (fstatat(dirfd(d), de->d_name, &cst, AT_SYMLINK_NOFOLLOW) == 0 &&
                is_whiteout(&cst)) {
                if (nh == caph) {
                    caph = caph ? caph * 2 : 16;
                    hidden = xrealloc(hidden, caph * sizeof(char *));
                }
                hidden[nh++] = xstrdup(de->d_name);
                continue;
            }
            if (nv == cap) {
                cap = cap ? cap * 2 : 32;
                v = xrealloc(v, cap * sizeof(char *));
            }
            v[nv++] = xstrdup(de->d_name);
        }
        closedir(d);
        if (is_opaque(rv, i, rel))
            break;
    }
    rootview_names_free(hidden, nh);
    if (nv > 1)
        qsort(v, nv, sizeof(char *), cmp_str);
    (void)err;
    *names = v;
    *n = nv;
    return 0;
}

void rootview_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int rootview_read(struct rootview *rv, const char *path, size_t max, char **out, size_t *len,
                  struct kiln_error **err)
{
    struct rootview_entry e;
    int rc = rootview_lookup(rv, path, 1, &e, err);
    if (rc < 0)
        return -1;
    if (rc == 0 || !S_ISREG(e.st.st_mode)) {
        rootview_entry_release(&e);
        return kiln_error_set(err, KILN_E_NOTFOUND, "%s: no such file in the image", path);
    }
    rc = read_file_at(rv->fds[e.layer], e.path, max, out, len, err);
    rootview_entry_release(&e);
    return rc;
}
