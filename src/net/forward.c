/* kiln's port forwarder: published ports from the host into a container's
 * network namespace (see net.h, net_fwd_*).
 *
 * Why kiln's own and not slirp4netns's: slirp4netns (the user-mode network
 * of the namespace, for its outbound traffic and DNS) forwards a port only
 * through its API socket, and every byte then goes through libslirp's TCP
 * stack and the tap device (a copy and a segmentation per packet in user
 * space). Here the host side is an ordinary socket bound in the host's
 * namespace, the container side a socket created inside the container's
 * namespace and connected to its loopback, and the bytes move between them
 * with splice(2) through a pipe: no copy through user space, no tap, no
 * address of the container reached from the host's namespace.
 *
 * The loop runs in the namespace's holder process (netns.c), which is in the
 * container's namespace (and user namespace, rootless) and inherited the host
 * sockets from the supervisor, which bound them before the container started.
 * TCP: per accepted connection one socket connected to 127.0.0.1:CTRPORT and
 * a pipe per direction; half-closes are passed on (shutdown), a reset closes
 * both. UDP: per client address one socket connected to 127.0.0.1:CTRPORT,
 * whose replies go back to the client from the published socket; a flow idle
 * for udp_idle_ms is closed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"
#include "util/strbuf.h"

#define PIPE_BYTES (256 * 1024)

enum ev_kind { EV_TCP_LISTEN, EV_UDP_LISTEN, EV_CONN, EV_FLOW, EV_STOP };

struct ev {
    enum ev_kind kind;
    int side; /* EV_CONN: 0 host side, 1 container side */
    void *p;
};

struct listener {
    struct ev ev;
    const struct net_fwd *f;
    int paused; /* accept hit EMFILE: resumed when a connection closes */
};

struct conn {
    int fd[2];      /* 0: accepted on the host, 1: connected inside */
    int pipe[2][2]; /* pipe[d] carries fd[d] -> fd[!d] */
    size_t queued[2];
    size_t cap;
    int eof[2];  /* fd[d] read its end */
    int shut[2]; /* direction d passed its end on (shutdown of fd[!d]) */
    int connecting;
    int dead;         /* closed; freed after the current batch of events */
    int reg[2];       /* fd[s] is in the epoll set (only while it wants events) */
    uint32_t want[2]; /* events registered for fd[s] */
    struct ev ev[2];
    struct conn *next, *prev;
};

struct flow {
    int fd; /* connected to 127.0.0.1:CTRPORT inside */
    struct sockaddr_storage client;
    socklen_t clen;
    struct listener *l;
    int64_t last;
    struct ev ev;
    struct flow *next, *prev;
};

