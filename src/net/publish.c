/* Published ports: parsing -p values, choosing random host ports, checking a
 * host port is free before anything starts, and the forms ps, port and
 * inspect show. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

/* "8000" or "8000-8002": first port and count; -1 if malformed. */
static int parse_range(const char *s, unsigned *first, unsigned *count)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long a = strtoul(s, &end, 10), b = a;
    if (errno || a == 0 || a > 65535)
        return -1;
    if (*end == '-') {
        const char *t = end + 1;
        if (*t < '0' || *t > '9')
            return -1;
        b = strtoul(t, &end, 10);
        if (errno || b < a || b > 65535)
            return -1;
    }
    if (*end != '\0')
        return -1;
    *first = (unsigned)a;
    *count = (unsigned)(b - a + 1);
    return 0;
}

static int valid_ip(const char *ip)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, ip, buf) == 1 || inet_pton(AF_INET6, ip, buf) == 1;
}

int net_parse_publish(const char *arg, struct net_port *out, struct kiln_error **err)
{
    memset(out, 0, sizeof(*out));
    cleanup_free char *copy = xstrdup(arg);
    char *s = copy;
    char *slash = strrchr(s, '/');
    if (slash) {
        *slash++ = '\0';
        if (strcmp(slash, "tcp") == 0)
            out->proto = NET_TCP;
        else if (strcmp(slash, "udp") == 0)
            out->proto = NET_UDP;
        else
            return kiln_error_set(err, KILN_E_USAGE, "-p %s: protocol must be tcp or udp", arg);
    }
    /* An IPv6 host address in brackets comes first. */
    if (s[0] == '[') {
        char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return kiln_error_set(err, KILN_E_USAGE, "-p %s: unclosed [ in the address", arg);
        *close = '\0';
        if (strlen(s + 1) >= sizeof(out->host_ip) || !valid_ip(s + 1))
            return kiln_error_set(err, KILN_E_USAGE, "-p %s: %s is not an IP address", arg, s + 1);
        snprintf(out->host_ip, sizeof(out->host_ip), "%s", s + 1);
        s = close + 2;
    }
    char *parts[3];
    size_t n = 0;
    for (char *p = s;; n++) {
        if (n == 3)
            return kiln_error_set(err, KILN_E_USAGE,
                                  "-p %s: use [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]", arg);
        parts[n] = p;
        char *c = strchr(p, ':');
        if (c == NULL) {
            n++;
            break;
        }
        *c = '\0';
        p = c + 1;
    }
    if (out->host_ip[0] && n == 3)
        return kiln_error_set(err, KILN_E_USAGE,
                              "-p %s: use [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]", arg);
    const char *ctr = parts[n - 1];
    const char *host = n >= 2 ? parts[n - 2] : "";
    if (n == 3) {
        if (parts[0][0] && (strlen(parts[0]) >= sizeof(out->host_ip) || !valid_ip(parts[0])))
            return kiln_error_set(err, KILN_E_USAGE, "-p %s: %s is not an IP address", arg,
                                  parts[0]);
        snprintf(out->host_ip, sizeof(out->host_ip), "%s", parts[0]);
    }
    if (parse_range(ctr, &out->ctr_port, &out->count) < 0)
        return kiln_error_set(err, KILN_E_USAGE,
                              "-p %s: container port \"%s\" must be a port (1-65535) or a range",
                              arg, ctr);
    if (host[0]) {
        unsigned hcount;
        if (parse_range(host, &out->host_port, &hcount) < 0)
            return kiln_error_set(err, KILN_E_USAGE,
                                  "-p %s: host port \"%s\" must be a port (1-65535) or a range",
                                  arg, host);
        if (hcount != out->count)
            return kiln_error_set(err, KILN_E_USAGE,
                                  "-p %s: the host range has %u ports, the container's %u", arg,
                                  hcount, out->count);
    }
    return 0;
}

static const char *proto_name(enum net_proto p)
{
    return p == NET_UDP ? "udp" : "tcp";
}

/* A socket bound to ip:port (port 0: the kernel picks); returns the fd or -1
 * with errno; *bound gets the port. */
