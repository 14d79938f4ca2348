/* The port forwarder (net_fwd_*): TCP and UDP on a translated port (host port
 * P to a server on 127.0.0.1:Q), a client that half-closes, a large transfer,
 * many connections (fds come back), a refused connection inside, UDP flows
 * expiring, and its end (every port free again). The forwarder runs in a
 * child in this test's own namespace, the "inside" being 127.0.0.1 here. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"
#include "tap.h"

static void __attribute__((noreturn, format(printf, 1, 2))) bail_out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("Bail out! ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    exit(1);
}

static unsigned free_port(int type)
{
    int fd = socket(AF_INET, type, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static struct sockaddr_in lo(unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* The "container": a TCP server on q that answers each connection with
 * "echo:" and everything it read up to the client's half-close, and a UDP
 * echo on uq. Sequential: one connection at a time. */
static void backend(int tl, int us)
{
    static char buf[1 << 16];
    struct pollfd p[2] = {{.fd = tl, .events = POLLIN}, {.fd = us, .events = POLLIN}};
    char *data = malloc(8 << 20);
    for (;;) {
        if (poll(p, 2, -1) < 0)
            continue;
        if (p[1].revents & POLLIN) {
            struct sockaddr_in from;
            socklen_t fl = sizeof(from);
            ssize_t n = recvfrom(us, buf + 5, sizeof(buf) - 5, 0, (struct sockaddr *)&from, &fl);
            if (n > 0) {
                memcpy(buf, "echo:", 5);
                sendto(us, buf, (size_t)n + 5, 0, (struct sockaddr *)&from, fl);
            }
        }
        if (p[0].revents & POLLIN) {
            int c = accept(tl, NULL, NULL);
            if (c < 0)
                continue;
            size_t got = 0;
            ssize_t n;
            while (got < (8 << 20) && (n = read(c, data + got, (8 << 20) - got)) > 0)
                got += (size_t)n;
            if (write(c, "echo:", 5) == 5) {
                size_t off = 0;
                while (off < got && (n = write(c, data + off, got - off)) > 0)
                    off += (size_t)n;
            }
            close(c);
        }
    }
}

static int client_fd(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo(port);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends len bytes on fd, half-closes, reads the answer until EOF (at most
 * cap), closes fd. Returns the answer's length, or -1 if the send failed. */
static ssize_t roundtrip(int fd, const char *msg, size_t len, char *out, size_t cap)
{
    size_t off = 0;
    ssize_t n;
    while (off < len && (n = write(fd, msg + off, len - off)) > 0)
        off += (size_t)n;
    shutdown(fd, SHUT_WR);
    size_t got = 0;
    while (got < cap && (n = read(fd, out + got, cap - got)) > 0)
        got += (size_t)n;
    close(fd);
    return off == len ? (ssize_t)got : -1;
}

static int count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    int n = 0;
    if (d == NULL)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 2;
}

static int wait_fds(pid_t pid, int want)
{
    int n = -1;
    for (int i = 0; i < 100; i++) {
        n = count_fds(pid);
        if (n == want)
            break;
        usleep(20000);
    }
    return n;
}

