/* layer_extract and layer_check. layer_read.c has already judged each name;
 * here every path is opened relative to the root fd with openat2
 * RESOLVE_IN_ROOT (symlinks already in the tree resolve inside the root), the
 * final component is never followed, and whiteouts are applied or turned
 * into overlayfs whiteouts. */
#include "store/layer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "store/layer_pathset.h"
#include "store/layer_read.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

struct dir_time {
    char *path;
    int64_t mtime;
};

struct extractor {
    const struct layer_extract_opts *o;
    int root;
    struct pathset *created; /* FLATTEN: what this layer put in place */
    char *cached_path;       /* parent directory cache */
    int cached_fd;
    struct dir_time *dt;
    size_t ndt, capdt;
    char *reuse_path; /* reuse tree directory cache */
    int reuse_fd;
};

static void invalidate(struct extractor *x)
{
    free(x->cached_path);
    x->cached_path = NULL;
    if (x->cached_fd >= 0)
        close(x->cached_fd);
    x->cached_fd = -1;
}

static int open_in_root(int root, const char *path, int flags)
{
    if (path[0] == '\0')
        return fcntl(root, F_DUPFD_CLOEXEC, 0);
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, root, path, &how, sizeof(how));
    if (fd >= 0 || errno != ENOSYS)
        return (int)fd;
    /* No openat2: walk without following any symlink; a symlink in the
     * middle of a path is refused (ELOOP/ENOTDIR) rather than resolved. */
    cleanup_close int cur = fcntl(root, F_DUPFD_CLOEXEC, 0);
    cleanup_free char *copy = xstrdup(path);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save)) {
        int last = save == NULL || *save == '\0';
        int next = openat(cur, c, (last ? flags : O_PATH | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0)
            return -1;
        close(cur);
        cur = next;
    }
    return steal_fd(&cur);
}

/* The directory at path, created (0755, root-owned) where missing. */
static int parent_fd(struct extractor *x, const char *raw, const char *path, int create,
                     struct kiln_error **err)
{
    if (x->cached_path != NULL && strcmp(x->cached_path, path) == 0)
        return x->cached_fd;
    int fd = open_in_root(x->root, path, O_PATH | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT && create) {
        const char *slash = strrchr(path, '/');
        cleanup_free char *up = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup("");
        if (parent_fd(x, raw, up, 1, err) < 0)
            return -1;
        if (mkdirat(x->cached_fd, slash ? slash + 1 : path, 0755) < 0 && errno != EEXIST)
            return kiln_error_errno(err, errno, "layer entry \"%s\": create directory %s", raw,
                                    path);
        fd = open_in_root(x->root, path, O_PATH | O_DIRECTORY);
    }
    if (fd < 0) {
        if (errno == ENOENT && !create)
            return -2;
        return kiln_error_errno(err, errno, "layer entry \"%s\": open directory \"%s\"", raw,
                                path[0] ? path : ".");
    }
    invalidate(x);
    x->cached_path = xstrdup(path);
    x->cached_fd = fd;
    return fd;
}

/* Makes room for a new entry at pfd/name: an existing directory stays when
 * the new entry is one too (returns 1); anything else is removed. */
static int make_room(struct extractor *x, int pfd, const char *name, int new_is_dir,
                     const char *raw, struct kiln_error **err)
{
    struct stat st;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return kiln_error_errno(err, errno, "layer entry \"%s\": stat", raw);
    }
    if (S_ISDIR(st.st_mode) && new_is_dir)
        return 1;
    if (S_ISDIR(st.st_mode)) {
        cleanup_close int keep = fcntl(pfd, F_DUPFD_CLOEXEC, 0);
        invalidate(x);
        if (rm_rf_at(keep, name, err) < 0)
            return kiln_error_prefix(err, "layer entry \"%s\"", raw);
        return 0;
    }
    if (unlinkat(pfd, name, 0) < 0)
        return kiln_error_errno(err, errno, "layer entry \"%s\": replace", raw);
    return 0;
}

static void warn(struct extractor *x, const char *raw, const char *what, int e)
{
    if (x->o->warn == NULL)
        return;
    cleanup_free char *m = xasprintf("layer entry \"%s\": %s: %s", raw, what, strerror(e));
    x->o->warn(x->o->warn_ctx, m);
}

/* Owner, mode, xattrs, mtime. fd is an open file/dir, or -1 to work by
 * pfd/name without following a symlink there. */
