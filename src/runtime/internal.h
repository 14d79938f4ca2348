/* What the runtime's files share with each other; not part of the contract. */
#ifndef KILN_RUNTIME_INTERNAL_H
#define KILN_RUNTIME_INTERNAL_H

#include "runtime/runtime.h"
#include "runtime/user.h"

/* Docker's default capability set: CapEff 00000000a80425fb. */
extern const int rt_default_caps[];
extern const size_t rt_n_default_caps;

/* Drops every capability outside Docker's default from the bounding set. */
int rt_drop_bounding(const struct rt_spec *s, struct kiln_error **err);
/* Switches to u (groups, gid, uid) and leaves Docker's default set effective
 * for uid 0, nothing for others. */
int rt_become_user(const struct rt_spec *s, const struct rt_user *u, struct kiln_error **err);
/* no_new_privs and the default seccomp filter: the last step before exec. */
int rt_lock_down(int no_sync, struct kiln_error **err);
/* Applies the spec's rlimits clamped to the current hard limits. */
int rt_apply_rlimits(const struct rt_spec *s, struct kiln_error **err);

/* Builds the container's root at a private staging mount and pivots into it.
 * Runs in the child, inside its new mount namespace. in_userns: the child is in
 * a user namespace other than the initial one, kiln's or its caller's (no
 * mknod, overlay with userxattr, sysfs maybe refused). */
int rt_setup_rootfs(const struct rt_spec *s, int in_userns, int record_fd, struct kiln_error **err);
/* Where the root is attached before pivot_root (inside a private tmpfs). */
#define RT_STAGE_DIR  "/tmp/.kiln-rt"
#define RT_STAGE_ROOT RT_STAGE_DIR "/root"

/* Opens path under the root fd without leaving it and without magic links;
 * create: 0 no, 1 missing components as dirs, 2 the last one as a file.
 * Every entry it creates is written (its path in the root, NUL-terminated)
 * to record_fd unless that is -1. Returns an O_PATH fd. */
int rt_open_in_root(int rootfd, const char *path, int create, int record_fd,
                    struct kiln_error **err);
/* Removes from the upper dir the mount points recorded while setting up
 * (NUL-separated in list), and their parents when that leaves them empty and
 * they are not opaque: a RUN step's layer must not gain /etc/hosts or /proc. */
void rt_forget_mountpoints(const char *upperdir, const char *list, size_t len);

/* PID 1: forwards signals to child and reaps until it exits; returns the exit
 * status Docker would report. */
int rt_init_loop(pid_t child);

/* Finds argv0 in PATH (from env) inside the container and execs it. Returns
 * only on failure, with *status set to 126/127. */
int rt_exec_command(const char *const *argv, char *const *env, int *status,
                    struct kiln_error **err);

/* Parent side of rootless: writes the child's uid/gid maps (newuidmap and
 * newgidmap when /etc/subuid grants a range, else a single id). */
int rt_userns_map(pid_t pid, enum rt_userns mode, struct kiln_error **err);

struct net_ns;
/* Starts a private network namespace publishing s->ports, its holder mapped
 * like s->userns asks when the caller is not root (net_ns_start: slirp4netns is
 * still starting; runtime_run waits for it before the command runs when
 * s->net_pending points at ns). */
int rt_net_start(const struct rt_spec *s, struct net_ns *ns, struct kiln_error **err);

/* cgroup v2 limits (--memory, --cpus): check before clone, enter the child
 * before it runs, remove after it exits. */
int rt_cgroup_check(const struct rt_spec *s, struct kiln_error **err);
int rt_cgroup_enter(const struct rt_spec *s, pid_t pid, struct kiln_error **err);
void rt_cgroup_remove(const struct rt_spec *s, pid_t pid);

/* Copies the caller's terminal to the pty master until the container side
 * hangs up (raw mode while it runs). */
void rt_tty_relay(int master);
/* In the container, after its devpts is mounted: opens a pty pair from
 * /dev/ptmx, sends the master over sock (SCM_RIGHTS) and returns the slave. */
int rt_tty_make_in_container(int sock, struct kiln_error **err);
/* The caller's side: receives the master (sized like the caller's terminal),
 * or -1 if the container failed first. */
int rt_tty_receive(int sock);

/* ---- nsfd.c: a container's namespaces as files ---- */
/* Sends head (head_len bytes) with the n (1 to RT_NS_COUNT) descriptors fds
 * (SCM_RIGHTS) in one message over sock; 0, or -1 with errno. */
int rt_send_fds(int sock, const void *head, size_t head_len, const int *fds, size_t n);

/* "user", "ipc", ... and CLONE_NEWUSER, ... in RT_NS_* order. */
extern const char *const rt_ns_names[RT_NS_COUNT];
extern const int rt_ns_types[RT_NS_COUNT];
/* Opens the caller's own /proc/self/ns files (no ptrace check applies). */
int rt_ns_open_self(struct rt_ns *ns);
/* 1 if fd is the caller's own namespace of kind i (RT_NS_*). */
int rt_ns_is_own(int fd, int i);

/* ---- process.c: shared by runtime_run and runtime_exec ---- */

/* What a child sends over the error pipe when it fails before exec. */
struct rt_child_msg {
    int status; /* 125/126/127 */
    int code;   /* enum kiln_errc */
    int errnum;
    char text[500];
    int net_failed; /* slirp4netns failed before the exec (net_ns_settle has its message) */
};

void rt_report(int fd, int status, const struct kiln_error *e);
/* 1 if a whole message was read, 0 on EOF (the command was executed). */
int rt_read_child_msg(int fd, struct rt_child_msg *m);
/* Turns a child's message into *err and *status; returns -1. */
int rt_msg_to_error(const struct rt_child_msg *m, int *status, struct kiln_error **err);
/* The spec's env plus what Docker adds when missing: PATH, HOSTNAME, HOME, TERM. */
char **rt_build_env(const struct rt_spec *s, const struct rt_user *u);
/* Puts the spec's stdio (or the tty slave) on 0, 1, 2. */
int rt_setup_stdio(const struct rt_spec *s, int tty_slave, struct kiln_error **err);
/* chdir into cwd (created if missing) without leaving the root. */
int rt_enter_workdir(const char *cwd, struct kiln_error **err);
int rt_resolve_user(const struct rt_spec *s, uid_t keep_uid, gid_t keep_gid, struct rt_user *u,
                    struct kiln_error **err);
/* waitpid status as Docker reports it: the code, or 128+N. */
int rt_docker_status(int st);

#endif
