/* layer_write_from_dir: one pass over a directory tree into a deterministic
 * tar. The walk collects names and lstat data, sorts them bytewise, pairs up
 * hardlinks, then streams headers and file bytes straight into the tar
 * writer's buffer (hashed on the way), so there is no temporary copy. */
#include "store/layer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "store/layer_tar.h"
#include "util/cleanup.h"
#include "util/strbuf.h"
#include "util/userns.h"

struct wentry {
    char *name; /* tar name; directories end in '/' */
    struct stat st;
    int whiteout;        /* overlay whiteout turned into ".wh.NAME" */
    int opaque_marker;   /* the ".wh..wh..opq" entry of an opaque dir */
    size_t link_to;      /* index of the entry this one hardlinks to, or SIZE_MAX */
    struct tar_xattr *x; /* read during the walk for non-regular files */
    size_t nx;
};

struct walk {
    const struct layer_write_opts *o;
    int rootfd;
    struct wentry *e;
    size_t n, cap;
};

static void free_xattrs(struct tar_xattr *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(x[i].name);
        free(x[i].value);
    }
    free(x);
}

static int is_overlay_xattr(const char *name)
{
    return strncmp(name, "trusted.overlay.", 16) == 0 || strncmp(name, "user.overlay.", 13) == 0;
}

static int cmp_xattr(const void *a, const void *b)
{
    return strcmp(((const struct tar_xattr *)a)->name, ((const struct tar_xattr *)b)->name);
}

/* Reads the xattrs of fd, or of path (not followed) when fd < 0. */
static int read_xattrs(int fd, const char *path, int skip_overlay, struct tar_xattr **out,
                       size_t *nout, struct kiln_error **err)
{
    *out = NULL;
    *nout = 0;
    char list[8192];
    ssize_t n = fd >= 0 ? flistxattr(fd, list, sizeof(list)) : llistxattr(path, list, sizeof(list));
    if (n < 0) {
        if (errno == ENOTSUP || errno == EPERM)
            return 0;
        return kiln_error_errno(err, errno, "list xattrs");
    }
    struct tar_xattr *x = NULL;
    size_t nx = 0;
    for (char *p = list; p < list + n; p += strlen(p) + 1) {
        if (strcmp(p, "security.selinux") == 0 || (skip_overlay && is_overlay_xattr(p)))
            continue;
        char val[65536];
        ssize_t vl =
            fd >= 0 ? fgetxattr(fd, p, val, sizeof(val)) : lgetxattr(path, p, val, sizeof(val));
        if (vl < 0) {
            if (errno == ENODATA)
                continue;
            free_xattrs(x, nx);
            return kiln_error_errno(err, errno, "read xattr %s", p);
        }
        x = xrealloc(x, (nx + 1) * sizeof(*x));
        x[nx].name = xstrdup(p);
        x[nx].value = xmalloc((size_t)vl + 1);
        memcpy(x[nx].value, val, (size_t)vl);
        x[nx].len = (size_t)vl;
        nx++;
    }
    if (nx > 1)
        qsort(x, nx, sizeof(*x), cmp_xattr);
    *out = x;
    *nout = nx;
    return 0;
}

static struct wentry *push(struct walk *w, char *name, const struct stat *st)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 1024;
        w->e = xrealloc(w->e, w->cap * sizeof(*w->e));
    }
    struct wentry *e = &w->e[w->n++];
    memset(e, 0, sizeof(*e));
    e->name = name;
    e->st = *st;
    e->link_to = SIZE_MAX;
    return e;
}

static int is_opaque(int dfd)
{
    char v[4];
    ssize_t n = fgetxattr(dfd, "trusted.overlay.opaque", v, sizeof(v));
    if (n < 0)
        n = fgetxattr(dfd, "user.overlay.opaque", v, sizeof(v));
    return n == 1 && v[0] == 'y';
}

