/* A new named volume gets the image's content at its mount path (Docker's
 * behaviour): the image's layers (overlayfs lower dirs, whiteouts as 0/0
 * character devices, opaque directories marked by trusted.overlay.opaque)
 * merged bottom to top into the volume's directory, owners, modes and
 * symlinks kept. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "compose/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static int is_whiteout(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static int is_opaque(const char *dir)
{
    char v[2];
    /* user.* in a rootless store (snapshots for an overlay mounted userxattr) */
    return (lgetxattr(dir, "trusted.overlay.opaque", v, sizeof(v)) == 1 ||
            lgetxattr(dir, "user.overlay.opaque", v, sizeof(v)) == 1) &&
           v[0] == 'y';
}

/* Removes what dir holds, keeping dir. */
static int clear_dir(const char *dir, struct kiln_error **err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : kiln_error_errno(err, errno, "%s", dir);
    int dfd = dirfd(d);
    struct dirent *de;
    int r = 0;
    while (r == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        r = rm_rf_at(dfd, de->d_name, err);
    }
    closedir(d);
    return r;
}

static int copy_file(const char *src, const char *dst, const struct stat *st,
                     struct kiln_error **err)
{
    cleanup_close int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return kiln_error_errno(err, errno, "%s", src);
    cleanup_close int out = open(dst, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0)
        return kiln_error_errno(err, errno, "%s", dst);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write_all(out, buf, (size_t)n) < 0)
            return kiln_error_errno(err, errno, "writing %s", dst);
    if (n < 0)
        return kiln_error_errno(err, errno, "reading %s", src);
    if (fchown(out, st->st_uid, st->st_gid) < 0 || fchmod(out, st->st_mode & 07777) < 0)
        return kiln_error_errno(err, errno, "%s", dst);
    return 0;
}

/* One layer's directory src merged into dst (which exists). */
static int merge_dir(const char *src, const char *dst, struct kiln_error **err)
{
    DIR *d = opendir(src);
    if (d == NULL)
        return kiln_error_errno(err, errno, "%s", src);
    struct dirent *de;
    int r = 0;
    while (r == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        cleanup_free char *s = path_join(src, de->d_name);
        cleanup_free char *t = path_join(dst, de->d_name);
        struct stat st, dt;
        if (lstat(s, &st) < 0) {
            r = kiln_error_errno(err, errno, "%s", s);
            break;
        }
        int have = lstat(t, &dt) == 0;
        if (have && !(S_ISDIR(st.st_mode) && S_ISDIR(dt.st_mode))) {
            if ((r = rm_rf(t, err)) < 0)
                break;
            have = 0;
        }
        if (is_whiteout(&st))
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (!have && mkdir(t, 0700) < 0) {
                r = kiln_error_errno(err, errno, "%s", t);
            } else if (have && is_opaque(s)) {
                r = clear_dir(t, err);
            }
            if (r == 0)
                r = merge_dir(s, t, err);
            if (r == 0 && (lchown(t, st.st_uid, st.st_gid) < 0 || chmod(t, st.st_mode & 07777) < 0))
                r = kiln_error_errno(err, errno, "%s", t);
        } else if (S_ISREG(st.st_mode)) {
            r = copy_file(s, t, &st, err);
        } else if (S_ISLNK(st.st_mode)) {
            char lk[4096];
            ssize_t n = readlink(s, lk, sizeof(lk) - 1);
            if (n < 0) {
                r = kiln_error_errno(err, errno, "%s", s);
                break;
            }
            lk[n] = '\0';
            if (symlink(lk, t) < 0 || lchown(t, st.st_uid, st.st_gid) < 0)
                r = kiln_error_errno(err, errno, "%s", t);
        } else if (mknod(t, st.st_mode, st.st_rdev) < 0 || lchown(t, st.st_uid, st.st_gid) < 0) {
            r = kiln_error_errno(err, errno, "%s", t);
        }
    }
    closedir(d);
    return r;
}

/* 0 when every directory above target in the layer is a real directory: a
 * symlink there (the image's /var/run -> /run) would resolve on the host;
 * likewise a ".." component. */
static int parents_plain(const char *lower, const char *target)
{
    for (const char *c = target; (c = strstr(c, "..")) != NULL; c += 2)
        if ((c == target || c[-1] == '/') && (c[2] == '\0' || c[2] == '/'))
            return -1; /* never outside the layer */
    cleanup_free char *path = path_join(lower, target);
    size_t base = strlen(lower);
    for (char *p = path + base + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        struct stat st;
        int ok = lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
        *p = '/';
        if (!ok)
            return -1;
    }
    return 0;
}

/* Where an image path's parents stand in one layer: 0 every parent is a
 * directory there, 1 one is missing (the layer has nothing at path), -1 one
 * is a file, symlink or whiteout (path and the layers below are hidden: the
 * merged parents are directories, so a higher layer replaced it). *opaque is
 * set when a parent there is an opaque directory (the layers below are
 * hidden from then on). */
static int parents_state(const char *lower, const char *path, int *opaque)
{
    cleanup_free char *full = path_join(lower, path);
    size_t base = strlen(lower);
    for (char *p = full + base + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        struct stat st;
        int r = lstat(full, &st);
        if (r == 0 && S_ISDIR(st.st_mode) && is_opaque(full))
            *opaque = 1;
        *p = '/';
        if (r < 0)
            return 1;
        if (!S_ISDIR(st.st_mode))
            return -1;
    }
    return 0;
}

