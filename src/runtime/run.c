/* runtime_run: clone the container's PID 1 into new namespaces, give it a user
 * namespace map or a cgroup when asked, and wait. The child side builds the
 * root, switches user, locks itself down and execs (through kiln's init unless
 * no_init). Failures before exec come back over a close-on-exec pipe: EOF on it
 * means the command was executed. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/net.h"
#include "runtime/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"
#include "util/userns.h"

struct child_ctx {
    const struct rt_spec *s;
    int errfd;          /* write end, close-on-exec */
    int syncfd;         /* read end: parent finished maps and cgroup; -1 if none */
    int netwait;        /* slirp4netns's ready pipe (net_ns_ready_fd): a byte once the
                         * network is ready, EOF if it failed; -1 if none */
    int parent_ends[2]; /* the parent's ends: of the sync pipe, closed in the child (or
                         * a failing parent's close would not be an EOF here), and of
                         * the namespace socket */
    int recfd;          /* write end: mount points created in the root, or -1 */
    int in_userns;
    int ttysock; /* -t: where to send the pty master made in the container, or -1 */
    int netfd;   /* RT_NET_PRIVATE: the network namespace to join, or -1 */
    int nssock;  /* s->ns_out: where to send PID 1's namespaces, or -1 */
    uid_t keep_uid;
    gid_t keep_gid;
};

static __attribute__((noreturn)) void child_fail(struct child_ctx *c, int status,
                                                 struct kiln_error *e)
{
    rt_report(c->errfd, status, e);
    _exit(status);
}

static void loopback_up(void)
{
    int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sk < 0)
        return;
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (ioctl(sk, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        ioctl(sk, SIOCSIFFLAGS, &ifr);
    }
    close(sk);
}

