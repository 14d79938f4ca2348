/* The container's root: an overlay of layer snapshots (or a bind of a plain
 * dir) attached inside a private staging tmpfs, /proc, /dev, /sys, the /etc
 * files and the caller's mounts, then pivot_root. Runs in the child, in its
 * own mount namespace, so every mount dies with the container. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "net/net.h"
#include "runtime/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

struct fdpath {
    char p[32];
};

static const char *fdp(struct fdpath *b, int fd)
{
    snprintf(b->p, sizeof(b->p), "/proc/self/fd/%d", fd);
    return b->p;
}

/* Mounts a file system of type on path (inside root), creating it as a dir. */
static int mount_fs(int rootfd, int rec, const char *path, const char *type, unsigned long flags,
                    const char *data, struct kiln_error **err)
{
    cleanup_close int fd = rt_open_in_root(rootfd, path, 1, rec, err);
    if (fd < 0)
        return -1;
    struct fdpath b;
    if (mount(type, fdp(&b, fd), type, flags, data) < 0)
        return kiln_error_errno(err, errno, "mounting %s on %s", type, path);
    return 0;
}

/* Binds host (dirfd, src) onto path inside root; create: 1 dir, 2 file. */
static int bind_into(int dirfd, const char *src, int rootfd, int rec, const char *path, int create,
                     int readonly, struct kiln_error **err)
{
    cleanup_close int tree = (int)open_tree(dirfd, src,
                                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
                                                (src[0] ? 0 : AT_EMPTY_PATH));
    if (tree < 0)
        return kiln_error_errno(err, errno, "bind source %s", src);
    if (readonly) {
        struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID};
        if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
            return kiln_error_errno(err, errno, "making %s read-only", path);
    }
    cleanup_close int target = rt_open_in_root(rootfd, path, create, rec, err);
    if (target < 0)
        return -1;
    if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return kiln_error_errno(err, errno, "mounting %s on %s", src, path);
    return 0;
}

static int mount_overlay(const struct rt_spec *s, int in_userns, struct kiln_error **err)
{
    cleanup_close int fs = fsopen("overlay", FSOPEN_CLOEXEC);
    if (fs < 0)
        return kiln_error_errno(err, errno, "overlay file system");
    /* "lowerdir+" (Linux 6.8) takes one layer per call: no option-length limit. */
    int append = 1;
    for (size_t i = 0; i < s->n_lowerdirs; i++) {
        if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", s->lowerdirs[i], 0) < 0) {
            if (i == 0 && errno == EINVAL) {
                append = 0;
                break;
            }
            return kiln_error_errno(err, errno, "overlay lower dir %s", s->lowerdirs[i]);
        }
    }
    if (!append) {
        struct strbuf sb = STRBUF_INIT;
        strbuf_init(&sb);
        for (size_t i = 0; i < s->n_lowerdirs; i++) {
            if (i)
                strbuf_addc(&sb, ':');
            for (const char *c = s->lowerdirs[i]; *c; c++) {
                if (*c == ':' || *c == '\\' || *c == ',')
                    strbuf_addc(&sb, '\\');
                strbuf_addc(&sb, *c);
            }
        }
        int r = fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", sb.buf, 0);
        int e = errno;
        strbuf_release(&sb);
        if (r < 0)
            return kiln_error_errno(err, e, "overlay lower dirs (%zu layers)", s->n_lowerdirs);
    }
    if (s->upperdir != NULL) {
        if (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", s->upperdir, 0) < 0)
            return kiln_error_errno(err, errno, "overlay upper dir %s", s->upperdir);
        if (fsconfig(fs, FSCONFIG_SET_STRING, "workdir", s->workdir, 0) < 0)
            return kiln_error_errno(err, errno, "overlay work dir %s", s->workdir);
        if (s->volatile_upper)
            fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0);
    }
    /* Plain whiteouts and opaque xattrs only: what build commits as a layer. */
    fsconfig(fs, FSCONFIG_SET_STRING, "index", "off", 0);
    fsconfig(fs, FSCONFIG_SET_STRING, "redirect_dir", "nofollow", 0);
    fsconfig(fs, FSCONFIG_SET_STRING, "metacopy", "off", 0);
    if (in_userns)
        fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0);
    if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return kiln_error_errno(err, errno, "creating the overlay root (%zu layers)",
                                s->n_lowerdirs);
    int m = fsmount(fs, FSMOUNT_CLOEXEC, s->upperdir == NULL ? MOUNT_ATTR_RDONLY : 0);
    if (m < 0)
        return kiln_error_errno(err, errno, "mounting the overlay root");
    return m;
}