struct loop {
    int ep;
    struct conn *conns;
    struct conn *dead; /* closed during this batch of events */
    struct flow *flows;
    struct listener *ls;
    size_t n_ls;
    unsigned char buf[65536];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *proto_name(enum net_proto p)
{
    return p == NET_UDP ? "udp" : "tcp";
}

/* A host socket on ip:port ("" is every address: IPv6 and IPv4 together
 * where the host has IPv6). Returns the fd or -1 with errno. */
static int bind_host(const char *ip, unsigned port, enum net_proto proto)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    int family;
    if (!ip[0] || strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        family = a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_any;
        if (ip[0] && inet_pton(AF_INET6, ip, &a->sin6_addr) != 1)
            return errno = EINVAL, -1;
        a->sin6_port = htons((uint16_t)port);
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        family = a->sin_family = AF_INET;
        if (inet_pton(AF_INET, ip, &a->sin_addr) != 1)
            return errno = EINVAL, -1;
        a->sin_port = htons((uint16_t)port);
        len = sizeof(*a);
    }
    int type = (proto == NET_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK;
    int fd = socket(family, type, 0);
    if (fd < 0 && !ip[0] && errno == EAFNOSUPPORT) {
        /* No IPv6 on this host: every IPv4 address. */
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        memset(&ss, 0, sizeof(ss));
        family = a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        len = sizeof(*a);
        fd = socket(family, type, 0);
    }
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    if (family == AF_INET6 && !ip[0])
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (proto == NET_TCP)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
        (proto == NET_TCP && listen(fd, SOMAXCONN) < 0)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int net_fwd_bind(const struct net_port *ports, size_t n, struct net_fwd **out, size_t *n_out,
                 struct kiln_error **err)
{
    size_t total = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        total += ports[i].count;
    struct net_fwd *v = xcalloc(total ? total : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        for (unsigned j = 0; j < ports[i].count; j++) {
            const struct net_port *p = &ports[i];
            int fd = bind_host(p->host_ip, p->host_port + j, p->proto);
            if (fd < 0) {
                const char *ip = p->host_ip[0] ? p->host_ip : "0.0.0.0";
                if (errno == EADDRINUSE)
                    kiln_error_set(err, KILN_E_EXISTS,
                                   "port %s:%u/%s is already in use on the host", ip,
                                   p->host_port + j, proto_name(p->proto));
                else
                    kiln_error_errno(err, errno, "cannot publish %s:%u/%s", ip, p->host_port + j,
                                     proto_name(p->proto));
                net_fwd_close(v, k);
                return -1;
            }
            v[k].fd = fd;
            v[k].proto = p->proto;
            v[k].ctr_port = p->ctr_port + j;
            k++;
        }
    *out = v;
    *n_out = k;
    return 0;
}

void net_fwd_close(struct net_fwd *f, size_t n)
{
    for (size_t i = 0; f && i < n; i++)
        if (f[i].fd >= 0)
            close(f[i].fd);
    free(f);
}

/* A socket in the caller's namespace connected (or connecting) to
 * 127.0.0.1:port; -1 on an error other than a connect in progress. */
static int connect_inside(int type, unsigned port, int *in_progress)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *in_progress = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (errno != EINPROGRESS) {
            close(fd);
            return -1;
        }
        *in_progress = 1;
    }
    return fd;
}

/* ---- TCP ---- */

static void conn_free(struct loop *L, struct conn *c, int reset)
{
    for (int s = 0; s < 2; s++) {
        if (c->fd[s] < 0)
            continue;
        if (reset) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(c->fd[s], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(c->fd[s]); /* leaves the epoll set with it */
    }
    for (int d = 0; d < 2; d++)
        for (int e = 0; e < 2; e++)
            if (c->pipe[d][e] >= 0)
                close(c->pipe[d][e]);
    if (c->prev)
        c->prev->next = c->next;
    else
        L->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    /* Later events of this batch may name it: freed after the batch. */
    c->dead = 1;
    c->next = L->dead;
    L->dead = c;
    for (size_t i = 0; i < L->n_ls; i++)
        if (L->ls[i].paused) {
            struct epoll_event e = {.events = EPOLLIN, .data.ptr = &L->ls[i].ev};
            epoll_ctl(L->ep, EPOLL_CTL_MOD, L->ls[i].f->fd, &e);
            L->ls[i].paused = 0;
        }
}

static void conn_want(struct loop *L, struct conn *c)
{
    for (int s = 0; s < 2; s++) {
        uint32_t w = 0;
        if (c->connecting)
            w = s == 1 ? EPOLLOUT : 0;
        else {
            if (!c->eof[s] && c->queued[s] < c->cap)
                w |= EPOLLIN;
            if (c->queued[!s] > 0)
                w |= EPOLLOUT;
        }
        /* A socket that wants nothing leaves the set: a level-triggered
         * EPOLLHUP of a half-closed one would otherwise spin the loop. */
        struct epoll_event e = {.events = w, .data.ptr = &c->ev[s]};
        if (w == 0 && c->reg[s]) {
            epoll_ctl(L->ep, EPOLL_CTL_DEL, c->fd[s], NULL);
            c->reg[s] = 0;
        } else if (w && !c->reg[s]) {
            epoll_ctl(L->ep, EPOLL_CTL_ADD, c->fd[s], &e);
            c->reg[s] = 1;
        } else if (w && w != c->want[s]) {
            epoll_ctl(L->ep, EPOLL_CTL_MOD, c->fd[s], &e);
        }
        c->want[s] = w;
    }
}

/* Moves what it can in direction d; -1 on an error (reset). */
static int pump(struct conn *c, int d)
{
    int src = c->fd[d], dst = c->fd[!d];
    for (;;) {
        int progress = 0;
        if (!c->eof[d] && c->queued[d] < c->cap) {
            ssize_t n = splice(src, NULL, c->pipe[d][1], NULL, c->cap - c->queued[d],
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                c->queued[d] += (size_t)n;
                progress = 1;
            } else if (n == 0) {
                c->eof[d] = 1;
                progress = 1;
            } else if (errno != EAGAIN && errno != EINTR) {
                return -1;
            }
        }
        if (c->queued[d] > 0) {
            ssize_t n = splice(c->pipe[d][0], NULL, dst, NULL, c->queued[d],
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                c->queued[d] -= (size_t)n;
                progress = 1;
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                return -1;
            }
        }
        if (!progress)
            break;
    }
    if (c->eof[d] && c->queued[d] == 0 && !c->shut[d]) {
        shutdown(dst, SHUT_WR);
        c->shut[d] = 1;
    }
    return 0;
}

static void conn_event(struct loop *L, struct conn *c, int side, uint32_t events)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (c->connecting) {
        if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr) {
            conn_free(L, c, 1); /* nothing listens inside: the client gets a reset */
            return;
        }
        c->connecting = 0;
    }
    if ((events & EPOLLERR) &&
        (getsockopt(c->fd[side], SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr)) {
        conn_free(L, c, 1);
        return;
    }
    if (pump(c, 0) < 0 || pump(c, 1) < 0) {
        conn_free(L, c, 1);
        return;
    }
    if (c->shut[0] && c->shut[1]) {
        conn_free(L, c, 0);
        return;
    }
    conn_want(L, c);
}

static void tcp_accept(struct loop *L, struct listener *l)
{
    for (;;) {
        int fd = accept4(l->f->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Until a connection closes; the client waits in the backlog. */
                struct epoll_event e = {.events = 0, .data.ptr = &l->ev};
                epoll_ctl(L->ep, EPOLL_CTL_MOD, l->f->fd, &e);
                l->paused = 1;
            }
            return;
        }
        struct conn *c = xcalloc(1, sizeof(*c));
        c->fd[0] = fd;
        c->fd[1] = -1;
        for (int d = 0; d < 2; d++)
            c->pipe[d][0] = c->pipe[d][1] = -1;
        c->next = L->conns;
        if (L->conns)
            L->conns->prev = c;
        L->conns = c;
        int busy = 0;
        c->fd[1] = connect_inside(SOCK_STREAM, l->f->ctr_port, &busy);
        if (c->fd[1] < 0 || pipe2(c->pipe[0], O_CLOEXEC | O_NONBLOCK) < 0 ||
            pipe2(c->pipe[1], O_CLOEXEC | O_NONBLOCK) < 0) {
            conn_free(L, c, 1);
            continue;
        }
        int sz = fcntl(c->pipe[0][1], F_SETPIPE_SZ, PIPE_BYTES);
        if (sz <= 0 || fcntl(c->pipe[1][1], F_SETPIPE_SZ, sz) != sz)
            sz = fcntl(c->pipe[0][1], F_GETPIPE_SZ) < fcntl(c->pipe[1][1], F_GETPIPE_SZ)
                     ? fcntl(c->pipe[0][1], F_GETPIPE_SZ)
                     : fcntl(c->pipe[1][1], F_GETPIPE_SZ);
        c->cap = sz > 0 ? (size_t)sz : 65536;
        c->connecting = busy;
        for (int s = 0; s < 2; s++)
            c->ev[s] = (struct ev){.kind = EV_CONN, .side = s, .p = c};
        if (busy)
            conn_want(L, c);
        else
            conn_event(L, c, 1, 0);
    }
}