static int bind_probe(const char *ip, unsigned port, enum net_proto proto, unsigned *bound)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    int family = AF_INET;
    if (ip[0] && strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        family = a->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &a->sin6_addr);
        a->sin6_port = htons((uint16_t)port);
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        if (ip[0])
            inet_pton(AF_INET, ip, &a->sin_addr);
        a->sin_port = htons((uint16_t)port);
        len = sizeof(*a);
    }
    int fd = socket(family, (proto == NET_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* As the forwarder does for TCP: a port in TIME_WAIT is not "taken". Not for UDP,
     * where it would let the probe share a port someone else has. */
    int one = 1;
    if (proto == NET_TCP)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || (proto == NET_TCP && listen(fd, 1) < 0)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (bound) {
        getsockname(fd, (struct sockaddr *)&ss, &len);
        *bound = family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return fd;
}

int net_ports_reserve(struct net_port **ports, size_t *n, struct kiln_error **err)
{
    /* Random ranges become single ports first. */
    size_t total = 0;
    for (size_t i = 0; i < *n; i++)
        total += (*ports)[i].host_port ? 1 : (*ports)[i].count;
    struct net_port *v = xcalloc(total ? total : 1, sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        const struct net_port *p = &(*ports)[i];
        if (p->host_port) {
            v[k++] = *p;
            continue;
        }
        for (unsigned j = 0; j < p->count; j++) {
            v[k] = *p;
            v[k].ctr_port = p->ctr_port + j;
            v[k].count = 1;
            k++;
        }
    }
    free(*ports);
    *ports = v;
    *n = total;
    /* Hold every probe until all are checked, so two random picks differ and
     * a range overlapping another entry is caught. */
    int *held = xcalloc(1, sizeof(int));
    size_t n_held = 0, cap_held = 1;
    int ret = 0;
    for (size_t i = 0; i < total && ret == 0; i++) {
        struct net_port *p = &v[i];
        for (unsigned j = 0; j < p->count; j++) {
            unsigned want = p->host_port ? p->host_port + j : 0, got = 0;
            int fd = bind_probe(p->host_ip, want, p->proto, &got);
            if (fd < 0) {
                if (errno == EADDRINUSE)
                    ret = kiln_error_set(
                        err, KILN_E_EXISTS, "port %s:%u/%s is already in use on the host",
                        p->host_ip[0] ? p->host_ip : "0.0.0.0", want, proto_name(p->proto));
                else
                    ret = kiln_error_errno(err, errno, "cannot publish %s:%u/%s",
                                           p->host_ip[0] ? p->host_ip : "0.0.0.0", want,
                                           proto_name(p->proto));
                break;
            }
            if (!p->host_port)
                p->host_port = got;
            if (n_held == cap_held) {
                cap_held *= 2;
                held = xrealloc(held, cap_held * sizeof(int));
            }
            held[n_held++] = fd;
        }
    }
    for (size_t i = 0; i < n_held; i++)
        close(held[i]);
    free(held);
    return ret;
}

static void describe_one(struct strbuf *sb, const struct net_port *p, unsigned j)
{
    const char *ip = p->host_ip[0] ? p->host_ip : "0.0.0.0";
    if (strchr(ip, ':'))
        strbuf_addf(sb, "[%s]:%u", ip, p->host_port + j);
    else
        strbuf_addf(sb, "%s:%u", ip, p->host_port + j);
}

char *net_ports_describe(const struct net_port *p, size_t n)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_adds(&sb, ", ");
        describe_one(&sb, &p[i], 0);
        if (p[i].count > 1)
            strbuf_addf(&sb, "-%u", p[i].host_port + p[i].count - 1);
        strbuf_addf(&sb, "->%u", p[i].ctr_port);
        if (p[i].count > 1)
            strbuf_addf(&sb, "-%u", p[i].ctr_port + p[i].count - 1);
        strbuf_addf(&sb, "/%s", proto_name(p[i].proto));
    }
    return strbuf_detach(&sb);
}

char *net_ports_lines(const struct net_port *p, size_t n)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    for (size_t i = 0; i < n; i++)
        for (unsigned j = 0; j < p[i].count; j++) {
            strbuf_addf(&sb, "%u/%s -> ", p[i].ctr_port + j, proto_name(p[i].proto));
            describe_one(&sb, &p[i], j);
            strbuf_addc(&sb, '\n');
        }
    return strbuf_detach(&sb);
}

json_t *net_ports_to_json(const struct net_port *p, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s,s:i,s:i,s:i,s:s}", "HostIp",
                                           p[i].host_ip[0] ? p[i].host_ip : "0.0.0.0", "HostPort",
                                           (int)p[i].host_port, "ContainerPort", (int)p[i].ctr_port,
                                           "Count", (int)p[i].count, "Protocol",
                                           proto_name(p[i].proto)));
    return a;
}

void net_ports_from_json(const json_t *a, struct net_port **out, size_t *n)
{
    size_t cnt = json_is_array(a) ? json_array_size(a) : 0, k = 0;
    *out = xcalloc(cnt ? cnt : 1, sizeof(**out));
    for (size_t i = 0; i < cnt; i++) {
        const json_t *e = json_array_get(a, i);
        const char *ip = json_string_value(json_object_get(e, "HostIp"));
        const char *proto = json_string_value(json_object_get(e, "Protocol"));
        json_int_t hp = json_integer_value(json_object_get(e, "HostPort"));
        json_int_t cp = json_integer_value(json_object_get(e, "ContainerPort"));
        json_int_t c = json_integer_value(json_object_get(e, "Count"));
        if (hp <= 0 || hp > 65535 || cp <= 0 || cp > 65535)
            continue;
        struct net_port *p = &(*out)[k++];
        snprintf(p->host_ip, sizeof(p->host_ip), "%s", ip && strcmp(ip, "0.0.0.0") != 0 ? ip : "");
        p->host_port = (unsigned)hp;
        p->ctr_port = (unsigned)cp;
        p->count = c > 0 ? (unsigned)c : 1;
        p->proto = proto && strcmp(proto, "udp") == 0 ? NET_UDP : NET_TCP;
    }
    *n = k;
}