/* A detached mount of the root file system. */
static int root_mount(const struct rt_spec *s, int in_userns, struct kiln_error **err)
{
    if (s->n_lowerdirs > 1 || (s->n_lowerdirs == 1 && s->upperdir != NULL))
        return mount_overlay(s, in_userns, err);
    const char *dir = s->n_lowerdirs == 1 ? s->lowerdirs[0] : s->rootfs;
    if (dir == NULL)
        return kiln_error_set(err, KILN_E_USAGE, "runtime: no root file system given");
    int t = (int)open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (t < 0)
        return kiln_error_errno(err, errno, "root file system %s", dir);
    if (s->n_lowerdirs == 1) { /* a snapshot is never written */
        struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
        mount_setattr(t, "", AT_EMPTY_PATH, &a, sizeof(a));
    }
    return t;
}

static const struct {
    const char *name;
    unsigned maj, min;
} dev_nodes[] = {
    {"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

/* The container's own devpts instance. Its ptys belong to group tty (5), as
 * Docker's do, when that gid exists here: in a user namespace that does not map
 * it (a rootless user without a subgid range, kiln run by root inside `unshare
 * -Ur`) the kernel refuses gid=5 with EINVAL, and the mount goes without it, as
 * crun and runc retry. */
static int setup_devpts(int rootfd, int rec, struct kiln_error **err)
{
    cleanup_close int fd = rt_open_in_root(rootfd, "/dev/pts", 1, rec, err);
    if (fd < 0)
        return -1;
    struct fdpath b;
    int r = mount("devpts", fdp(&b, fd), "devpts", MS_NOSUID | MS_NOEXEC,
                  "newinstance,ptmxmode=0666,mode=0620,gid=5");
    if (r < 0 && errno == EINVAL)
        r = mount("devpts", fdp(&b, fd), "devpts", MS_NOSUID | MS_NOEXEC,
                  "newinstance,ptmxmode=0666,mode=0620");
    if (r < 0)
        return kiln_error_errno(err, errno, "mounting devpts on /dev/pts");
    return 0;
}

static int setup_dev(int rootfd, int rec, int in_userns, struct kiln_error **err)
{
    if (mount_fs(rootfd, rec, "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k",
                 err) < 0)
        return -1;
    cleanup_close int dev = rt_open_in_root(rootfd, "/dev", 0, -1, err);
    if (dev < 0)
        return -1;
    cleanup_close int devfd = openat(dev, ".", O_DIRECTORY | O_CLOEXEC);
    if (devfd < 0)
        return kiln_error_errno(err, errno, "/dev");
    for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
        const char *n = dev_nodes[i].name;
        if (!in_userns &&
            mknodat(devfd, n, S_IFCHR | 0666, makedev(dev_nodes[i].maj, dev_nodes[i].min)) == 0) {
            fchmodat(devfd, n, 0666, 0); /* umask */
            continue;
        }
        /* In a user namespace mknod is refused: bind the host's node. */
        cleanup_free char *host = xasprintf("/dev/%s", n);
        cleanup_free char *inner = xasprintf("/dev/%s", n);
        if (bind_into(AT_FDCWD, host, rootfd, rec, inner, 2, 0, err) < 0)
            return -1;
    }
    static const char *const links[][2] = {
        {"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},         {"/proc/kcore", "core"},
    };
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        if (symlinkat(links[i][0], devfd, links[i][1]) < 0)
            return kiln_error_errno(err, errno, "/dev/%s", links[i][1]);
    if (setup_devpts(rootfd, rec, err) < 0)
        return -1;
    if (mount_fs(rootfd, rec, "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 "mode=1777,size=65536k", err) < 0)
        return -1;
    if (mount_fs(rootfd, rec, "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
                 err) < 0)
        return -1;
    return 0;
}

/* Docker's masked and read-only /proc and /sys paths. */
static int mask_paths(int rootfd, int rec, struct kiln_error **err)
{
    static const char *const masked[] = {
        "/proc/asound",
        "/proc/acpi",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
    };
    static const char *const ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                     "/proc/sysrq-trigger"};
    struct fdpath b;
    for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++) {
        cleanup_close int fd = rt_open_in_root(rootfd, masked[i], 0, -1, NULL);
        if (fd < 0)
            continue;
        struct stat st;
        if (fstat(fd, &st) < 0)
            continue;
        int r = S_ISDIR(st.st_mode) ? mount("tmpfs", fdp(&b, fd), "tmpfs", MS_RDONLY, "size=0")
                                    : mount("/dev/null", fdp(&b, fd), NULL, MS_BIND, NULL);
        if (r < 0)
            return kiln_error_errno(err, errno, "masking %s", masked[i]);
    }
    for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
        cleanup_close int fd = rt_open_in_root(rootfd, ro[i], 0, -1, NULL);
        if (fd < 0)
            continue;
        if (bind_into(fd, "", rootfd, rec, ro[i], 0, 1, err) < 0)
            return -1;
    }
    return 0;
}

static void write_stage_file(int stagefd, const char *name, const char *text)
{
    int fd = openat(stagefd, name, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        write_all(fd, text, strlen(text));
        close(fd);
    }
}

/* /etc/hosts, /etc/hostname, /etc/resolv.conf as files in the staging tmpfs,
 * bound over the image's (created if missing). */
static int setup_etc(const struct rt_spec *s, int stagefd, int rootfd, int rec,
                     struct kiln_error **err)
{
    const char *host = s->hostname ? s->hostname : "kiln";
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    char *hosts = NULL;
    if (s->network == RT_NET_HOST && read_file("/etc/hosts", 1 << 20, &hosts, NULL, NULL) == 0) {
        strbuf_adds(&sb, hosts);
        free(hosts);
        if (sb.len > 0 && sb.buf[sb.len - 1] != '\n')
            strbuf_addc(&sb, '\n');
    } else {
        strbuf_adds(&sb, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    }
    strbuf_addf(&sb, "127.0.1.1\t%s\n", host);
    if (s->hosts_file == NULL)
        write_stage_file(stagefd, "hosts", sb.buf);
    strbuf_reset(&sb);
    strbuf_addf(&sb, "%s\n", host);
    write_stage_file(stagefd, "hostname", sb.buf);
    strbuf_reset(&sb);
    char *resolv = NULL;
    if (s->network == RT_NET_HOST &&
        read_file("/etc/resolv.conf", 1 << 20, &resolv, NULL, NULL) == 0) {
        strbuf_adds(&sb, resolv);
        free(resolv);
    } else if (s->network == RT_NET_PRIVATE) {
        resolv = net_resolv_conf();
        strbuf_adds(&sb, resolv);
        free(resolv);
    }
    write_stage_file(stagefd, "resolv.conf", sb.buf);
    strbuf_release(&sb);
    static const char *const files[] = {"hosts", "hostname", "resolv.conf"};
    for (size_t i = 0; i < 3; i++) {
        cleanup_free char *target = xasprintf("/etc/%s", files[i]);
        /* A read-only root without the file simply goes without it. */
        struct kiln_error *e = NULL;
        int r = i == 0 && s->hosts_file
                    ? bind_into(AT_FDCWD, s->hosts_file, rootfd, rec, target, 2, 0, &e)
                    : bind_into(stagefd, files[i], rootfd, rec, target, 2, 0, &e);
        if (r < 0) {
            int erofs = e->errnum == EROFS;
            if (!erofs) {
                kiln_error_set(err, e->code, "%s", e->msg);
                kiln_error_free(e);
                return -1;
            }
            kiln_error_free(e);
        }
    }
    return 0;
}

/* A cache mount's private view: an overlay of its lower dir under its own
 * upper dir, mounted on the target. */
static int mount_view(const struct rt_mount *m, int in_userns, int rootfd, int rec,
                      struct kiln_error **err)
{
    cleanup_close int fs = fsopen("overlay", FSOPEN_CLOEXEC);
    if (fs < 0)
        return kiln_error_errno(err, errno, "overlay file system");
    /* "lowerdir+" takes the path as it is (no ':' escapes); before 6.8, "lowerdir" */
    int lower = fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", m->source, 0);
    if (lower < 0 && errno == EINVAL)
        lower = fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", m->source, 0);
    if (lower < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", m->upper, 0) < 0 ||
        fsconfig(fs, FSCONFIG_SET_STRING, "workdir", m->work, 0) < 0)
        return kiln_error_errno(err, errno, "cache mount view of %s under %s", m->source, m->upper);
    /* no redirects: a renamed directory is a copy, so every new name is in upper */
    fsconfig(fs, FSCONFIG_SET_STRING, "index", "off", 0);
    fsconfig(fs, FSCONFIG_SET_STRING, "redirect_dir", "off", 0);
    fsconfig(fs, FSCONFIG_SET_STRING, "metacopy", "off", 0);
    if (in_userns)
        fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0);
    if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return kiln_error_errno(err, errno, "creating the cache mount view of %s", m->source);
    cleanup_close int mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
    if (mnt < 0)
        return kiln_error_errno(err, errno, "mounting the cache mount view of %s", m->source);
    cleanup_close int target = rt_open_in_root(rootfd, m->target, 1, rec, err);
    if (target < 0)
        return -1;
    if (move_mount(mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return kiln_error_errno(err, errno, "mounting the cache view on %s", m->target);
    return 0;
}

static int setup_user_mounts(const struct rt_spec *s, int in_userns, int rootfd, int rec,
                             struct kiln_error **err)
{
    for (size_t i = 0; i < s->n_mounts; i++) {
        const struct rt_mount *m = &s->mounts[i];
        if (m->target == NULL || m->target[0] != '/')
            return kiln_error_set(err, KILN_E_USAGE, "mount target \"%s\" must be absolute",
                                  m->target ? m->target : "");
        if (m->type == RT_MOUNT_TMPFS) {
            unsigned long fl = MS_NOSUID | MS_NODEV | (m->readonly ? MS_RDONLY : 0);
            if (mount_fs(rootfd, rec, m->target, "tmpfs", fl, m->options ? m->options : "mode=1777",
                         err) < 0)
                return -1;
            continue;
        }
        if (m->type == RT_MOUNT_CACHE && m->upper != NULL) {
            if (mount_view(m, in_userns, rootfd, rec, err) < 0)
                return -1;
            continue;
        }
        struct stat st;
        if (m->source == NULL || stat(m->source, &st) < 0)
            return kiln_error_errno(err, m->source ? errno : ENOENT, "volume source %s",
                                    m->source ? m->source : "(none)");
        if (bind_into(AT_FDCWD, m->source, rootfd, rec, m->target, S_ISDIR(st.st_mode) ? 1 : 2,
                      m->type == RT_MOUNT_BIND && m->readonly, err) < 0)
            return kiln_error_prefix(err, "volume %s:%s", m->source, m->target);
    }
    return 0;
}

int rt_setup_rootfs(const struct rt_spec *s, int in_userns, int rec, struct kiln_error **err)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return kiln_error_errno(err, errno, "making mounts private");
    /* A private tmpfs over RT_STAGE_DIR holds the root's mount point and the /etc
     * files; it disappears with the old root after pivot_root. */
    if (mkdir(RT_STAGE_DIR, 0755) < 0 && errno != EEXIST)
        return kiln_error_errno(err, errno, "creating %s", RT_STAGE_DIR);
    cleanup_close int stagedir = open(RT_STAGE_DIR, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
    if (stagedir < 0)
        return kiln_error_errno(err, errno, "%s", RT_STAGE_DIR);
    cleanup_close int tfs = fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (tfs < 0 || fsconfig(tfs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
        fsconfig(tfs, FSCONFIG_SET_STRING, "size", "1m", 0) < 0 ||
        fsconfig(tfs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return kiln_error_errno(err, errno, "staging tmpfs");
    cleanup_close int stage = fsmount(tfs, FSMOUNT_CLOEXEC, 0);
    if (stage < 0 ||
        move_mount(stage, "", stagedir, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return kiln_error_errno(err, errno, "staging tmpfs");
    if (mkdirat(stage, "root", 0755) < 0)
        return kiln_error_errno(err, errno, "staging root");
    {
        cleanup_close int root = root_mount(s, in_userns, err);
        if (root < 0)
            return -1;
        if (move_mount(root, "", stage, "root", MOVE_MOUNT_F_EMPTY_PATH) < 0)
            return kiln_error_errno(err, errno, "attaching the root file system");
    }
    cleanup_close int rootfd = openat(stage, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return kiln_error_errno(err, errno, "opening the root file system");

    if (mount_fs(rootfd, rec, "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0)
        return -1;
    if (setup_dev(rootfd, rec, in_userns, err) < 0)
        return -1;
    if (mount_fs(rootfd, rec, "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL,
                 NULL) < 0 &&
        bind_into(AT_FDCWD, "/sys", rootfd, rec, "/sys", 1, 1, err) < 0)
        return -1;
    if (mask_paths(rootfd, rec, err) < 0)
        return -1;
    if (!s->no_etc_files && setup_etc(s, stage, rootfd, rec, err) < 0)
        return -1;
    if (setup_user_mounts(s, in_userns, rootfd, rec, err) < 0)
        return -1;

    if (s->readonly_root) {
        struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
        if (mount_setattr(rootfd, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
            return kiln_error_errno(err, errno, "making the root read-only");
    }
    if (fchdir(rootfd) < 0)
        return kiln_error_errno(err, errno, "entering the root file system");
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return kiln_error_errno(err, errno, "pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        return kiln_error_errno(err, errno, "detaching the host's root");
    if (chdir("/") < 0)
        return kiln_error_errno(err, errno, "chdir /");
    return 0;
}
