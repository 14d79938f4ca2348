/* Keeping a RUN step's upper dir clean: the mount points the runtime had to
 * create (/etc/hosts, /proc, a volume's target...) are not the command's
 * changes, so after the container exits they are removed from the upper dir
 * again, with any parent directory that only existed for them. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

static int open_dir_beneath(int upperfd, const char *path)
{
    struct open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, upperfd, path[0] ? path : ".", &how, sizeof(how));
}

static int is_opaque(int dirfd, const char *name)
{
    char v[4];
    cleanup_free char *p = xasprintf("/proc/self/fd/%d/%s", dirfd, name);
    return lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v)) > 0 ||
           lgetxattr(p, "user.overlay.opaque", v, sizeof(v)) > 0;
}

/* Removes upper/<path> if it is an empty file or an empty, non-opaque dir. */
static int forget_one(int upperfd, const char *path)
{
    while (*path == '/')
        path++;
    const char *slash = strrchr(path, '/');
    cleanup_free char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup("");
    const char *name = slash ? slash + 1 : path;
    if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return -1;
    cleanup_close int d = open_dir_beneath(upperfd, dir);
    if (d < 0)
        return -1;
    struct stat st;
    if (fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    if (S_ISREG(st.st_mode) && st.st_size == 0)
        return unlinkat(d, name, 0);
    if (S_ISDIR(st.st_mode) && !is_opaque(d, name))
        return unlinkat(d, name, AT_REMOVEDIR); /* fails unless empty */
    return -1;
}

void rt_forget_mountpoints(const char *upperdir, const char *list, size_t len)
{
    cleanup_close int upperfd = open(upperdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (upperfd < 0)
        return;
    /* Newest first, so children go before the parents created for them. */
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (list[i] == '\0')
            n++;
    const char **v = xcalloc(n + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < len && k < n; i += strlen(list + i) + 1)
        v[k++] = list + i;
    for (size_t i = k; i-- > 0;) {
        if (forget_one(upperfd, v[i]) < 0)
            continue;
        /* A parent copied up only to hold this mount point goes too. */
        cleanup_free char *p = xstrdup(v[i]);
        char *slash;
        while ((slash = strrchr(p, '/')) != NULL && slash != p) {
            *slash = '\0';
            if (forget_one(upperfd, p) < 0)
                break;
        }
    }
    free(v);
}