static int walk_dir(struct walk *w, int dfd, const char *prefix, struct kiln_error **err)
{
    int dupfd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    if (dupfd < 0)
        return kiln_error_errno(err, errno, "layer: %s: dup", prefix[0] ? prefix : ".");
    cleanup_dir DIR *d = fdopendir(dupfd);
    if (d == NULL) {
        close(dupfd);
        return kiln_error_errno(err, errno, "layer: %s: opendir", prefix[0] ? prefix : ".");
    }
    struct dirent *de;
    while ((errno = 0, de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) < 0)
            return kiln_error_errno(err, errno, "layer: %s%s: stat", prefix, nm);
        if (S_ISSOCK(st.st_mode))
            continue;
        cleanup_free char *rel = xasprintf("%s%s", prefix, nm);
        if (w->o->filter != NULL) {
            int keep = w->o->filter(w->o->filter_ctx, rel, &st, err);
            if (keep < 0)
                return -1;
            if (keep == 0)
                continue;
        }
        if (w->o->overlay_whiteouts && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
            struct wentry *e = push(w, xasprintf("%s.wh.%s", prefix, nm), &st);
            e->whiteout = 1;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            struct wentry *e = push(w, steal_pointer(&rel), &st);
            if (!S_ISREG(st.st_mode)) {
                char procpath[64];
                snprintf(procpath, sizeof(procpath), "/proc/self/fd/%d/", dfd);
                cleanup_free char *p = xasprintf("%s%s", procpath, nm);
                if (read_xattrs(-1, p, w->o->overlay_whiteouts, &e->x, &e->nx, err) < 0)
                    return kiln_error_prefix(err, "layer: %s", e->name);
            }
            continue;
        }
        cleanup_close int sub = openat(dfd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            return kiln_error_errno(err, errno, "layer: %s: open directory", rel);
        size_t idx = w->n;
        push(w, xasprintf("%s/", rel), &st);
        if (read_xattrs(sub, NULL, w->o->overlay_whiteouts, &w->e[idx].x, &w->e[idx].nx, err) < 0)
            return kiln_error_prefix(err, "layer: %s", rel);
        if (w->o->overlay_whiteouts && is_opaque(sub)) {
            struct stat ost = st;
            ost.st_mode = S_IFREG;
            ost.st_size = 0;
            ost.st_nlink = 1;
            struct wentry *e = push(w, xasprintf("%s/%s", rel, LAYER_WHITEOUT_OPAQUE), &ost);
            e->opaque_marker = 1;
        }
        cleanup_free char *sub_prefix = xasprintf("%s/", rel);
        if (walk_dir(w, sub, sub_prefix, err) < 0)
            return -1;
    }
    if (errno != 0)
        return kiln_error_errno(err, errno, "layer: %s: readdir", prefix[0] ? prefix : ".");
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const struct wentry *)a)->name, ((const struct wentry *)b)->name);
}