static __attribute__((noreturn)) void child_main(struct child_ctx *c)
{
    const struct rt_spec *s = c->s;
    struct kiln_error *err = NULL;
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    for (int i = 0; i < 2; i++)
        if (c->parent_ends[i] >= 0)
            close(c->parent_ends[i]);
    if (c->syncfd >= 0) {
        char b;
        if (read(c->syncfd, &b, 1) != 1)
            _exit(RT_EXIT_SETUP); /* the parent failed and says why */
        close(c->syncfd);
    }
    if (c->netfd >= 0) {
        if (setns(c->netfd, CLONE_NEWNET) < 0) {
            kiln_error_errno(&err, errno, "joining the container's network namespace");
            child_fail(c, RT_EXIT_SETUP, err);
        }
        close(c->netfd);
    }
    if (c->nssock >= 0) {
        /* Its own, while they are open to it: all of them are made now. A
         * failure only leaves kiln exec to find them in /proc. */
        struct rt_ns own;
        if (rt_ns_open_self(&own) == 0)
            rt_ns_send(c->nssock, &own);
        rt_ns_close(&own);
        close(c->nssock);
    }
    if (c->ttysock < 0 && rt_setup_stdio(s, -1, &err) < 0)
        child_fail(c, RT_EXIT_SETUP, err);
    if (rt_setup_rootfs(s, c->in_userns, c->recfd, &err) < 0)
        child_fail(c, RT_EXIT_SETUP, err);
    if (c->recfd >= 0)
        close(c->recfd);
    const char *host = s->hostname ? s->hostname : "kiln";
    if (sethostname(host, strlen(host)) < 0) {
        kiln_error_errno(&err, errno, "setting hostname %s", host);
        child_fail(c, RT_EXIT_SETUP, err);
    }
    if (s->network == RT_NET_NONE)
        loopback_up();
    if (c->ttysock >= 0) {
        /* The pty comes from the container's own devpts, so its name
         * resolves inside; the master goes to the caller to relay. */
        int slave = rt_tty_make_in_container(c->ttysock, &err);
        close(c->ttysock);
        if (slave < 0 || rt_setup_stdio(s, slave, &err) < 0)
            child_fail(c, RT_EXIT_SETUP, err);
        close(slave);
    }

    struct rt_user u;
    if (rt_resolve_user(s, c->keep_uid, c->keep_gid, &u, &err) < 0)
        child_fail(c, RT_EXIT_SETUP, err);
    char **env = rt_build_env(s, &u);
    /* The user owns their terminal (a failure only affects opening it by name). */
    if (s->tty && fchown(0, u.uid, u.gid) < 0)
        errno = 0;
    if (rt_enter_workdir(s->cwd, &err) < 0 || rt_apply_rlimits(s, &err) < 0 ||
        rt_drop_bounding(s, &err) < 0 || rt_become_user(s, &u, &err) < 0)
        child_fail(c, RT_EXIT_SETUP, err);
    if (c->netwait >= 0) {
        /* The network's slirp4netns started beside this setup; the command must
         * find the network configured and its ports published. Read here, not
         * relayed by the parent: one process wake-up fewer before the exec. */
        char b;
        ssize_t r;
        while ((r = read(c->netwait, &b, 1)) < 0 && errno == EINTR)
            ;
        if (r != 1) {
            /* EOF: slirp4netns exited; the parent has its message (net_ns_settle) */
            struct rt_child_msg m = {.status = RT_EXIT_SETUP, .code = KILN_E_FAIL, .net_failed = 1};
            write_all(c->errfd, &m, sizeof(m));
            _exit(RT_EXIT_SETUP);
        }
        close(c->netwait);
    }
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* Only 0, 1, 2 survive the exec (the error pipe closes on it). */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    if (rt_lock_down(s->sync_noop, &err) < 0)
        child_fail(c, RT_EXIT_SETUP, err);

    int status;
    if (s->no_init) {
        setsid();
        if (s->tty)
            ioctl(0, TIOCSCTTY, 0);
        rt_exec_command(s->argv, env, &status, &err);
        child_fail(c, status, err);
    }
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    pid_t cmd = fork();
    if (cmd < 0) {
        kiln_error_errno(&err, errno, "fork");
        child_fail(c, RT_EXIT_SETUP, err);
    }
    if (cmd == 0) {
        sigprocmask(SIG_SETMASK, &none, NULL);
        setsid();
        if (s->tty)
            ioctl(0, TIOCSCTTY, 0);
        rt_exec_command(s->argv, env, &status, &err);
        child_fail(c, status, err);
    }
    close_range(3, ~0U, 0);
    _exit(rt_init_loop(cmd));
}

static volatile sig_atomic_t forward_to;

