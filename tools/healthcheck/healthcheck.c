/* healthcheck: the images' HEALTHCHECK. One HTTP/1.0 GET of a local URL with a
 * deadline; exit 0 on a 2xx answer, 1 on anything else (refused, timeout, other
 * status). Built static and small (musl when present) so a check costs no
 * interpreter start-up. Only numeric IPv4 hosts and "localhost": no resolver.
 *
 *   healthcheck [-t SECONDS] [-q] [URL]     URL default $HEALTHCHECK_URL,
 *                                           else http://127.0.0.1:8000/health
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_URL "http://127.0.0.1:8000/health"

static int quiet;

static int fail(const char *url, const char *why)
{
    if (!quiet)
        fprintf(stderr, "healthcheck: %s: %s\n", url, why);
    return 1;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Waits until fd is ready for `events` or the deadline passes; 0 when ready. */
static int wait_fd(int fd, short events, long deadline)
{
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* Splits http://HOST[:PORT][/PATH] into an IPv4 address, port and path. */
static int parse_url(const char *url, struct sockaddr_in *sa, char *host, size_t hostlen,
                     const char **path)
{
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *h = url + 7;
    size_t n = strcspn(h, ":/");
    if (n == 0 || n >= hostlen)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    long port = 80;
    const char *rest = h + n;
    if (*rest == ':') {
        char *end;
        port = strtol(rest + 1, &end, 10);
        if (end == rest + 1 || port < 1 || port > 65535)
            return -1;
        rest = end;
    }
    if (*rest != '\0' && *rest != '/')
        return -1;
    *path = *rest ? rest : "/";
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)port);
    const char *ip = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

static int check(const char *url, long timeout_ms)
{
    struct sockaddr_in sa;
    char host[256];
    const char *path;
    if (parse_url(url, &sa, host, sizeof(host), &path) < 0)
        return fail(url, "not an http://IPv4[:port]/path URL");

    long deadline = now_ms() + timeout_ms;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return fail(url, strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) < 0)
            return fail(url, errno == EINPROGRESS ? "timed out connecting" : strerror(errno));
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr)
            return fail(url, strerror(soerr));
    }

    char req[1024];
    int rn = snprintf(req, sizeof(req),
                      "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: kiln-healthcheck\r\n"
                      "Connection: close\r\n\r\n",
                      path, host);
    if (rn < 0 || (size_t)rn >= sizeof(req))
        return fail(url, "URL too long");
    for (int off = 0; off < rn;) {
        if (wait_fd(fd, POLLOUT, deadline) < 0)
            return fail(url, "timed out sending");
        ssize_t w = send(fd, req + off, (size_t)(rn - off), MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return fail(url, strerror(errno));
        if (w > 0)
            off += (int)w;
    }

    /* The status line is all we need: "HTTP/1.x NNN ..." */
    char buf[64];
    size_t got = 0;
    while (got < 12) {
        if (wait_fd(fd, POLLIN, deadline) < 0)
            return fail(url, "timed out waiting for the answer");
        ssize_t r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (r == 0)
            break;
        if (r < 0 && errno != EAGAIN && errno != EINTR)
            return fail(url, strerror(errno));
        if (r > 0)
            got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    if (got < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
        return fail(url, "not an HTTP answer");
    if (buf[9] != '2') {
        buf[12] = '\0';
        if (!quiet)
            fprintf(stderr, "healthcheck: %s: status %s\n", url, buf + 9);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    long timeout_ms = 3000;
    const char *url = getenv("HEALTHCHECK_URL");
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-q") == 0) {
            quiet = 1;
        } else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
            char *end;
            double s = strtod(argv[++i], &end);
            if (*end || s <= 0 || s > 3600) {
                fprintf(stderr, "healthcheck: -t wants seconds (0 < t <= 3600)\n");
                return 2;
            }
            timeout_ms = (long)(s * 1000);
        } else {
            fprintf(stderr, "usage: healthcheck [-t SECONDS] [-q] [http://HOST:PORT/PATH]\n");
            return strcmp(argv[i], "-h") == 0 ? 0 : 2;
        }
    }
    if (i < argc)
        url = argv[i];
    if (!url || !*url)
        url = DEFAULT_URL;
    return check(url, timeout_ms);
}