static int cmp_inode(const void *a, const void *b, void *ctx)
{
    const struct wentry *base = ctx;
    const struct wentry *x = &base[*(const size_t *)a], *y = &base[*(const size_t *)b];
    if (x->st.st_dev != y->st.st_dev)
        return x->st.st_dev < y->st.st_dev ? -1 : 1;
    if (x->st.st_ino != y->st.st_ino)
        return x->st.st_ino < y->st.st_ino ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Every non-directory sharing a (dev, ino) with an earlier one (in name
 * order) becomes a hardlink to the first. */
static void pair_hardlinks(struct walk *w)
{
    size_t *idx = xmalloc((w->n + 1) * sizeof(*idx));
    size_t k = 0;
    for (size_t i = 0; i < w->n; i++) {
        struct wentry *e = &w->e[i];
        if (!S_ISDIR(e->st.st_mode) && !e->whiteout && !e->opaque_marker && e->st.st_nlink > 1)
            idx[k++] = i;
    }
    qsort_r(idx, k, sizeof(*idx), cmp_inode, w->e);
    for (size_t i = 1; i < k; i++) {
        struct wentry *a = &w->e[idx[i - 1]], *b = &w->e[idx[i]];
        if (a->st.st_dev == b->st.st_dev && a->st.st_ino == b->st.st_ino)
            b->link_to = a->link_to != SIZE_MAX ? a->link_to : idx[i - 1];
    }
    free(idx);
}

static int open_beneath(int rootfd, const char *path)
{
    struct open_how how = {
        .flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
    if (fd < 0 && errno == ENOSYS)
        fd = openat(rootfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    return (int)fd;
}

static int write_file_data(struct tar_writer *tw, int fd, const struct wentry *e,
                           struct kiln_error **err)
{
    uint64_t left = (uint64_t)e->st.st_size;
    while (left > 0) {
        size_t room = left > (1u << 20) ? (1u << 20) : (size_t)left;
        void *p = tar_data_buffer(tw, &room, err);
        if (p == NULL)
            return -1;
        ssize_t n = read(fd, p, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kiln_error_errno(err, errno, "layer: %s: read", e->name);
        if (n == 0)
            return kiln_error_set(err, KILN_E_FAIL,
                                  "layer: %s: file shrank while being read; retry when the "
                                  "directory is not changing",
                                  e->name);
        tar_data_commit(tw, (size_t)n, err);
        left -= (uint64_t)n;
    }
    return tar_data_end(tw, (uint64_t)e->st.st_size, err);
}

static int emit(struct walk *w, struct tar_writer *tw, struct wentry *e, struct kiln_error **err)
{
    const struct stat *st = &e->st;
    int64_t mtime = st->st_mtim.tv_sec;
    if (w->o->epoch >= 0 && mtime > w->o->epoch)
        mtime = w->o->epoch;
    struct tar_header h = {
        .name = e->name,
        .mode = st->st_mode & 07777,
        .uid = w->o->ids ? id_map_inner(w->o->ids->uid, w->o->ids->n_uid, st->st_uid) : st->st_uid,
        .gid = w->o->ids ? id_map_inner(w->o->ids->gid, w->o->ids->n_gid, st->st_gid) : st->st_gid,
        .mtime = mtime,
        .xattrs = e->x,
        .n_xattrs = e->nx,
    };
    cleanup_free char *target = NULL;
    cleanup_close int fd = -1;
    if (e->whiteout || e->opaque_marker) {
        h.type = '0';
        h.mode = 0;
        h.uid = h.gid = 0;
        h.xattrs = NULL;
        h.n_xattrs = 0;
        return tar_write_header(tw, &h, err);
    }
    if (e->link_to != SIZE_MAX) {
        h.type = '1';
        h.linkname = w->e[e->link_to].name;
        return tar_write_header(tw, &h, err);
    }
    switch (st->st_mode & S_IFMT) {
    case S_IFDIR:
        h.type = '5';
        return tar_write_header(tw, &h, err);
    case S_IFLNK: {
        size_t cap = (size_t)st->st_size + 1 > 256 ? (size_t)st->st_size + 1 : 256;
        target = xmalloc(cap + 1);
        ssize_t n = readlinkat(w->rootfd, e->name, target, cap);
        if (n < 0)
            return kiln_error_errno(err, errno, "layer: %s: readlink", e->name);
        if ((size_t)n >= cap)
            return kiln_error_set(err, KILN_E_FAIL, "layer: %s: symlink changed while read",
                                  e->name);
        target[n] = '\0';
        h.type = '2';
        h.linkname = target;
        return tar_write_header(tw, &h, err);
    }
    case S_IFCHR:
    case S_IFBLK:
        h.type = S_ISCHR(st->st_mode) ? '3' : '4';
        h.devmajor = major(st->st_rdev);
        h.devminor = minor(st->st_rdev);
        return tar_write_header(tw, &h, err);
    case S_IFIFO:
        h.type = '6';
        return tar_write_header(tw, &h, err);
    case S_IFREG:
        break;
    default:
        return 0;
    }
    fd = open_beneath(w->rootfd, e->name);
    if (fd < 0)
        return kiln_error_errno(err, errno, "layer: %s: open", e->name);
    struct stat now;
    if (fstat(fd, &now) < 0 || now.st_ino != st->st_ino || now.st_dev != st->st_dev)
        return kiln_error_set(err, KILN_E_FAIL,
                              "layer: %s: replaced while the layer was written; retry", e->name);
    if (read_xattrs(fd, NULL, w->o->overlay_whiteouts, &e->x, &e->nx, err) < 0)
        return kiln_error_prefix(err, "layer: %s", e->name);
    h.xattrs = e->x;
    h.n_xattrs = e->nx;
    h.type = '0';
    h.size = (uint64_t)st->st_size;
    if (tar_write_header(tw, &h, err) < 0)
        return -1;
    return write_file_data(tw, fd, e, err);
}

int layer_write_from_dir(int dirfd, const struct layer_write_opts *o, struct byte_sink out,
                         struct digest *diffid, uint64_t *size, struct kiln_error **err)
{
    static const struct layer_write_opts defaults = {.epoch = -1};
    struct walk w = {.o = o ? o : &defaults, .rootfd = dirfd};
    struct tar_writer *tw = NULL;
    int rc = -1;
    if (walk_dir(&w, dirfd, "", err) < 0)
        goto out;
    if (w.n > 1) /* qsort wants a non-NULL array even for none */
        qsort(w.e, w.n, sizeof(*w.e), cmp_name);
    pair_hardlinks(&w);
    tw = tar_writer_new(out);
    for (size_t i = 0; i < w.n; i++)
        if (emit(&w, tw, &w.e[i], err) < 0)
            goto out;
    rc = tar_writer_finish(tw, diffid, size, err);
out:
    tar_writer_free(tw);
    for (size_t i = 0; i < w.n; i++) {
        free(w.e[i].name);
        free_xattrs(w.e[i].x, w.e[i].nx);
    }
    free(w.e);
    return rc;
}