static int set_meta(struct extractor *x, int fd, int pfd, const char *name,
                    const struct layer_entry *e, int set_mode, int set_time,
                    struct kiln_error **err)
{
    if (!x->o->skip_owners) {
        int rc = fd >= 0 ? fchown(fd, e->uid, e->gid)
                         : fchownat(pfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW);
        if (rc < 0)
            return kiln_error_errno(err, errno, "layer entry \"%s\": chown", e->raw);
    }
    if (set_mode) {
        int rc = fd >= 0 ? fchmod(fd, e->mode) : fchmodat(pfd, name, e->mode, 0);
        if (rc < 0)
            return kiln_error_errno(err, errno, "layer entry \"%s\": chmod", e->raw);
    }
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d/", pfd);
    cleanup_free char *lpath = fd >= 0 ? NULL : xasprintf("%s%s", proc, name);
    for (size_t i = 0; i < e->nx; i++) {
        int rc = fd >= 0 ? fsetxattr(fd, e->x[i].name, e->x[i].value, e->x[i].len, 0)
                         : lsetxattr(lpath, e->x[i].name, e->x[i].value, e->x[i].len, 0);
        if (rc < 0)
            warn(x, e->raw, e->x[i].name, errno);
    }
    if (set_time) {
        struct timespec ts[2] = {{e->mtime, 0}, {e->mtime, 0}};
        int rc = fd >= 0 ? futimens(fd, ts) : utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
        if (rc < 0)
            return kiln_error_errno(err, errno, "layer entry \"%s\": set mtime", e->raw);
    }
    return 0;
}

/* The directory dir of the reuse tree (O_PATH), through a one-entry cache
 * like parent_fd's; -1 when it has none. */
static int reuse_parent(struct extractor *x, const char *dir)
{
    if (x->reuse_path != NULL && strcmp(x->reuse_path, dir) == 0)
        return x->reuse_fd;
    if (x->reuse_fd >= 0)
        close(x->reuse_fd);
    free(x->reuse_path);
    x->reuse_path = xstrdup(dir);
    x->reuse_fd = open_in_root(x->o->reuse_dirfd, dir, O_PATH | O_DIRECTORY);
    return x->reuse_fd;
}

/* The file of the reuse tree at e's path when it can stand for e (same
 * size, mode, owner, mtime, no xattrs), open for reading; else -1. *rp is
 * its directory. Reuse trees are snapshots: nothing changes them, so what
 * fstatat saw is what is opened. */
