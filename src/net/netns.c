/* A held network namespace, its slirp4netns and its port forwarder (see
 * net.h for the model).
 *
 * The holder process owns the namespace (and, rootless, its user namespace),
 * so that several containers (a pod) can share one whose lifetime is not any
 * one container's. It also forwards the published ports (forward.c): it
 * inherits the host sockets the supervisor bound and, being in the
 * namespace, creates the container-side sockets there, so no container
 * address is ever reached from the host's namespace.
 *
 * Why slirp4netns and not pasta (Debian 12's passt, used before): pasta
 * initialises about 30 MB of packet buffers at start (7,600 page faults,
 * 130-155 ms of CPU on this VM), slirp4netns --configure about 14 ms and 3 MB.
 * slirp4netns's own port forwarding (its API socket) goes through libslirp's
 * TCP stack in user space; kiln's forwarder splices between kernel sockets
 * instead (forward.c says more). */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/net.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static void drop_all_caps(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof(d));
    syscall(SYS_capset, &h, d);
}

/* Closes every fd from 3 up but the forwarder's sockets. */
static void close_all_but(const struct net_fwd *fwd, size_t n)
{
    unsigned from = 3;
    for (;;) {
        /* the lowest kept fd at or above from */
        unsigned next = ~0U;
        for (size_t i = 0; i < n; i++)
            if ((unsigned)fwd[i].fd >= from && (unsigned)fwd[i].fd < next)
                next = (unsigned)fwd[i].fd;
        if (next == ~0U) {
            close_range(from, ~0U, 0);
            return;
        }
        if (next > from)
            close_range(from, next - 1, 0);
        from = next + 1;
    }
}

/* Brings the namespace's loopback up (slirp4netns configures only eth0). */
static void loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return;
    struct ifreq ifr = {0};
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    close(s);
}

/* The tap device slirp4netns attaches to, made persistent before it starts:
 * slirp4netns opens the existing device, and its exit then leaves the device
 * to go with the namespace, in the kernel's own time. A tap that slirp4netns
 * makes itself is unregistered by its exit, which waits for RCU grace
 * periods: 15-18 ms of every release on this VM (kiln waits for slirp4netns's
 * exit). Best effort: without it slirp4netns makes the device. Runs in the
 * namespace, with CAP_NET_ADMIN over it. */
static void tap_precreate(void)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    struct ifreq ifr = {0};
    /* slirp4netns's flags: another set would not attach */
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    memcpy(ifr.ifr_name, NET_TAP_NAME, sizeof(NET_TAP_NAME));
    if (ioctl(fd, TUNSETIFF, &ifr) == 0)
        ioctl(fd, TUNSETPERSIST, 1);
    close(fd); /* without TUNSETPERSIST this removes the device again */
}

/* The holder: created in the new namespaces by clone(2), so they exist when
 * clone returns. A rootless holder makes the tap (only a process in its user
 * namespace can) and says so on ready_w, then waits on sync_r for its id
 * maps; a root holder has nothing to announce (ready_w, sync_r are -1). */
static __attribute__((noreturn)) void holder_main(pid_t parent, int ready_w, int sync_r,
                                                  const struct net_fwd *fwd, size_t n_fwd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent)
        _exit(1);
    prctl(PR_SET_NAME, NET_HOLDER_COMM, 0, 0, 0);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
    }
    int rootless = ready_w >= 0;
    if (rootless) {
        /* A new user namespace's creator has its capabilities before any
         * mapping. Loopback before the namespace is announced: a
         * container's command may run as soon as slirp4netns is ready. */
        tap_precreate();
        loopback_up();
        int e = 0;
        write_all(ready_w, &e, sizeof(e));
        close(ready_w);
        char b;
        if (read(sync_r, &b, 1) != 1)
            _exit(1);
    }
    close_all_but(fwd, n_fwd);
    /* The forwarder needs no capability (its host sockets are bound). */
    if (!rootless)
        drop_all_caps();
    if (n_fwd)
        net_fwd_run(fwd, n_fwd, NET_UDP_IDLE_MS, -1);
    for (;;)
        pause();
}

