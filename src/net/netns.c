/* A held network namespace and its pasta process (see net.h for the model).
 *
 * Why a holder process rather than the container's own PID 1: pasta drops
 * its capabilities before it opens the namespace, and the kernel lets a
 * process open another's /proc/PID/ns/ files only when its capabilities are
 * a superset of the target's (or it has CAP_SYS_PTRACE). A root container's
 * PID 1 has every capability while it sets itself up; the holder drops all of
 * them. The holder also lets several containers (a pod) share one namespace
 * whose lifetime is not any one container's.
 *
 * Why pasta rather than slirp4netns: pasta forwards published TCP and UDP
 * ports itself (-t/-u, bound to a chosen host address), maps the host's DNS,
 * copies the host's addresses and routes, and splices loopback-to-namespace
 * TCP without a userspace copy per packet (better throughput); slirp4netns
 * needs its API socket and one call per port. The one thing this pasta
 * (Debian 12's, 2023-03) gets wrong is the replies of a UDP port it
 * translates (host 18082 -> container 5000): for those, pasta forwards the
 * same number and a NAT rule in the namespace (iptables REDIRECT, the
 * kernel's, per namespace) does the translation. So kiln has no userspace
 * forwarder of its own. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
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

/* Closes every fd but keep (and 0-2 stay as /dev/null or whatever they are). */
static void close_all_but(int keep)
{
    if (keep > 3)
        close_range(3, (unsigned)keep - 1, 0);
    close_range((unsigned)(keep >= 3 ? keep + 1 : 3), ~0U, 0);
}

static __attribute__((noreturn)) void holder_main(pid_t parent, int rootless, int ready_w,
                                                  int sync_r)
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
    int flags = CLONE_NEWNET | (rootless ? CLONE_NEWUSER : 0);
    int e = unshare(flags) < 0 ? errno : 0;
    write_all(ready_w, &e, sizeof(e));
    close(ready_w);
    if (e)
        _exit(1);
    if (rootless) {
        char b;
        if (read(sync_r, &b, 1) != 1)
            _exit(1);
    }
    close_all_but(-1);
    /* Nothing of ours must be more capable than pasta, or it cannot open
     * the namespace (see the top of this file). */
    if (!rootless)
        drop_all_caps();
    for (;;)
        pause();
}

static int start_holder(int rootless, net_map_ids_fn map_ids, void *map_ctx, pid_t *out,
                        struct kiln_error **err)
{
    int ready[2], sync[2];
    if (pipe2(ready, O_CLOEXEC) < 0)
        return kiln_error_errno(err, errno, "pipe");
    if (pipe2(sync, O_CLOEXEC) < 0) {
        close(ready[0]);
        close(ready[1]);
        return kiln_error_errno(err, errno, "pipe");
    }
    pid_t parent = getpid();
    pid_t h = fork();
    if (h == 0) {
        close(ready[0]);
        close(sync[1]);
        holder_main(parent, rootless, ready[1], sync[0]);
    }
    close(ready[1]);
    close(sync[0]);
    if (h < 0) {
        close(ready[0]);
        close(sync[1]);
        return kiln_error_errno(err, errno, "fork");
    }
    int e = 0;
    ssize_t r;
    while ((r = read(ready[0], &e, sizeof(e))) < 0 && errno == EINTR)
        ;
    close(ready[0]);
    int ret = 0;
    if (r != sizeof(e))
        ret = kiln_error_set(err, KILN_E_FAIL, "the network namespace holder died");
    else if (e)
        ret = kiln_error_errno(err, e, "creating a network namespace");
    else if (rootless && map_ids && map_ids(h, map_ctx, err) < 0)
        ret = -1;
    if (ret == 0 && rootless)
        write_all(sync[1], "g", 1);
    close(sync[1]);
    if (ret < 0) {
        kill(h, SIGKILL);
        waitpid(h, NULL, 0);
        return -1;
    }
    *out = h;
    return 0;
}

/* pasta's -t/-u spec for one entry: [ADDR/]HOST[-HOST2]:CTR[-CTR2] */
static char *port_spec(const struct net_port *p)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    if (p->host_ip[0])
        strbuf_addf(&sb, "%s/", p->host_ip);
    strbuf_addf(&sb, "%u", p->host_port);
    if (p->count > 1)
        strbuf_addf(&sb, "-%u", p->host_port + p->count - 1);
    strbuf_addf(&sb, ":%u", p->ctr_port);
    if (p->count > 1)
        strbuf_addf(&sb, "-%u", p->ctr_port + p->count - 1);
    return strbuf_detach(&sb);
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

