/* File-system helpers: reads, atomic writes, mkdir -p, rm -rf. */
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/strbuf.h"

int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len,
                 struct kiln_error **err)
{
    cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_errno(err, errno, "open %s", path);
    struct strbuf sb = STRBUF_INIT;
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            strbuf_release(&sb);
            return kiln_error_errno(err, e, "read %s", path);
        }
        if (n == 0)
            break;
        if (sb.len + (size_t)n > max) {
            strbuf_release(&sb);
            return kiln_error_set(err, KILN_E_INVALID, "%s: larger than %zu bytes", path, max);
        }
        strbuf_add(&sb, buf, (size_t)n);
    }
    if (len != NULL)
        *len = sb.len;
    *out = strbuf_detach(&sb);
    return 0;
}

int read_file(const char *path, size_t max, char **out, size_t *len, struct kiln_error **err)
{
    return read_file_at(AT_FDCWD, path, max, out, len, err);
}

static int int_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

void close_fds_except(const int *keep, size_t n)
{
    int sorted[64];
    size_t m = 0;
    for (size_t i = 0; i < n && m < sizeof(sorted) / sizeof(sorted[0]); i++)
        if (keep[i] > 2)
            sorted[m++] = keep[i];
    qsort(sorted, m, sizeof(sorted[0]), int_cmp);
    unsigned int from = 3;
    for (size_t i = 0; i < m; i++) {
        if ((unsigned int)sorted[i] > from)
            close_range(from, (unsigned int)sorted[i] - 1, 0);
        if ((unsigned int)sorted[i] >= from)
            from = (unsigned int)sorted[i] + 1;
    }
    close_range(from, ~0U, 0);
}

int fsync_dir(const char *path, struct kiln_error **err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_errno(err, errno, "open directory %s", path);
    if (fsync(fd) < 0 && errno != EINVAL)
        return kiln_error_errno(err, errno, "fsync %s", path);
    return 0;
}

int fsync_parent_dir(const char *path, struct kiln_error **err)
{
    cleanup_free char *copy = xstrdup(path);
    return fsync_dir(dirname(copy), err);
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                      struct kiln_error **err)
{
    cleanup_free char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return kiln_error_errno(err, errno, "create %s", tmp);
    if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        int e = errno;
        unlink(tmp);
        return kiln_error_errno(err, e, "write %s", tmp);
    }
    if (fchmod(fd, mode) < 0) {
        int e = errno;
        unlink(tmp);
        return kiln_error_errno(err, e, "chmod %s", tmp);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return kiln_error_errno(err, e, "rename %s to %s", tmp, path);
    }
    return fsync_parent_dir(path, err);
}

static mode_t output_mask = 022;

void output_umask(mode_t mask)
{
    output_mask = mask;
}

int output_open(const char *path, mode_t mode, char **partial, struct kiln_error **err)
{
    struct stat st;
    *partial = NULL;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
            return kiln_error_errno(err, errno, "cannot write %s", path);
        return fd;
    }
    char *tmp = xasprintf("%s.kiln-partial.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return kiln_error_errno(err, e, "cannot create a file beside %s", path);
    }
    fchmod(fd, mode & ~output_mask);
    *partial = tmp;
    return fd;
}

int output_commit(int fd, const char *partial, const char *path, struct kiln_error **err)
{
    if (partial == NULL)
        return 0;
    if (fsync(fd) < 0 || rename(partial, path) < 0) {
        int e = errno;
        unlink(partial);
        return kiln_error_errno(err, e, "cannot write %s", path);
    }
    return fsync_parent_dir(path, err);
}

void output_abort(const char *partial)
{
    if (partial != NULL)
        unlink(partial);
}

int write_output_file(const char *path, const void *data, size_t len, mode_t mode,
                      struct kiln_error **err)
{
    cleanup_free char *partial = NULL;
    cleanup_close int fd = output_open(path, mode, &partial, err);
    if (fd < 0)
        return -1;
    if (write_all(fd, data, len) < 0) {
        int e = errno;
        output_abort(partial);
        return kiln_error_errno(err, e, "write %s", path);
    }
    return output_commit(fd, partial, path, err);
}

int mkdir_p(const char *path, mode_t mode, struct kiln_error **err)
{
    cleanup_free char *p = xstrdup(path);
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return kiln_error_errno(err, errno, "mkdir %s", p);
        p[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return kiln_error_errno(err, errno, "stat %s", path);
    if (!S_ISDIR(st.st_mode))
        return kiln_error_set(err, KILN_E_EXISTS, "%s exists and is not a directory", path);
    return 0;
}

static int rm_rf_dirfd(int parent, const char *name, int depth, struct kiln_error **err)
{
    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return kiln_error_errno(err, errno, "remove %s", name);
    if (depth > 4096)
        return kiln_error_set(err, KILN_E_FAIL, "remove %s: tree too deep", name);
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == EACCES && fchmodat(parent, name, 0700, 0) == 0)
            fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return kiln_error_errno(err, errno, "open %s", name);
    }
    fchmod(fd, 0700);
    cleanup_dir DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return kiln_error_errno(err, errno, "opendir %s", name);
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (rm_rf_dirfd(dirfd(d), de->d_name, depth + 1, err) < 0)
            return kiln_error_prefix(err, "%s", name);
    }
    if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return kiln_error_errno(err, errno, "rmdir %s", name);
    return 0;
}

int rm_rf_at(int dirfd, const char *name, struct kiln_error **err)
{
    return rm_rf_dirfd(dirfd, name, 0, err);
}

int rm_rf(const char *path, struct kiln_error **err)
{
    return rm_rf_dirfd(AT_FDCWD, path, 0, err);
}

int path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

void path_push_clean(struct strbuf *sb, const char *path)
{
    const char *p = path;
    while (*p != '\0') {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0)
            break;
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            char *slash = strrchr(sb->buf, '/');
            strbuf_setlen(sb, slash ? (size_t)(slash - sb->buf) : 0);
        } else if (!(len == 1 && p[0] == '.')) {
            if (sb->len > 0)
                strbuf_addc(sb, '/');
            strbuf_add(sb, p, len);
        }
        p += len;
    }
}

char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    while (la > 1 && a[la - 1] == '/')
        la--;
    while (*b == '/')
        b++;
    if (*b == '\0')
        return xstrndup(a, la);
    return xasprintf("%.*s/%s", (int)la, a, b);
}

static struct inherited_fd {
    int fd;
    dev_t dev;
    ino_t ino;
} inherited[64];
static size_t n_inherited;

void fd_note_inherited(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n_inherited < sizeof(inherited) / sizeof(inherited[0])) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        struct stat st;
        if (*end != '\0' || end == e->d_name || fd < 3 || fd == dirfd(d) || fstat((int)fd, &st) < 0)
            continue;
        inherited[n_inherited++] = (struct inherited_fd){(int)fd, st.st_dev, st.st_ino};
    }
    closedir(d);
}

void fd_close_inherited(const int *keep, size_t n)
{
    for (size_t i = 0; i < n_inherited; i++) {
        int kept = 0;
        for (size_t k = 0; k < n; k++)
            kept |= keep[k] == inherited[i].fd;
        struct stat st;
        if (!kept && fstat(inherited[i].fd, &st) == 0 && st.st_dev == inherited[i].dev &&
            st.st_ino == inherited[i].ino)
            close(inherited[i].fd);
    }
}