static int reuse_candidate(struct extractor *x, const char *dir, const char *name,
                           const struct layer_entry *e, int *rp)
{
    if (!x->o->reuse || e->nx > 0)
        return -1;
    *rp = reuse_parent(x, dir);
    struct stat st;
    if (*rp < 0 || fstatat(*rp, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size != e->size || (st.st_mode & 07777) != (e->mode & 07777) ||
        st.st_mtim.tv_sec != e->mtime || st.st_mtim.tv_nsec != 0 ||
        (!x->o->skip_owners && (st.st_uid != e->uid || st.st_gid != e->gid)))
        return -1;
    int fd = openat(*rp, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    char list[16];
    if (fd >= 0 && flistxattr(fd, list, sizeof(list)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Copies the first len bytes of in to out. */
static int copy_prefix(int in, int out, uint64_t len, const char *raw, struct kiln_error **err)
{
    char buf[1 << 16];
    uint64_t off = 0;
    while (off < len) {
        size_t want = len - off < sizeof(buf) ? (size_t)(len - off) : sizeof(buf);
        ssize_t n = pread(in, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return kiln_error_errno(err, n < 0 ? errno : EIO, "layer entry \"%s\": copy", raw);
        if (write_all(out, buf, (size_t)n) < 0)
            return kiln_error_errno(err, errno, "layer entry \"%s\": write", raw);
        off += (uint64_t)n;
    }
    return 0;
}

/* A new regular file at dir/name, making room when something is there
 * already (an archive may name a path twice): tried first, since in a fresh
 * tree the name is almost always free. */
static int create_file(struct extractor *x, const char *dir, const char *name,
                       const struct layer_entry *e, int *pfd, struct kiln_error **err)
{
    int fd = openat(*pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        if (make_room(x, *pfd, name, 0, e->raw, err) < 0)
            return -1;
        if ((*pfd = parent_fd(x, e->raw, dir, 1, err)) < 0)
            return -1;
        fd = openat(*pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (fd < 0)
        return kiln_error_errno(err, errno, "layer entry \"%s\": create", e->raw);
    return fd;
}

/* Links the reuse tree's rp/name at dir/name; 0, or -1 (errno set). */
static int link_same(struct extractor *x, int rp, const char *dir, const char *name,
                     const struct layer_entry *e, int *pfd, struct kiln_error **err)
{
    if (linkat(rp, name, *pfd, name, 0) == 0)
        return 0;
    if (errno != EEXIST)
        return -1;
    if (make_room(x, *pfd, name, 0, e->raw, err) < 0 ||
        (*pfd = parent_fd(x, e->raw, dir, 1, err)) < 0) {
        kiln_error_freep(err);
        errno = EIO;
        return -1;
    }
    return linkat(rp, name, *pfd, name, 0);
}

static ssize_t read_data(struct layer_reader *r, char *buf, size_t len, const char *raw,
                         struct kiln_error **err)
{
    ssize_t n = layer_reader_data(r, buf, len, err);
    if (n < 0)
        kiln_error_prefix(err, "entry \"%s\"", raw);
    return n;
}

static int write_file(struct extractor *x, struct layer_reader *r, const char *dir,
                      const char *name, const struct layer_entry *e, int pfd,
                      struct kiln_error **err)
{
    static const size_t bufsz = 1 << 17;
    cleanup_free char *buf = xmalloc(bufsz);
    int rp = -1;
    cleanup_close int same = reuse_candidate(x, dir, name, e, &rp);
    ssize_t pending = 0; /* bytes in buf read from the archive, not yet written */
    uint64_t off = 0;    /* bytes found equal in the candidate */
    if (same >= 0) {
        /* Compare the archive's bytes with the candidate's as they come. */
        cleanup_free char *cmp = xmalloc(bufsz);
        for (;;) {
            ssize_t n = read_data(r, buf, bufsz, e->raw, err);
            if (n < 0)
                return -1;
            if (n == 0)
                break;
            ssize_t m = pread(same, cmp, (size_t)n, (off_t)off);
            if (m != n || memcmp(buf, cmp, (size_t)n) != 0) {
                pending = n;
                break;
            }
            off += (uint64_t)n;
        }
        if (pending == 0 && link_same(x, rp, dir, name, e, &pfd, err) == 0)
            return 0;
        /* Not the same (or no link): a new file, starting with the bytes
         * that were the same. */
    }
    cleanup_close int fd = create_file(x, dir, name, e, &pfd, err);
    if (fd < 0)
        return -1;
    if (same >= 0 && copy_prefix(same, fd, off, e->raw, err) < 0)
        return -1;
    /* the bytes already read first, then the rest of the entry */
    for (ssize_t n = pending;;) {
        if (n > 0 && write_all(fd, buf, (size_t)n) < 0)
            return kiln_error_errno(err, errno, "layer entry \"%s\": write", e->raw);
        if ((n = read_data(r, buf, bufsz, e->raw, err)) < 0)
            return -1;
        if (n == 0)
            break;
    }
    return set_meta(x, fd, pfd, name, e, 1, 1, err);
}

static void split(const char *path, char **dir, const char **base)
{
    const char *slash = strrchr(path, '/');
    *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup("");
    *base = slash ? slash + 1 : path;
}

static void defer_dir_time(struct extractor *x, const struct layer_entry *e)
{
    if (x->ndt == x->capdt) {
        x->capdt = x->capdt ? 2 * x->capdt : 64;
        x->dt = xrealloc(x->dt, x->capdt * sizeof(*x->dt));
    }
    x->dt[x->ndt].path = xstrdup(e->path);
    x->dt[x->ndt].mtime = e->mtime;
    x->ndt++;
}

static int make_dir(struct extractor *x, int pfd, const char *name, const struct layer_entry *e,
                    struct kiln_error **err)
{
    cleanup_close int dfd = -1;
    if (e->path[0] == '\0') {
        dfd = fcntl(x->root, F_DUPFD_CLOEXEC, 0);
    } else {
        int exists = make_room(x, pfd, name, 1, e->raw, err);
        if (exists < 0)
            return -1;
        if (!exists && mkdirat(pfd, name, 0700) < 0)
            return kiln_error_errno(err, errno, "layer entry \"%s\": mkdir", e->raw);
        dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (dfd < 0)
        return kiln_error_errno(err, errno, "layer entry \"%s\": open directory", e->raw);
    if (set_meta(x, dfd, pfd, name, e, 1, 0, err) < 0)
        return -1;
    defer_dir_time(x, e);
    return 0;
}

static int make_hardlink(struct extractor *x, const char *dir, const char *name,
                         const struct layer_entry *e, struct kiln_error **err)
{
    cleanup_free char *tdir = NULL;
    const char *tname;
    split(e->link, &tdir, &tname);
    int t = parent_fd(x, e->raw, tdir, 0, err);
    if (t == -1)
        return -1;
    struct stat st;
    if (t == -2 || fstatat(t, tname, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "layer entry \"%s\": hardlink target \"%s\" is not in the layer",
                              e->raw, e->link);
    if (S_ISDIR(st.st_mode))
        return kiln_error_set(err, KILN_E_INVALID,
                              "layer entry \"%s\": hardlink to directory \"%s\" refused", e->raw,
                              e->link);
    cleanup_close int tfd = fcntl(t, F_DUPFD_CLOEXEC, 0);
    int pfd = parent_fd(x, e->raw, dir, 1, err);
    if (pfd < 0 || make_room(x, pfd, name, 0, e->raw, err) < 0)
        return -1;
    pfd = parent_fd(x, e->raw, dir, 1, err);
    if (pfd < 0)
        return -1;
    if (linkat(tfd, tname, pfd, name, 0) < 0)
        return kiln_error_errno(err, errno, "layer entry \"%s\": link to \"%s\"", e->raw, e->link);
    return 0;
}

/* FLATTEN opaque: remove what earlier layers left under dir (recursively
 * sparing what this layer created). */
static int clear_opaque(struct extractor *x, int dfd, const char *path, struct kiln_error **err)
{
    int dupfd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dupfd < 0 ? NULL : fdopendir(dupfd);
    if (d == NULL) {
        if (dupfd >= 0)
            close(dupfd);
        return kiln_error_errno(err, errno, "layer: opaque directory %s", path);
    }
    cleanup_dir DIR *dd = d;
    struct dirent *de;
    while ((de = readdir(dd)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        cleanup_free char *child =
            path[0] ? xasprintf("%s/%s", path, de->d_name) : xstrdup(de->d_name);
        if (!pathset_has(x->created, child, strlen(child))) {
            if (rm_rf_at(dfd, de->d_name, err) < 0)
                return -1;
            continue;
        }
        cleanup_close int sub =
            openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0 && clear_opaque(x, sub, child, err) < 0)
            return -1;
    }
    return 0;
}

static int whiteout(struct extractor *x, const char *dir, const char *name,
                    const struct layer_entry *e, struct kiln_error **err)
{
    int pfd = parent_fd(x, e->raw, dir, x->o->whiteouts == LAYER_WHITEOUT_OVERLAY, err);
    if (pfd == -2)
        return 0; /* nothing to delete */
    if (pfd < 0)
        return -1;
    if (x->o->whiteouts == LAYER_WHITEOUT_FLATTEN) {
        cleanup_close int keep = fcntl(pfd, F_DUPFD_CLOEXEC, 0);
        invalidate(x);
        pathset_remove(x->created, e->path, strlen(e->path));
        if (rm_rf_at(keep, name, err) < 0)
            return kiln_error_prefix(err, "layer entry \"%s\"", e->raw);
        return 0;
    }
    if (make_room(x, pfd, name, 0, e->raw, err) < 0)
        return -1;
    pfd = parent_fd(x, e->raw, dir, 1, err);
    if (pfd < 0)
        return -1;
    if (mknodat(pfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
        return kiln_error_errno(err, errno, "layer entry \"%s\": create overlay whiteout", e->raw);
    return 0;
}

static int opaque(struct extractor *x, const struct layer_entry *e, struct kiln_error **err)
{
    if (parent_fd(x, e->raw, e->path, 1, err) < 0)
        return -1;
    cleanup_close int dfd = open_in_root(x->root, e->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (dfd < 0)
        return kiln_error_errno(err, errno, "layer entry \"%s\": open", e->raw);
    if (x->o->whiteouts == LAYER_WHITEOUT_FLATTEN) {
        invalidate(x);
        return clear_opaque(x, dfd, e->path, err);
    }
    const char *name = x->o->user_xattrs ? "user.overlay.opaque" : "trusted.overlay.opaque";
    if (fsetxattr(dfd, name, "y", 1, 0) < 0)
        return kiln_error_errno(err, errno, "layer entry \"%s\": mark directory opaque", e->raw);
    return 0;
}

static int apply(struct extractor *x, struct layer_reader *r, const struct layer_entry *e,
                 struct kiln_error **err)
{
    cleanup_free char *dir = NULL;
    const char *name;
    split(e->path, &dir, &name);
    if (e->kind == LK_WHITEOUT)
        return whiteout(x, dir, name, e, err);
    if (e->kind == LK_OPAQUE)
        return opaque(x, e, err);
    if (x->o->whiteouts == LAYER_WHITEOUT_FLATTEN)
        pathset_add(x->created, e->path, strlen(e->path));
    if (e->kind == LK_HARDLINK)
        return make_hardlink(x, dir, name, e, err);
    int pfd = e->path[0] ? parent_fd(x, e->raw, dir, 1, err) : x->root;
    if (pfd < 0)
        return -1;
    if (e->kind == LK_DIR)
        return make_dir(x, pfd, name, e, err);
    if (e->kind == LK_FILE) /* makes room itself, only when needed */
        return write_file(x, r, dir, name, e, pfd, err);
    if (make_room(x, pfd, name, 0, e->raw, err) < 0)
        return -1;
    pfd = parent_fd(x, e->raw, dir, 1, err); /* make_room may have dropped the cache */
    if (pfd < 0)
        return -1;
    switch (e->kind) {
    case LK_SYMLINK:
        if (symlinkat(e->link, pfd, name) < 0)
            return kiln_error_errno(err, errno, "layer entry \"%s\": symlink", e->raw);
        return set_meta(x, -1, pfd, name, e, 0, 1, err);
    case LK_CHR:
    case LK_BLK:
    case LK_FIFO: {
        mode_t t = e->kind == LK_CHR ? S_IFCHR : e->kind == LK_BLK ? S_IFBLK : S_IFIFO;
        if (mknodat(pfd, name, t | 0600, makedev(e->devmajor, e->devminor)) < 0)
            return kiln_error_errno(err, errno, "layer entry \"%s\": mknod", e->raw);
        return set_meta(x, -1, pfd, name, e, 1, 1, err);
    }
    default:
        return kiln_error_set(err, KILN_E_FAIL, "layer entry \"%s\": unexpected kind", e->raw);
    }
}

/* Directory mtimes last: creating children changed them. Deepest first. */
static int finish_dir_times(struct extractor *x, struct kiln_error **err)
{
    for (size_t i = x->ndt; i-- > 0;) {
        cleanup_close int fd =
            open_in_root(x->root, x->dt[i].path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (fd < 0) {
            if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
                continue; /* removed or replaced later in the layer */
            return kiln_error_errno(err, errno, "layer: %s: open to set mtime", x->dt[i].path);
        }
        struct timespec ts[2] = {{x->dt[i].mtime, 0}, {x->dt[i].mtime, 0}};
        if (futimens(fd, ts) < 0)
            return kiln_error_errno(err, errno, "layer: %s: set mtime", x->dt[i].path);
    }
    return 0;
}

int layer_extract(int tar_fd, int root_dirfd, const struct layer_extract_opts *opts,
                  struct digest *diffid_out, struct kiln_error **err)
{
    static const struct layer_extract_opts defaults = {0};
    struct extractor x = {
        .o = opts ? opts : &defaults, .root = root_dirfd, .cached_fd = -1, .reuse_fd = -1};
    x.created = pathset_new();
    struct layer_reader *r = layer_reader_open(tar_fd, x.o);
    struct layer_entry e;
    int rc = -1, n;
    while ((n = layer_reader_next(r, &e, err)) > 0)
        if (apply(&x, r, &e, err) < 0)
            goto out;
    if (n < 0)
        goto out;
    invalidate(&x);
    if (finish_dir_times(&x, err) < 0 || layer_reader_finish(r, diffid_out, NULL, err) < 0)
        goto out;
    rc = 0;
out:
    invalidate(&x);
    if (x.reuse_fd >= 0)
        close(x.reuse_fd);
    free(x.reuse_path);
    for (size_t i = 0; i < x.ndt; i++)
        free(x.dt[i].path);
    free(x.dt);
    pathset_free(x.created);
    layer_reader_free(r);
    return rc;
}

int layer_check(int tar_fd, const struct layer_extract_opts *opts, struct digest *diffid,
                uint64_t *size, struct kiln_error **err)
{
    static const struct layer_extract_opts defaults = {0};
    struct layer_reader *r = layer_reader_open(tar_fd, opts ? opts : &defaults);
    struct layer_entry e;
    int n;
    while ((n = layer_reader_next(r, &e, err)) > 0)
        ;
    int rc = n < 0 ? -1 : layer_reader_finish(r, diffid, size, err);
    layer_reader_free(r);
    return rc;
}
