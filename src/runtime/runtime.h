/* kiln's container runtime: the one isolation path shared by build RUN steps,
 * `kiln run`, `kiln shell`, `kiln exec` and health checks. A caller fills a
 * struct rt_spec (root filesystem, process, isolation, limits) and calls
 * runtime_run(), which returns when the container's command has exited.
 *
 * Every mount the runtime makes (overlay root, /proc, /dev, volumes) lives in the
 * container's private mount namespace, so nothing is left on the host when the
 * container dies, however it dies. The overlay upper dir keeps the whiteouts and
 * opaque-dir xattrs exactly as the kernel writes them (char 0/0 and
 * trusted.overlay.opaque / user.overlay.opaque), for build to commit as a layer. */
#ifndef KILN_RUNTIME_RUNTIME_H
#define KILN_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* Docker-compatible exit statuses for failures before the command runs. */
enum {
    RT_EXIT_SETUP = 125,    /* the runtime failed (bad user, bad workdir, mount error...) */
    RT_EXIT_NOEXEC = 126,   /* the command exists but cannot be executed */
    RT_EXIT_NOTFOUND = 127, /* the command was not found */
};

enum rt_network {
    RT_NET_HOST = 0, /* share the host's network namespace (the default) */
    RT_NET_NONE,     /* a new network namespace with only a loopback device (up) */
    RT_NET_PRIVATE,  /* the network namespace of net_holder (net/net.h: a namespace of its
                      * own with slirp4netns, shared by a pod, or another container's); when
                      * that process has a user namespace of its own (non-root), the
                      * container joins it instead of making one. net_holder 0: a new
                      * private namespace without published ports for this run. */
};

enum rt_userns {
    RT_USERNS_AUTO = 0, /* root: no user namespace; non-root: map the caller to uid 0 */
    RT_USERNS_HOST,     /* never create a user namespace */
    RT_USERNS_KEEP_ID,  /* user namespace mapping the caller's uid/gid to themselves */
};

enum rt_mount_type {
    RT_MOUNT_BIND = 0, /* bind host `source` onto `target` (recursive) */
    RT_MOUNT_TMPFS,    /* a fresh tmpfs on `target`; `options` like "size=64m,mode=1777" */
    RT_MOUNT_CACHE,    /* RUN --mount=type=cache: bind a persistent host dir, always rw */
};

struct rt_mount {
    enum rt_mount_type type;
    const char *source;  /* host path (BIND, CACHE); must exist */
    const char *target;  /* absolute path inside the container; resolved inside the
                          * root even through symlinks; created if missing */
    int readonly;        /* BIND/TMPFS: mount read-only */
    const char *options; /* TMPFS data options, or NULL */
    const char *upper;   /* CACHE: with work, mount an overlay of source (its lower dir)
                          * under this upper dir instead of binding source */
    const char *work;
};

struct net_port;
struct net_ns;

/* A container's namespaces as open files (close-on-exec), in this order;
 * rt_ns_init sets every fd to -1. */
enum { RT_NS_USER, RT_NS_IPC, RT_NS_UTS, RT_NS_NET, RT_NS_PID, RT_NS_MNT, RT_NS_COUNT };
struct rt_ns {
    int fd[RT_NS_COUNT];
};

void rt_ns_init(struct rt_ns *ns);
void rt_ns_close(struct rt_ns *ns);
/* Sends every namespace of ns (all must be open) as one message over a unix
 * socket (SCM_RIGHTS); -1 with errno on failure. */
int rt_ns_send(int sock, const struct rt_ns *ns);
/* Receives such a message: 1 with ns filled, 0 on EOF or a message without
 * them, -1 with errno. flags: recvmsg's (MSG_DONTWAIT). */
int rt_ns_recv(int sock, int flags, struct rt_ns *ns);

struct rt_rlimit {
    int resource; /* RLIMIT_* */
    unsigned long long soft, hard;
};

struct rt_spec {
    /* --- root filesystem: either lowerdirs (overlay) or rootfs (a plain dir) --- */
    const char *const *lowerdirs; /* layer snapshot dirs, TOP FIRST; any number of them */
    size_t n_lowerdirs;
    const char *upperdir; /* overlay upper dir; NULL means a read-only overlay */
    const char *workdir;  /* overlay work dir (same file system as upperdir) */
    const char *rootfs;   /* used when n_lowerdirs == 0: bind-mounted as the root */
    int readonly_root;    /* mount the root read-only (--read-only) */
    int volatile_upper;   /* the upper dir need not survive a crash: overlay "volatile",
                           * no sync of the upper file system at unmount (a throw-away
                           * container; saves a whole-disk sync per exit) */
    int sync_noop;        /* sync/syncfs/fsync/fdatasync/sync_file_range answer success
                           * and do nothing (seccomp): for a build's RUN step, whose
                           * upper dir is synced once when it becomes a layer */
    int discard_upper;    /* the caller deletes the upper dir after the run (--rm): the
                           * mount points made in it are left, not removed one by one */