/* Root: the tap and loopback of the holder's namespace, made by slirp4netns's
 * process before its exec (it enters the namespace and comes back), so
 * neither the caller nor slirp4netns waits for the holder to be scheduled,
 * and the device's registration runs beside the container's setup. */
static void setup_before_exec(int ns_fd, int host_fd)
{
    if (setns(ns_fd, CLONE_NEWNET) < 0)
        return; /* slirp4netns makes the device and brings loopback up */
    tap_precreate();
    loopback_up();
    if (setns(host_fd, CLONE_NEWNET) < 0) {
        dprintf(2, "cannot return to the host's network namespace: %s\n", strerror(errno));
        _exit(127);
    }
}

static int start_holder(int rootless, net_map_ids_fn map_ids, void *map_ctx,
                        const struct net_fwd *fwd, size_t n_fwd, pid_t *out,
                        struct kiln_error **err)
{
    int ready[2] = {-1, -1}, sync[2] = {-1, -1};
    if (rootless && pipe2(ready, O_CLOEXEC) < 0)
        return kiln_error_errno(err, errno, "pipe");
    if (rootless && pipe2(sync, O_CLOEXEC) < 0) {
        close(ready[0]);
        close(ready[1]);
        return kiln_error_errno(err, errno, "pipe");
    }
    pid_t parent = getpid();
    unsigned long flags = CLONE_NEWNET | (rootless ? CLONE_NEWUSER : 0);
    fflush(NULL);
    pid_t h = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
    if (h == 0) {
        if (rootless) {
            close(ready[0]);
            close(sync[1]);
        }
        holder_main(parent, ready[1], sync[0], fwd, n_fwd);
    }
    int clone_errno = errno;
    if (rootless) {
        close(ready[1]);
        close(sync[0]);
    }
    if (h < 0) {
        if (rootless) {
            close(ready[0]);
            close(sync[1]);
        }
        return kiln_error_errno(err, clone_errno, "creating a network namespace");
    }
    int ret = 0;
    if (rootless) {
        /* The maps are written while the holder makes its tap. */
        if (map_ids && map_ids(h, map_ctx, err) < 0)
            ret = -1;
        if (ret == 0)
            write_all(sync[1], "g", 1);
        close(sync[1]);
        int e = 0;
        ssize_t r;
        while ((r = read(ready[0], &e, sizeof(e))) < 0 && errno == EINTR)
            ;
        close(ready[0]);
        if (ret == 0 && r != sizeof(e))
            ret = kiln_error_set(err, KILN_E_FAIL, "the network namespace holder died");
    }
    if (ret < 0) {
        kill(h, SIGKILL);
        waitpid(h, NULL, 0);
        return -1;
    }
    *out = h;
    return 0;
}

struct argv_buf {
    char **v;
    size_t n, cap;
};