static void forward_signal(int sig)
{
    if (forward_to > 0)
        kill((pid_t)forward_to, sig);
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define N_FORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

static int runtime_run_in(const struct rt_spec *s, int netfd, int joined_userns,
                          struct net_ns *pending, uid_t keep_uid, gid_t keep_gid, int *status,
                          struct kiln_error **err);

int runtime_map_ids(pid_t pid, void *ctx, struct kiln_error **err)
{
    return rt_userns_map(pid, ctx ? *(const enum rt_userns *)ctx : RT_USERNS_AUTO, err);
}

int rt_net_start(const struct rt_spec *s, struct net_ns *ns, struct kiln_error **err)
{
    return net_ns_start(s->ports, s->n_ports, runtime_map_ids, (void *)&s->userns, ns, err);
}

/* RT_NET_PRIVATE: opens the namespace to join (*netfd), making one for this
 * run when there is no holder yet (*own), and moves the caller into the
 * holder's user namespace when it has one (*joined). */
static int enter_network(const struct rt_spec *s, struct net_ns *own, int *netfd, int *joined,
                         struct kiln_error **err)
{
    pid_t holder = s->net_holder;
    if (holder <= 0) {
        if (rt_net_start(s, own, err) < 0)
            return -1;
        holder = own->holder;
    }
    int userfd;
    if (net_ns_open(holder, netfd, &userfd, err) < 0)
        return -1;
    if (userfd >= 0) {
        /* The container's processes are created inside the namespace's
         * owner, which holds the rootless id map already. */
        int r = setns(userfd, CLONE_NEWUSER);
        int e = errno;
        close(userfd);
        if (r < 0)
            return kiln_error_errno(err, e, "joining the network's user namespace");
        *joined = 1;
    }
    return 0;
}

int runtime_run(const struct rt_spec *s, int *status, struct kiln_error **err)
{
    *status = RT_EXIT_SETUP;
    if (s->argv == NULL || s->argv[0] == NULL)
        return kiln_error_set(err, KILN_E_USAGE, "no command specified");
    uid_t keep_uid = getuid();
    gid_t keep_gid = getgid();
    struct net_ns own_net = {0};
    cleanup_close int netfd = -1;
    int joined_userns = 0;
    if (s->network == RT_NET_PRIVATE &&
        enter_network(s, &own_net, &netfd, &joined_userns, err) < 0) {
        net_ns_release(&own_net);
        return -1;
    }
    struct net_ns *pending = s->net_pending;
    if (own_net.pending)
        pending = &own_net;
    int r = runtime_run_in(s, netfd, joined_userns, pending, keep_uid, keep_gid, status, err);
    net_ns_release(&own_net);
    return r;
}

static int runtime_run_in(const struct rt_spec *s, int netfd, int joined_userns,
                          struct net_ns *pending, uid_t keep_uid, gid_t keep_gid, int *status,
                          struct kiln_error **err)
{
    int in_userns = joined_userns || s->userns == RT_USERNS_KEEP_ID ||
                    (s->userns == RT_USERNS_AUTO && geteuid() != 0);
    int need_cgroup = s->memory_bytes > 0 || s->cpus > 0;
    if (need_cgroup && rt_cgroup_check(s, err) < 0)
        return -1;

    cleanup_close int tty_master = -1;
    int ttysock[2] = {-1, -1};
    if (s->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ttysock) < 0)
        return kiln_error_errno(err, errno, "socketpair");
    cleanup_close int ns_r = -1;
    int ns_w = -1;
    if (s->ns_out != NULL) {
        int sp[2];
        rt_ns_init(s->ns_out);
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
            return kiln_error_errno(err, errno, "socketpair");
        ns_r = sp[0];
        ns_w = sp[1];
    }
    int errp[2], syncp[2] = {-1, -1};
    cleanup_close int rec_r = -1;
    int rec_w = -1;
    if (s->upperdir != NULL && !s->discard_upper) {
        int rp[2];
        if (pipe2(rp, O_CLOEXEC) < 0) {
            if (ns_w >= 0)
                close(ns_w);
            return kiln_error_errno(err, errno, "pipe");
        }
        rec_r = rp[0];
        rec_w = rp[1];
    }
    if (pipe2(errp, O_CLOEXEC) < 0) {
        if (rec_w >= 0)
            close(rec_w);
        if (ns_w >= 0)
            close(ns_w);
        return kiln_error_errno(err, errno, "pipe");
    }
    int map_ids_needed = in_userns && !joined_userns;
    if ((map_ids_needed || need_cgroup) && pipe2(syncp, O_CLOEXEC) < 0) {
        int e = errno;
        close(errp[0]);
        close(errp[1]);
        if (rec_w >= 0)
            close(rec_w);
        if (ns_w >= 0)
            close(ns_w);
        return kiln_error_errno(err, e, "pipe");
    }
    struct child_ctx c = {
        .s = s,
        .errfd = errp[1],
        .syncfd = syncp[0],
        .netwait = pending != NULL ? net_ns_ready_fd(pending) : -1,
        .parent_ends = {syncp[1], ns_r},
        .recfd = rec_w,
        /* Root of a user namespace kiln did not create (kiln inside `unshare
         * -U`) sets up the root as a rootless user does. */
        .in_userns = in_userns || !userns_is_initial(),
        .ttysock = ttysock[1],
        .netfd = netfd,
        .nssock = ns_w,
        .keep_uid = keep_uid,
        .keep_gid = keep_gid,
    };
    unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
    if (s->network == RT_NET_NONE)
        flags |= CLONE_NEWNET;
    if (in_userns && !joined_userns)
        flags |= CLONE_NEWUSER;
    fflush(NULL);
    /* A raw clone runs none of glibc's fork handlers, and child_main
     * allocates: a caller with other threads runs runtime_run in a child made
     * by fork() (build's step_run.c), whose allocator glibc leaves consistent.
     * ASan's allocator (GCC 12) is not reset by fork: make asan once hung here
     * in a two-platform build, this child waiting for a lock another thread
     * of the build held when step_run forked. */
    pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid == 0)
        child_main(&c);
    int clone_errno = errno;
    close(errp[1]);
    if (rec_w >= 0)
        close(rec_w);
    if (ns_w >= 0)
        close(ns_w);
    if (syncp[0] >= 0)
        close(syncp[0]);
    if (ttysock[1] >= 0)
        close(ttysock[1]);
    if (pid < 0) {
        close(errp[0]);
        if (syncp[1] >= 0)
            close(syncp[1]);
        return kiln_error_errno(err, clone_errno, "creating the container's namespaces");
    }

    int ret = 0;
    struct kiln_error *setup_err = NULL;
    if (map_ids_needed && rt_userns_map(pid, s->userns, &setup_err) < 0)
        ret = -1;
    if (ret == 0 && need_cgroup && rt_cgroup_enter(s, pid, &setup_err) < 0)
        ret = -1;
    if (syncp[1] >= 0) {
        if (ret == 0)
            write_all(syncp[1], "g", 1);
        close(syncp[1]);
    }

    struct sigaction old[N_FORWARDED];
    struct sigaction sa = {.sa_handler = forward_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    forward_to = pid;
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaction(forwarded[i], &sa, &old[i]);

    if (ttysock[0] >= 0) {
        if (ret == 0)
            tty_master = rt_tty_receive(ttysock[0]);
        close(ttysock[0]);
    }
    struct rt_child_msg m;
    int failed = rt_read_child_msg(errp[0], &m);
    close(errp[0]);
    /* The child waited for slirp4netns itself; its failure is the start's. */
    if (pending != NULL &&
        net_ns_settle(pending, failed && m.net_failed, ret == 0 ? &setup_err : NULL) < 0 &&
        ret == 0)
        ret = -1;
    /* PID 1 sent its namespaces before it exec'd the command (or failed). */
    if (ret == 0 && !failed && ns_r >= 0)
        rt_ns_recv(ns_r, MSG_DONTWAIT, s->ns_out);
    int started = ret == 0 && !failed && s->on_start != NULL;
    if (started)
        s->on_start(s->on_start_ctx, pid);
    if (ret == 0 && tty_master >= 0 && !failed)
        rt_tty_relay(tty_master);

    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    forward_to = 0;
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaction(forwarded[i], &old[i], NULL);
    if (started && s->on_exit != NULL)
        s->on_exit(s->on_start_ctx);
    /* The last hold on its mount namespace: its mounts go now. */
    if (s->ns_out != NULL)
        rt_ns_close(s->ns_out);
    if (need_cgroup)
        rt_cgroup_remove(s, pid);
    if (rec_r >= 0) {
        struct strbuf made = STRBUF_INIT;
        strbuf_init(&made);
        char buf[4096];
        ssize_t r;
        while ((r = read(rec_r, buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))
            if (r > 0)
                strbuf_add(&made, buf, (size_t)r);
        rt_forget_mountpoints(s->upperdir, made.buf, made.len);
        strbuf_release(&made);
    }

    if (ret < 0) {
        *err = setup_err;
        return -1;
    }
    if (failed)
        return rt_msg_to_error(&m, status, err);
    *status = rt_docker_status(st);
    return 0;
}