    /* --- process --- */
    const char *const *argv; /* final argv (see rt_resolve_argv); argv[0] looked up in
                              * the container's PATH when it has no '/' */
    const char *const *env;  /* "K=V" entries, NULL-terminated, or NULL. PATH, HOSTNAME
                              * and HOME are added when missing, as Docker does. */
    const char *cwd;         /* absolute path in the container; NULL means "/". Created if
                              * missing; refused if it leaves the root. */
    const char *user;        /* "name", "uid", "name:group", "uid:gid"; NULL/"" = root.
                              * Resolved in the container's /etc/passwd and /etc/group,
                              * with supplementary groups. */
    const char *hostname;    /* container hostname; NULL means "kiln" */

    /* --- isolation --- */
    enum rt_network network;
    enum rt_userns userns;
    const struct rt_mount *mounts; /* extra mounts, applied in order after /proc and /dev */
    size_t n_mounts;
    int caps_set;                 /* 1: caps is the capability set (bounding, and effective
                                   * for uid 0) instead of Docker's default */
    unsigned long long caps;      /* bit N: capability N (rt_caps_mask) */
    int no_etc_files;             /* don't provide /etc/hosts, /etc/hostname, /etc/resolv.conf */
    pid_t net_holder;             /* RT_NET_PRIVATE: whose network namespace to join (see above) */
    const struct net_port *ports; /* RT_NET_PRIVATE: ports the supervisor publishes when it
                                   * makes the namespace (ctr_supervise); else unused */
    size_t n_ports;
    struct net_ns *net_pending; /* RT_NET_PRIVATE: net_holder's slirp4netns is starting
                                 * (net_ns_start): the container's root is set up
                                 * meanwhile and its command runs only once
                                 * slirp4netns is ready (PID 1 reads
                                 * net_ns_ready_fd before the exec) */
    const char *hosts_file;     /* a host file bound as /etc/hosts instead of the generated
                                 * one (a pod's, naming its containers); NULL for none */

    /* --- stdio --- */
    int stdio[3]; /* fds for the command's 0,1,2; -1 means /dev/null. Use
                   * RT_STDIO_INHERIT to pass the caller's own 0,1,2. */
    int tty;      /* allocate a pty in the container; the caller's stdin/stdout are
                   * relayed to it (raw mode if stdin is a terminal) */

    /* --- pid 1 --- */
    int no_init; /* 1: the command is PID 1; 0: kiln's init forwards signals, reaps */

    /* --- limits --- */
    const struct rt_rlimit *rlimits; /* applied in the container, clamped to the hard limit
                                      * the caller itself has */
    size_t n_rlimits;
    long long memory_bytes;  /* cgroup memory.max; 0 = none */
    double cpus;             /* cgroup cpu.max as CPUs (1.5); 0 = none */
    const char *cgroup_name; /* leaf name for the cgroup (e.g. the container id) */

    /* --- hooks for detached containers / exec --- */
    /* Called in the caller's process once the command has been executed, with
     * the host pid of the container's PID 1. */
    void (*on_start)(void *ctx, pid_t pid1);
    void *on_start_ctx;
    /* Called in the caller's process once PID 1 has exited, when on_start was,
     * before the runtime cleans up (on_start_ctx). */
    void (*on_exit)(void *ctx);
    /* When set, runtime_run fills it with PID 1's namespaces before on_start
     * and closes them after on_exit. PID 1 opens and sends them itself, early:
     * kiln's init then makes itself undumpable, which closes its /proc/PID/ns
     * to a caller without CAP_SYS_PTRACE in the host's user namespace. */
    struct rt_ns *ns_out;
    /* runtime_exec: the container's namespaces (ns_out, or handed over by its
     * supervisor: ctr_ns_fetch); NULL: opened from PID 1's /proc/PID/ns. */
    const struct rt_ns *ns;
};

#define RT_STDIO_INHERIT (-2)

/* Initialises a spec with defaults: host network, init on, stdio inherited. */
void rt_spec_init(struct rt_spec *s);

/* Whether memory_bytes / cpus limits can be applied on this machine (cgroup
 * v2 with the controllers delegated); -1 with a message saying why not. The
 * same check runtime_run makes, for callers that check before starting many. */
