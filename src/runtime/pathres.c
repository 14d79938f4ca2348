/* Resolving container paths against the container's root fd, never leaving it:
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) for every step, so a symlink
 * in the image (absolute, "..", or /proc/self/fd/N) stays inside the root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static int open_beneath(int rootfd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (unsigned long long)(flags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

static int open_in_root(int rootfd, const char *path, int create, int record_fd, int depth,
                        struct kiln_error **err);

int rt_open_in_root(int rootfd, const char *path, int create, int record_fd,
                    struct kiln_error **err)
{
    return open_in_root(rootfd, path, create, record_fd, 0, err);
}

/* Writes where fd really is (its path from the root, the staging prefix
 * removed), NUL-terminated, to record_fd. */
static void record_created(int record_fd, int fd)
{
    char link[32], where[4096];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, where, sizeof(where) - 1);
    if (n <= 0)
        return;
    where[n] = '\0';
    const char *p = where;
    size_t sl = strlen(RT_STAGE_ROOT);
    if (strncmp(p, RT_STAGE_ROOT, sl) == 0 && (p[sl] == '/' || p[sl] == '\0'))
        p += sl;
    write_all(record_fd, p, strlen(p) + 1);
}

/* A dangling symlink on the way: continue at its target, inside the root
 * (absolute targets start at the root; relative ones at the link's dir). */
static int follow_dangling(int rootfd, int parent, const char *name, const char *dir,
                           const char *rest, int create, int record_fd, int depth,
                           struct kiln_error **err)
{
    char target[4096];
    ssize_t n = readlinkat(parent, name, target, sizeof(target) - 1);
    if (n < 0)
        return -2; /* not a symlink */
    target[n] = '\0';
    if (depth >= 40)
        return kiln_error_errno(err, ELOOP, "%s/%s", dir, name);
    cleanup_free char *next = target[0] == '/' ? xasprintf("%s/%s", target, rest)
                                               : xasprintf("%s/%s/%s", dir, target, rest);
    return open_in_root(rootfd, next, create, record_fd, depth + 1, err);
}

static int open_in_root(int rootfd, const char *path, int create, int record_fd, int depth,
                        struct kiln_error **err)
{
    int fd = open_beneath(rootfd, path, O_PATH);
    if (fd >= 0 || errno != ENOENT || create == 0) {
        if (fd < 0)
            return kiln_error_errno(err, errno, "%s", path);
        return fd;
    }
    /* Create the missing components one at a time, each relative to the
     * resolved parent, so nothing is created outside the root. */
    struct strbuf prefix = STRBUF_INIT;
    strbuf_init(&prefix);
    const char *p = path;
    cleanup_close int parent = open_beneath(rootfd, "/", O_PATH | O_DIRECTORY);
    int ret = -1;
    while (*p != '\0') {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        const char *end = strchrnul(p, '/');
        cleanup_free char *name = xstrndup(p, (size_t)(end - p));
        const char *rest = end;
        while (*rest == '/')
            rest++;
        int last = *rest == '\0';
        strbuf_addc(&prefix, '/');
        strbuf_adds(&prefix, name);
        int next = open_beneath(rootfd, prefix.buf, O_PATH);
        int made = 0;
        if (next < 0 && errno == ENOENT) {
            made = 1;
            if (last && create == 2) {
                int f = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
                               0644);
                if (f < 0 && errno != EEXIST) {
                    kiln_error_errno(err, errno, "creating %s", prefix.buf);
                    goto out;
                }
                if (f >= 0)
                    close(f);
                else
                    made = 0;
            } else if (mkdirat(parent, name, 0755) < 0) {
                made = 0;
                if (errno != EEXIST) {
                    kiln_error_errno(err, errno, "creating %s", prefix.buf);
                    goto out;
                }
            }
            next = open_beneath(rootfd, prefix.buf, O_PATH);
            if (next < 0 && errno == ENOENT) {
                cleanup_free char *dir = xstrndup(prefix.buf, prefix.len - strlen(name) - 1);
                int r =
                    follow_dangling(rootfd, parent, name, dir, rest, create, record_fd, depth, err);
                if (r != -2) {
                    ret = r;
                    goto out;
                }
                errno = ENOENT;
            }
        }
        if (next < 0) {
            kiln_error_errno(err, errno, "%s", prefix.buf);
            goto out;
        }
        if (made && record_fd >= 0)
            record_created(record_fd, next);
        close(parent);
        parent = next;
        p = end;
    }
    ret = steal_fd(&parent);
out:
    strbuf_release(&prefix);
    return ret;
}