/* ---- UDP ---- */

static void flow_free(struct loop *L, struct flow *f)
{
    close(f->fd);
    if (f->prev)
        f->prev->next = f->next;
    else
        L->flows = f->next;
    if (f->next)
        f->next->prev = f->prev;
    free(f);
}

static void udp_from_client(struct loop *L, struct listener *l)
{
    for (;;) {
        struct sockaddr_storage from;
        socklen_t flen = sizeof(from);
        ssize_t n = recvfrom(l->f->fd, L->buf, sizeof(L->buf), 0, (struct sockaddr *)&from, &flen);
        if (n < 0)
            return;
        struct flow *f = L->flows;
        while (f && !(f->l == l && f->clen == flen && memcmp(&f->client, &from, flen) == 0))
            f = f->next;
        if (f == NULL) {
            int busy;
            int fd = connect_inside(SOCK_DGRAM, l->f->ctr_port, &busy);
            if (fd < 0)
                continue; /* dropped, as a full queue would */
            f = xcalloc(1, sizeof(*f));
            f->fd = fd;
            f->client = from;
            f->clen = flen;
            f->l = l;
            f->ev = (struct ev){.kind = EV_FLOW, .p = f};
            struct epoll_event e = {.events = EPOLLIN, .data.ptr = &f->ev};
            epoll_ctl(L->ep, EPOLL_CTL_ADD, fd, &e);
            f->next = L->flows;
            if (L->flows)
                L->flows->prev = f;
            L->flows = f;
        }
        f->last = now_ms();
        /* Refused (nothing listens yet) or a full queue: dropped, as UDP is. */
        if (send(f->fd, L->buf, (size_t)n, MSG_DONTWAIT) < 0)
            errno = 0;
    }
}