int runtime_limits_check(long long memory_bytes, double cpus, struct kiln_error **err);

/* Runs the container described by s and waits for it. On success returns 0 and
 * sets *status to the Docker-style exit status (the code, or 128+N if the command
 * died of signal N). On failure returns -1 with *err set and *status set to
 * RT_EXIT_SETUP, RT_EXIT_NOEXEC or RT_EXIT_NOTFOUND (for the CLI's exit code). */
int runtime_run(const struct rt_spec *s, int *status, struct kiln_error **err);

/* Rootless (RT_USERNS_AUTO as a user other than root): how the containers'
 * user namespace maps ids, the caller's own as root and /etc/subuid's and
 * /etc/subgid's ranges (when newuidmap is there) from 1. Files a RUN step
 * leaves belong to these host ids; a layer records the ids inside. */
struct id_map;
void rt_rootless_id_map(struct id_map *out);

/* Moves the calling process, which must have one thread, into a new user
 * namespace mapped as rt_rootless_id_map says, when that map has a subuid and
 * a subgid range: root there may unpack, read and delete what belongs to the
 * image's users. Returns 1 when it did, 0 when the user has no range (a one-id
 * namespace could not hold an image's owners: the caller goes on without),
 * -1 on error. */
int rt_userns_enter_rootless(struct kiln_error **err);

/* Whether a rootless user's namespace holds the image's owners: a subuid and
 * a subgid range, and newuidmap to map them. */
bool rt_rootless_keeps_owners(void);

/* Rootless without ranges: says once per process, on stderr, that files are
 * unpacked without their owners and how to add ranges. Root: nothing. */
void rt_rootless_owners_note(void);

/* Runs fn(ctx) in a child process that entered the namespace of
 * rt_userns_enter_rootless, for a command that stays outside it (kiln run
 * starts containers in user namespaces of their own, which a sibling
 * namespace could not join): unpacking a snapshot with its owners, removing
 * an upper dir with another user's 0700 directory. Root, or a user without
 * ranges: fn runs in the caller. fn's error (code and message) comes back in
 * *err; whatever else fn changed in memory is the child's. */
int rt_rootless_call(int (*fn)(void *ctx, struct kiln_error **err), void *ctx,
                     struct kiln_error **err);

/* rm_rf of a tree containers wrote (an upper dir, a volume): rootless, what
 * they gave to other users (subuids here, a 0700 directory only its owner may
 * empty) is removed by root of the user namespace. */
int rt_rootless_rm_rf(const char *path, struct kiln_error **err);

/* Runs s->argv inside the running container whose PID 1 has host pid pid1
 * (kiln exec, health checks): joins its namespaces (s->ns, or PID 1's), then
 * applies the same user switch, workdir, capability set, no_new_privs and
 * seccomp filter as runtime_run. Uses argv, env, cwd, user, userns, hostname
 * (for HOSTNAME), stdio, tty and ns of s; the rest is ignored. Same return
 * contract. */
int runtime_exec(pid_t pid1, const struct rt_spec *s, int *status, struct kiln_error **err);

/* Writes the id maps of a non-root caller's new user namespace (process pid)
 * as runtime_run does; ctx is NULL (RT_USERNS_AUTO) or a const enum rt_userns *.
 * The shape of net/net.h's net_map_ids_fn, for pods. */
int runtime_map_ids(pid_t pid, void *ctx, struct kiln_error **err);

/* Docker's ENTRYPOINT/CMD rules. image_entrypoint/image_cmd come from the image
 * config (NULL-terminated or NULL). user_entrypoint (from --entrypoint, NULL when
 * not given; "" resets it) replaces the image's ENTRYPOINT and drops the image's
 * CMD; user_cmd (argc n_user_cmd) replaces CMD. The result is ENTRYPOINT + CMD,
 * NULL-terminated, allocated (free with rt_argv_free). Empty -> KILN_E_USAGE
 * "no command specified". */
int rt_resolve_argv(const char *const *image_entrypoint, const char *const *image_cmd,
                    const char *user_entrypoint, char *const *user_cmd, size_t n_user_cmd,
                    char ***out, struct kiln_error **err);
void rt_argv_free(char **argv);

/* Docker's default capability set with drop taken away ("ALL": all of it) and
 * add put in, as a mask for rt_spec.caps. Names as "NET_RAW" or "CAP_NET_RAW",
 * any case; an unknown one is KILN_E_USAGE naming it. */
int rt_caps_mask(const char *const *add, size_t n_add, const char *const *drop, size_t n_drop,
                 unsigned long long *mask, struct kiln_error **err);

#endif