static void arg(struct argv_buf *a, char *s)
{
    if (a->n + 2 > a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->v = xrealloc(a->v, a->cap * sizeof(char *));
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static void argv_free(struct argv_buf *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
}

/* Tail of slirp4netns's stderr (kept in a memfd) for an error message. */
static void slirp_error(int logfd, struct kiln_error **err)
{
    char buf[2048];
    ssize_t n = pread(logfd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    /* The last line that says something. */
    char *best = NULL;
    for (char *s = buf; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        if (*s)
            best = s;
        s = nl ? nl + 1 : NULL;
    }
    kiln_error_set(err, KILN_E_FAIL, "slirp4netns (the container's network) failed: %s",
                   best ? best : "no message");
}

/* Forks slirp4netns on the holder's namespace; returns at once with
 * ns->slirp and the fds net_ns_wait reads (ns->pending). */
static int start_slirp(struct net_ns *ns, int rootless, struct kiln_error **err)
{
    pid_t holder = ns->holder;
    struct argv_buf a = {0};
    arg(&a, xstrdup("slirp4netns"));
    arg(&a, xstrdup("--configure"));
    /* podman's MTU: fewer, larger packets through libslirp */
    arg(&a, xstrdup("--mtu=65520"));
    arg(&a, xstrdup("--ready-fd=3"));
    cleanup_free char *resolv = net_resolv_conf();
    /* The host's 127.0.0.1 stays out of reach, unless the host's resolver
     * listens there (then 10.0.2.3 forwards to it through that path). */
    if (strstr(resolv, NET_DNS_FORWARD) == NULL)
        arg(&a, xstrdup("--disable-host-loopback"));
    if (rootless)
        arg(&a, xasprintf("--userns-path=/proc/%d/ns/user", (int)holder));
    arg(&a, xstrdup("--netns-type=path"));
    arg(&a, xasprintf("/proc/%d/ns/net", (int)holder));
    arg(&a, xstrdup(NET_TAP_NAME));
    int readyp[2];
    int logfd = (int)syscall(SYS_memfd_create, "slirp4netns-log", MFD_CLOEXEC);
    if (logfd < 0 || pipe2(readyp, O_CLOEXEC) < 0) {
        int e = errno;
        if (logfd >= 0)
            close(logfd);
        argv_free(&a);
        return kiln_error_errno(err, e, "starting slirp4netns");
    }
    /* root: the child makes the tap in the namespace (setup_before_exec) */
    int ns_fd = -1, host_fd = -1;
    if (!rootless) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)holder);
        ns_fd = open(path, O_RDONLY | O_CLOEXEC);
        host_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    }
    pid_t parent = getpid();
    pid_t p = fork();
    if (p == 0) {
        /* Dies with the supervisor, however it dies. */
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != parent)
            _exit(1);
        for (int sig = 1; sig < NSIG; sig++)
            signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(logfd, 2);
        dup2(readyp[1], 3); /* no close-on-exec: a byte here once configured */
        if (ns_fd >= 0 && host_fd >= 0)
            setup_before_exec(ns_fd, host_fd); /* its message goes to logfd */
        close_range(4, ~0U, 0);
        execvp(a.v[0], a.v);
        dprintf(2, "cannot run slirp4netns: %s (install Debian's slirp4netns package)\n",
                strerror(errno));
        _exit(127);
    }
    close(readyp[1]);
    if (ns_fd >= 0)
        close(ns_fd);
    if (host_fd >= 0)
        close(host_fd);
    argv_free(&a);
    if (p < 0) {
        int e = errno;
        close(readyp[0]);
        close(logfd);
        return kiln_error_errno(err, e, "fork");
    }
    ns->slirp = p;
    ns->ready_fd = readyp[0];
    ns->log_fd = logfd;
    ns->pending = 1;
    return 0;
}

static void close_pending(struct net_ns *ns)
{
    if (!ns->pending)
        return;
    close(ns->ready_fd);
    close(ns->log_fd);
    ns->ready_fd = ns->log_fd = -1;
    ns->pending = 0;
}

int net_ns_wait(struct net_ns *ns, struct kiln_error **err)
{
    if (!ns->pending)
        return 0;
    /* A byte once it configured the namespace; EOF if it exited instead. */
    char b;
    ssize_t r;
    while ((r = read(ns->ready_fd, &b, 1)) < 0 && errno == EINTR)
        ;
    if (r != 1) {
        while (waitpid(ns->slirp, NULL, 0) < 0 && errno == EINTR)
            ;
        ns->slirp = 0;
        slirp_error(ns->log_fd, err);
        close_pending(ns);
        return -1;
    }
    close_pending(ns);
    return 0;
}

int net_ns_ready_fd(const struct net_ns *ns)
{
    return ns->pending ? ns->ready_fd : -1;
}

int net_ns_settle(struct net_ns *ns, int failed, struct kiln_error **err)
{
    if (!ns->pending)
        return 0;
    if (failed) {
        while (waitpid(ns->slirp, NULL, 0) < 0 && errno == EINTR)
            ;
        ns->slirp = 0;
        if (err != NULL)
            slirp_error(ns->log_fd, err);
        close_pending(ns);
        return -1;
    }
    close_pending(ns);
    return 0;
}