static int can_bind(int type, unsigned port)
{
    int fd = socket(AF_INET, type, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = lo(port);
    int r = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return r;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    unsigned q = free_port(SOCK_STREAM), uq = free_port(SOCK_DGRAM);
    int tl = socket(AF_INET, SOCK_STREAM, 0), us = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = lo(q);
    int one = 1;
    setsockopt(tl, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(tl, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(tl, 512) < 0)
        bail_out("backend bind: %s", strerror(errno));
    a = lo(uq);
    if (bind(us, (struct sockaddr *)&a, sizeof(a)) < 0)
        bail_out("backend udp bind: %s", strerror(errno));
    fflush(stdout);
    pid_t be = fork();
    if (be == 0)
        backend(tl, us);
    close(tl);
    close(us);

    /* Published: 127.0.0.1:P -> Q (tcp), 127.0.0.1:UP -> UQ (udp), and a TCP
     * port whose container side nothing listens on. */
    unsigned p = free_port(SOCK_STREAM), up = free_port(SOCK_DGRAM), dead = free_port(SOCK_STREAM);
    unsigned dead_inside = free_port(SOCK_STREAM);
    struct net_port ports[3] = {
        {.host_ip = "127.0.0.1", .host_port = p, .ctr_port = q, .count = 1, .proto = NET_TCP},
        {.host_ip = "127.0.0.1", .host_port = up, .ctr_port = uq, .count = 1, .proto = NET_UDP},
        {.host_ip = "127.0.0.1",
         .host_port = dead,
         .ctr_port = dead_inside,
         .count = 1,
         .proto = NET_TCP},
    };
    struct net_fwd *fwd = NULL;
    size_t n_fwd = 0;
    struct kiln_error *err = NULL;
    ok(net_fwd_bind(ports, 3, &fwd, &n_fwd, &err) == 0 && n_fwd == 3, "binds three ports%s%s",
       err ? ": " : "", err ? err->msg : "");
    kiln_error_free(err);
    err = NULL;

    /* A taken port: the error names it, nothing stays bound. */
    struct net_fwd *f2 = NULL;
    size_t n2 = 0;
    ok(net_fwd_bind(&ports[0], 1, &f2, &n2, &err) < 0 && err && err->code == KILN_E_EXISTS,
       "a taken port is refused");
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%u/tcp", p);
    ok(err && strstr(err->msg, want) != NULL, "the error names %s: %s", want, err ? err->msg : "");
    kiln_error_free(err);
    err = NULL;

    int stop[2];
    if (pipe(stop) < 0)
        bail_out("pipe");
    fflush(stdout);
    pid_t fw = fork();
    if (fw == 0) {
        close(stop[1]);
        exit(net_fwd_run(fwd, n_fwd, 300, stop[0]) == 0 ? 0 : 1);
    }
    close(stop[0]);
    net_fwd_close(fwd, n_fwd);
    usleep(100000);
    int fds0 = count_fds(fw);
    ok(fds0 > 0, "forwarder runs with %d fds", fds0);

    /* TCP on a translated port, with a half-close. */
    char out[256];
    ssize_t n = roundtrip(client_fd(p), "hello", 5, out, sizeof(out));
    ok(n == 10 && memcmp(out, "echo:hello", 10) == 0, "tcp %u -> %u answers after a half-close", p,
       q);

    /* A large transfer both ways (pipes fill, back-pressure). */
    size_t big = 6 << 20;
    char *msg = malloc(big), *back = malloc(big + 16);
    for (size_t i = 0; i < big; i++)
        msg[i] = (char)(i * 7 + 3);
    n = roundtrip(client_fd(p), msg, big, back, big + 16);
    ok(n == (ssize_t)big + 5 && memcmp(back + 5, msg, big) == 0, "6 MiB there and back intact");
    free(msg);
    free(back);

    /* Many connections, 100 open at once, three rounds. */
    int good = 0;
    for (int round = 0; round < 3; round++) {
        int fds[100];
        for (int i = 0; i < 100; i++)
            fds[i] = client_fd(p);
        for (int i = 0; i < 100; i++) {
            char m[16], o[32];
            int ml = snprintf(m, sizeof(m), "c%d", i);
            n = fds[i] >= 0 ? roundtrip(fds[i], m, (size_t)ml, o, sizeof(o)) : -1;
            if (n == ml + 5 && memcmp(o + 5, m, (size_t)ml) == 0)
                good++;
        }
    }
    is_int(good, 300, "300 connections (100 at once) all answered");
    is_int(wait_fds(fw, fds0), fds0, "the forwarder's fds come back to %d", fds0);

    /* Nothing listens inside: the client is closed, not left hanging. */
    int fd = client_fd(dead);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    n = fd >= 0 ? read(fd, out, sizeof(out)) : -2;
    ok(n == 0 || (n < 0 && errno == ECONNRESET), "a connection nothing takes inside is closed");
    if (fd >= 0)
        close(fd);

    /* UDP on a translated port: replies come from the published port; two
     * clients are two flows. */
    int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(u1, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(u2, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in ua = lo(up), from;
    socklen_t fl = sizeof(from);
    sendto(u1, "ping", 4, 0, (struct sockaddr *)&ua, sizeof(ua));
    sendto(u2, "pong", 4, 0, (struct sockaddr *)&ua, sizeof(ua));
    n = recvfrom(u1, out, sizeof(out), 0, (struct sockaddr *)&from, &fl);
    ok(n == 9 && memcmp(out, "echo:ping", 9) == 0, "udp %u -> %u answers", up, uq);
    is_int(ntohs(from.sin_port), up, "the reply comes from the published port");
    n = recv(u2, out, sizeof(out), 0);
    ok(n == 9 && memcmp(out, "echo:pong", 9) == 0, "a second udp client gets its own answer");
    int fds_udp = count_fds(fw);
    is_int(fds_udp, fds0 + 2, "two udp flows hold two sockets");
    close(u1);
    close(u2);
    is_int(wait_fds(fw, fds0), fds0, "idle udp flows expire");

    /* Its end: every port free again, its memory released (ASan checks). */
    int open_fd = client_fd(p); /* one connection still open at the end */
    if (write(stop[1], "x", 1) != 1)
        bail_out("stop");
    int st = 0;
    waitpid(fw, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the forwarder ends cleanly");
    if (open_fd >= 0) {
        setsockopt(open_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        n = read(open_fd, out, sizeof(out));
        ok(n <= 0, "its open connection is closed with it");
        close(open_fd);
    } else {
        ok(0, "a last connection");
    }
    ok(can_bind(SOCK_STREAM, p) && can_bind(SOCK_DGRAM, up) && can_bind(SOCK_STREAM, dead),
       "the published ports are free");
    kill(be, SIGKILL);
    waitpid(be, NULL, 0);
    return done_testing();
}