/* The merged image's entry at path (absolute, its parents directories of the
 * merged image): the index of the topmost layer that has it, *st its lstat;
 * -1 when the image has nothing there (none, or a whiteout on top). */
static int entry_of(char *const *lowerdirs, size_t n, const char *path, struct stat *st)
{
    for (size_t i = 0; i < n; i++) {
        int opaque = 0;
        int ps = parents_state(lowerdirs[i], path, &opaque);
        if (ps < 0)
            return -1;
        cleanup_free char *full = path_join(lowerdirs[i], path);
        if (ps == 0 && lstat(full, st) == 0)
            return is_whiteout(st) ? -1 : (int)i;
        if (opaque)
            return -1;
    }
    return -1;
}

/* Symlinks followed on the way to a mount path before giving up (as the
 * kernel's ELOOP). */
#define RESOLVE_MAX_LINKS 40

/* target as the container sees it in the merged image: symlinks on the way
 * (the image's /data -> /srv/data, /var/run -> /run) followed inside the
 * image's root, as openat2's RESOLVE_IN_ROOT does when the runtime mounts
 * there: an absolute link starts again at the image's root, ".." stops at
 * it, so nothing outside the image is ever named. Allocated, "/..." with no
 * symlink left; NULL when it cannot resolve (a loop, a file on the way). */
static char *resolve_in_image(char *const *lowerdirs, size_t n, const char *target)
{
    struct strbuf done; /* the resolved prefix; "" is the root */
    strbuf_init(&done);
    char *todo = xstrdup(target);
    char *rest = todo;
    int links = 0;
    for (;;) {
        while (*rest == '/')
            rest++;
        if (*rest == '\0')
            break;
        char *end = strchrnul(rest, '/');
        size_t len = (size_t)(end - rest);
        if (len == 1 && rest[0] == '.') {
            rest = end;
            continue;
        }
        if (len == 2 && rest[0] == '.' && rest[1] == '.') {
            char *slash = strrchr(done.buf, '/');
            strbuf_setlen(&done, slash ? (size_t)(slash - done.buf) : 0);
            rest = end;
            continue;
        }
        size_t keep_len = done.len;
        strbuf_addf(&done, "/%.*s", (int)len, rest);
        rest = end;
        struct stat st;
        int layer = entry_of(lowerdirs, n, done.buf, &st);
        if (layer < 0 || S_ISDIR(st.st_mode))
            continue; /* nothing there (the rest is new), or a directory */
        if (!S_ISLNK(st.st_mode)) {
            if (strspn(rest, "/") == strlen(rest))
                continue; /* the mount path itself is a file */
            goto fail;
        }
        if (++links > RESOLVE_MAX_LINKS)
            goto fail;
        cleanup_free char *lpath = path_join(lowerdirs[layer], done.buf);
        char lk[4096];
        ssize_t ln = readlink(lpath, lk, sizeof(lk) - 1);
        if (ln <= 0)
            goto fail;
        lk[ln] = '\0';
        strbuf_setlen(&done, lk[0] == '/' ? 0 : keep_len);
        char *next = xasprintf("%s/%s", lk, rest);
        free(todo);
        todo = rest = next;
    }
    free(todo);
    if (done.len == 0)
        strbuf_adds(&done, "/");
    return strbuf_detach(&done);
fail:
    free(todo);
    strbuf_release(&done);
    return NULL;
}

int compose_volume_populate(const char *voldir, char *const *lowerdirs, size_t n,
                            const char *target, struct kiln_error **err)
{
    cleanup_free char *resolved = resolve_in_image(lowerdirs, n, target);
    if (resolved == NULL)
        return 0; /* a loop or a file on the way: the runtime's mount fails too */
    target = resolved;
    /* the layers below one with an opaque directory (or a non-directory)
     * above target are hidden: start from the lowest visible one */
    size_t visible = n;
    for (size_t i = 0; i < n && visible == n; i++) {
        int opaque = 0;
        int ps = parents_state(lowerdirs[i], target, &opaque);
        if (ps < 0)
            visible = i;
        else if (opaque)
            visible = i + 1;
    }
    int found = 0;
    struct stat top = {0};
    for (size_t i = visible; i-- > 0;) {
        cleanup_free char *src = path_join(lowerdirs[i], target);
        struct stat st;
        if (parents_plain(lowerdirs[i], target) < 0 || lstat(src, &st) < 0)
            continue;
        if (!S_ISDIR(st.st_mode)) {
            /* a whiteout or a file over the path: nothing below counts */
            if (clear_dir(voldir, err) < 0)
                return -1;
            found = 0;
            continue;
        }
        if (is_opaque(src) && clear_dir(voldir, err) < 0)
            return -1;
        if (merge_dir(src, voldir, err) < 0)
            return kiln_error_prefix(err, "populating volume from the image's %s", target);
        top = st;
        found = 1;
    }
    if (found &&
        (chown(voldir, top.st_uid, top.st_gid) < 0 || chmod(voldir, top.st_mode & 07777) < 0))
        return kiln_error_errno(err, errno, "%s", voldir);
    return 0;
}