static void udp_to_client(struct loop *L, struct flow *f)
{
    for (;;) {
        ssize_t n = recv(f->fd, L->buf, sizeof(L->buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            continue; /* ECONNREFUSED from an earlier datagram: read on */
        }
        f->last = now_ms();
        sendto(f->l->f->fd, L->buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&f->client,
               f->clen);
    }
}

static void expire_flows(struct loop *L, int64_t idle_ms)
{
    int64_t t = now_ms();
    for (struct flow *f = L->flows, *next; f; f = next) {
        next = f->next;
        if (t - f->last >= idle_ms)
            flow_free(L, f);
    }
}

int net_fwd_run(const struct net_fwd *fwd, size_t n, int udp_idle_ms, int stop_fd)
{
    signal(SIGPIPE, SIG_IGN);
    /* Six descriptors a connection: up to the hard limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct loop *L = xcalloc(1, sizeof(*L));
    L->ep = epoll_create1(EPOLL_CLOEXEC);
    if (L->ep < 0) {
        free(L);
        return -1;
    }
    L->ls = xcalloc(n ? n : 1, sizeof(*L->ls));
    L->n_ls = n;
    for (size_t i = 0; i < n; i++) {
        struct listener *l = &L->ls[i];
        l->f = &fwd[i];
        l->ev =
            (struct ev){.kind = fwd[i].proto == NET_UDP ? EV_UDP_LISTEN : EV_TCP_LISTEN, .p = l};
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &l->ev};
        epoll_ctl(L->ep, EPOLL_CTL_ADD, fwd[i].fd, &e);
    }
    struct ev stop_ev = {.kind = EV_STOP};
    if (stop_fd >= 0) {
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &stop_ev};
        epoll_ctl(L->ep, EPOLL_CTL_ADD, stop_fd, &e);
    }
    int stop = 0;
    while (!stop) {
        struct epoll_event evs[64];
        int timeout = L->flows ? (udp_idle_ms < 1000 ? udp_idle_ms : 1000) : -1;
        int k = epoll_wait(L->ep, evs, 64, timeout);
        if (k < 0 && errno != EINTR)
            break;
        for (int i = 0; i < k; i++) {
            struct ev *ev = evs[i].data.ptr;
            if (ev == NULL)
                continue;
            switch (ev->kind) {
            case EV_TCP_LISTEN:
                tcp_accept(L, ev->p);
                break;
            case EV_UDP_LISTEN:
                udp_from_client(L, ev->p);
                break;
            case EV_FLOW:
                udp_to_client(L, ev->p);
                break;
            case EV_CONN: {
                struct conn *c = ev->p;
                if (!c->dead)
                    conn_event(L, c, ev->side, evs[i].events);
                break;
            }
            case EV_STOP:
                stop = 1;
                break;
            }
        }
        while (L->dead) {
            struct conn *c = L->dead;
            L->dead = c->next;
            free(c);
        }
        if (L->flows)
            expire_flows(L, udp_idle_ms);
    }
    while (L->conns)
        conn_free(L, L->conns, 0);
    while (L->dead) {
        struct conn *c = L->dead;
        L->dead = c->next;
        free(c);
    }
    while (L->flows)
        flow_free(L, L->flows);
    close(L->ep);
    free(L->ls);
    free(L);
    return stop ? 0 : -1;
}