/* Tail of pasta's stderr (kept in a memfd) for an error message. */
static void pasta_error(int logfd, struct kiln_error **err)
{
    char buf[2048];
    ssize_t n = pread(logfd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    /* The last line that is not syslog noise says what went wrong. */
    char *best = NULL;
    for (char *s = buf; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        if (*s && strstr(s, "syslog") == NULL)
            best = s;
        s = nl ? nl + 1 : NULL;
    }
    kiln_error_set(err, KILN_E_FAIL, "pasta (the container's network) failed: %s",
                   best ? best : "no message");
}

/* Forks pasta on the holder's namespace; returns at once with ns->pasta and the
 * fds net_ns_wait reads (ns->pending). */
static int start_pasta(struct net_ns *ns, int rootless, const struct net_port *ports, size_t n,
                       struct kiln_error **err)
{
    pid_t holder = ns->holder;
    struct argv_buf a = {0};
    arg(&a, xstrdup("pasta"));
    arg(&a, xstrdup("-f"));
    arg(&a, xstrdup("-q"));
    arg(&a, xstrdup("--config-net"));
    arg(&a, xstrdup("--no-map-gw"));
    cleanup_free char *resolv = net_resolv_conf();
    if (strstr(resolv, NET_DNS_FORWARD)) {
        /* Only then: with it, this pasta forwards no other DNS traffic. */
        arg(&a, xstrdup("--dns-forward"));
        arg(&a, xstrdup(NET_DNS_FORWARD));
    }
    arg(&a, xstrdup("-T"));
    arg(&a, xstrdup("none"));
    arg(&a, xstrdup("-U"));
    arg(&a, xstrdup("none"));
    int tcp = 0, udp = 0;
    for (size_t i = 0; i < n; i++) {
        arg(&a, xstrdup(ports[i].proto == NET_UDP ? "-u" : "-t"));
        if (ports[i].proto == NET_UDP && ports[i].host_port != ports[i].ctr_port) {
            /* This pasta loses the replies of a UDP port it translates:
             * it forwards the same number, and the namespace's own NAT
             * (udp_redirect) takes it to the container's port. */
            struct net_port same = ports[i];
            same.ctr_port = same.host_port;
            arg(&a, port_spec(&same));
        } else {
            arg(&a, port_spec(&ports[i]));
        }
        if (ports[i].proto == NET_UDP)
            udp++;
        else
            tcp++;
    }
    if (!tcp) {
        arg(&a, xstrdup("-t"));
        arg(&a, xstrdup("none"));
    }
    if (!udp) {
        arg(&a, xstrdup("-u"));
        arg(&a, xstrdup("none"));
    }
    arg(&a, xstrdup("-P"));
    arg(&a, xstrdup("/proc/self/fd/3"));
    if (rootless) {
        /* pasta joins the holder's user namespace, then its network one. */
        arg(&a, xasprintf("%d", (int)holder));
    } else {
        /* Root: stay root (pasta would become nobody, who may not open a
         * root process's namespace), and join only the network namespace. */
        arg(&a, xstrdup("--runas"));
        arg(&a, xstrdup("0:0"));
        arg(&a, xstrdup("--netns"));
        arg(&a, xasprintf("/proc/%d/ns/net", (int)holder));
    }
    int pidp[2];
    int logfd = (int)syscall(SYS_memfd_create, "pasta-log", MFD_CLOEXEC);
    if (logfd < 0 || pipe2(pidp, O_CLOEXEC) < 0) {
        int e = errno;
        if (logfd >= 0)
            close(logfd);
        argv_free(&a);
        return kiln_error_errno(err, e, "starting pasta");
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
        dup2(pidp[1], 3); /* no close-on-exec: pasta writes its pid here when ready */
        close_range(4, ~0U, 0);
        /* pasta re-executes itself as pasta.avx2 where the CPU has AVX2
         * (the faster build); going there at once saves one exec and
         * dynamic load on the start's critical path. argv[0] stays "pasta"
         * (its mode comes from that name). */
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2"))
            execvp("pasta.avx2", a.v);
        execvp("pasta", a.v);
        dprintf(2, "cannot run pasta: %s (install Debian's passt package)\n", strerror(errno));
        _exit(127);
    }
    close(pidp[1]);
    argv_free(&a);
    if (p < 0) {
        int e = errno;
        close(pidp[0]);
        close(logfd);
        return kiln_error_errno(err, e, "fork");
    }
    ns->pasta = p;
    ns->ready_fd = pidp[0];
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
    /* A line with pasta's pid once it is configured and listening; EOF if it
     * exited instead. */
    char buf[32];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(buf) - 1 &&
           (r = read(ns->ready_fd, buf + got, sizeof(buf) - 1 - got)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        got += (size_t)r;
        if (memchr(buf, '\n', got))
            break;
    }
    if (got == 0) {
        while (waitpid(ns->pasta, NULL, 0) < 0 && errno == EINTR)
            ;
        ns->pasta = 0;
        pasta_error(ns->log_fd, err);
        close_pending(ns);
        return -1;
    }
    close_pending(ns);
    return 0;
}

/* Runs iptables inside the holder's namespaces (user first, when it has its
 * own); returns its exit status or -1. */
static int iptables_in(pid_t holder, char *const *argv, struct kiln_error **err)
{
    int netfd, userfd;
    if (net_ns_open(holder, &netfd, &userfd, err) < 0)
        return -1;
    int logfd = (int)syscall(SYS_memfd_create, "iptables-log", MFD_CLOEXEC);
    pid_t p = fork();
    if (p == 0) {
        if ((userfd >= 0 && setns(userfd, CLONE_NEWUSER) < 0) || setns(netfd, CLONE_NEWNET) < 0) {
            dprintf(logfd, "joining the network namespace: %s", strerror(errno));
            _exit(126);
        }
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        if (logfd >= 0)
            dup2(logfd, 2);
        execvp(argv[0], argv);
        dprintf(2, "cannot run %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    close(netfd);
    if (userfd >= 0)
        close(userfd);
    int st = 0;
    if (p > 0)
        while (waitpid(p, &st, 0) < 0 && errno == EINTR)
            ;
    int code = p < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (code != 0) {
        char buf[300] = "";
        ssize_t n = logfd >= 0 ? pread(logfd, buf, sizeof(buf) - 1, 0) : 0;
        buf[n > 0 ? n : 0] = '\0';
        kiln_error_set(err, KILN_E_FAIL, "publishing a UDP port: iptables failed: %s",
                       buf[0] ? buf : "no message");
    }
    if (logfd >= 0)
        close(logfd);
    return code;
}

/* UDP ports published on another number than the container's: a NAT
 * REDIRECT in the namespace from the host's number (what pasta forwards) to
 * the container's, for pasta's loopback path (OUTPUT) and its tap (PREROUTING). */
static int udp_redirect(pid_t holder, const struct net_port *ports, size_t n,
                        struct kiln_error **err)
{
    for (size_t i = 0; i < n; i++) {
        const struct net_port *p = &ports[i];
        if (p->proto != NET_UDP || p->host_port == p->ctr_port)
            continue;
        for (unsigned j = 0; j < p->count; j++) {
            static const char *const chains[] = {"OUTPUT", "PREROUTING"};
            for (size_t c = 0; c < 2; c++) {
                char dport[16], to[16];
                snprintf(dport, sizeof(dport), "%u", p->host_port + j);
                snprintf(to, sizeof(to), "%u", p->ctr_port + j);
                char *argv[] = {"iptables",   "-w",  "-t",      "nat", "-A", (char *)chains[c],
                                "-p",         "udp", "--dport", dport, "-j", "REDIRECT",
                                "--to-ports", to,    NULL};
                if (iptables_in(holder, argv, err) != 0)
                    return -1;
            }
        }
    }
    return 0;
}

int net_ns_start(const struct net_port *ports, size_t n_ports, net_map_ids_fn map_ids,
                 void *map_ctx, struct net_ns *ns, struct kiln_error **err)
{
    memset(ns, 0, sizeof(*ns));
    ns->ready_fd = ns->log_fd = -1;
    int rootless = geteuid() != 0;
    if (start_holder(rootless, map_ids, map_ctx, &ns->holder, err) < 0)
        return -1;
    ns->own_userns = rootless;
    if (udp_redirect(ns->holder, ports, n_ports, err) < 0 ||
        start_pasta(ns, rootless, ports, n_ports, err) < 0) {
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
    kill_wait(&ns->pasta);
    kill_wait(&ns->holder);
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

void net_ns_reap_recorded(pid_t holder, pid_t pasta)
{
    /* pasta execs passt (or passt.avx2) under the name it was called by. */
    if (pasta > 0 && (comm_is(pasta, "pasta") || comm_is(pasta, "passt")))
        kill(pasta, SIGKILL);
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
            /* A stub resolver on the host's loopback: reach it through pasta. */
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