int net_ns_start(const struct net_port *ports, size_t n_ports, net_map_ids_fn map_ids,
                 void *map_ctx, struct net_ns *ns, struct kiln_error **err)
{
    memset(ns, 0, sizeof(*ns));
    ns->ready_fd = ns->log_fd = -1;
    int rootless = geteuid() != 0;
    /* The host side of every published port, before anything starts: a
     * taken port fails here, naming it. The holder inherits them. */
    struct net_fwd *fwd = NULL;
    size_t n_fwd = 0;
    if (net_fwd_bind(ports, n_ports, &fwd, &n_fwd, err) < 0)
        return -1;
    int r = start_holder(rootless, map_ids, map_ctx, fwd, n_fwd, &ns->holder, err);
    net_fwd_close(fwd, n_fwd);
    if (r < 0)
        return -1;
    ns->own_userns = rootless;
    if (start_slirp(ns, rootless, err) < 0) {
        net_ns_release(ns);
        return -1;
    }
    return 0;
}

int net_ns_create(const struct net_port *ports, size_t n_ports, net_map_ids_fn map_ids,
                  void *map_ctx, struct net_ns *ns, struct kiln_error **err)
{
    if (net_ns_start(ports, n_ports, map_ids, map_ctx, ns, err) < 0)
        return -1;
    if (net_ns_wait(ns, err) < 0) {
        net_ns_release(ns);
        return -1;
    }
    return 0;
}

static void kill_wait(pid_t *p)
{
    if (*p <= 0)
        return;
    kill(*p, SIGKILL);
    while (waitpid(*p, NULL, 0) < 0 && errno == EINTR)
        ;
    *p = 0;
}

void net_ns_release(struct net_ns *ns)
{
    close_pending(ns);
    /* Both signalled before either is waited for: they exit side by side. */
    if (ns->slirp > 0)
        kill(ns->slirp, SIGKILL);
    kill_wait(&ns->holder);
    kill_wait(&ns->slirp);
}

/* 1 if /proc/pid/comm starts with prefix. */
static int comm_is(pid_t pid, const char *prefix)
{
    char path[64], comm[32] = {0};
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, comm, sizeof(comm) - 1);
    close(fd);
    return n > 0 && strncmp(comm, prefix, strlen(prefix)) == 0;
}

void net_ns_reap_recorded(pid_t holder, pid_t slirp)
{
    if (slirp > 0 && comm_is(slirp, "slirp4netns"))
        kill(slirp, SIGKILL);
    if (holder > 0 && comm_is(holder, NET_HOLDER_COMM))
        kill(holder, SIGKILL);
}

int net_ns_open(pid_t pid, int *netns_fd, int *userns_fd, struct kiln_error **err)
{
    char path[64];
    *netns_fd = *userns_fd = -1;
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    *netns_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*netns_fd < 0)
        return kiln_error_errno(err, errno, "network namespace of process %d", (int)pid);
    snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
    struct stat a, b;
    if (stat(path, &a) == 0 && stat("/proc/self/ns/user", &b) == 0 &&
        (a.st_ino != b.st_ino || a.st_dev != b.st_dev)) {
        *userns_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (*userns_fd < 0) {
            int e = errno;
            close(*netns_fd);
            *netns_fd = -1;
            return kiln_error_errno(err, e, "user namespace of process %d", (int)pid);
        }
    }
    return 0;
}

char *net_resolv_conf(void)
{
    char *text = NULL;
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    if (read_file("/etc/resolv.conf", 1 << 20, &text, NULL, NULL) < 0)
        return strbuf_detach(&sb);
    int forwarded = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        const char *addr = NULL;
        if (strncmp(line, "nameserver", 10) == 0 && (line[10] == ' ' || line[10] == '\t')) {
            addr = line + 11;
            while (*addr == ' ' || *addr == '\t')
                addr++;
        }
        if (addr && (strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0)) {
            /* A stub resolver on the host's loopback: reach it through slirp4netns. */
            if (!forwarded++)
                strbuf_addf(&sb, "nameserver %s\n", NET_DNS_FORWARD);
        } else {
            strbuf_addf(&sb, "%s\n", line);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return strbuf_detach(&sb);
}
