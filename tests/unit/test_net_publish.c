/* net_parse_publish and the port forms ps/port/inspect show. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net.h"
#include "tap.h"

static void parses(const char *arg, const char *ip, unsigned host, unsigned ctr, unsigned count,
                   enum net_proto proto)
{
    struct net_port p;
    struct kiln_error *err = NULL;
    int r = net_parse_publish(arg, &p, &err);
    ok(r == 0, "-p %s parses%s%s", arg, err ? ": " : "", err ? err->msg : "");
    kiln_error_free(err);
    if (r != 0)
        return;
    is_str(p.host_ip, ip, "-p %s: host ip", arg);
    is_int(p.host_port, host, "-p %s: host port", arg);
    is_int(p.ctr_port, ctr, "-p %s: container port", arg);
    is_int(p.count, count, "-p %s: count", arg);
    is_int(p.proto, proto, "-p %s: protocol", arg);
}

static void refuses(const char *arg, const char *words)
{
    struct net_port p;
    struct kiln_error *err = NULL;
    int r = net_parse_publish(arg, &p, &err);
    ok(r < 0 && err && err->code == KILN_E_USAGE, "-p %s is refused", arg);
    ok(err && strstr(err->msg, arg) && strstr(err->msg, words), "-p %s: message \"%s\" says %s",
       arg, err ? err->msg : "", words);
    kiln_error_free(err);
}

int main(void)
{
    parses("8000", "", 0, 8000, 1, NET_TCP);
    parses("8080:8000", "", 8080, 8000, 1, NET_TCP);
    parses("127.0.0.1:18080:8000", "127.0.0.1", 18080, 8000, 1, NET_TCP);
    parses("127.0.0.1::8000", "127.0.0.1", 0, 8000, 1, NET_TCP);
    parses("5353:53/udp", "", 5353, 53, 1, NET_UDP);
    parses("8000/tcp", "", 0, 8000, 1, NET_TCP);
    parses("8000-8002:9000-9002", "", 8000, 9000, 3, NET_TCP);
    parses("9000-9001", "", 0, 9000, 2, NET_TCP);
    parses("[::1]:8080:80", "::1", 8080, 80, 1, NET_TCP);
    parses("0.0.0.0:80:80/udp", "0.0.0.0", 80, 80, 1, NET_UDP);

    refuses("", "container port");
    refuses("abc", "container port");
    refuses("8000/sctp", "tcp or udp");
    refuses("70000", "container port");
    refuses("0", "container port");
    refuses("8000-7999", "container port");
    refuses("8000-8001:9000", "2 ports");
    refuses("1.2.3:80:80", "not an IP address");
    refuses("a:b:c:d", "use [IP:]");
    refuses("[::1:80:80", "unclosed");
    refuses("80:", "container port");

    /* What ps, port and inspect show. */
    struct net_port v[2];
    net_parse_publish("127.0.0.1:18080:8000", &v[0], NULL);
    net_parse_publish("7000-7001:5000-5001/udp", &v[1], NULL);
    char *d = net_ports_describe(v, 2);
    is_str(d, "127.0.0.1:18080->8000/tcp, 0.0.0.0:7000-7001->5000-5001/udp", "ps form");
    free(d);
    char *l = net_ports_lines(v, 2);
    is_str(l, "8000/tcp -> 127.0.0.1:18080\n5000/udp -> 0.0.0.0:7000\n5001/udp -> 0.0.0.0:7001\n",
           "port form");
    free(l);
    json_t *j = net_ports_to_json(v, 2);
    struct net_port *back;
    size_t n;
    net_ports_from_json(j, &back, &n);
    is_int(n, 2, "json round trip: 2 entries");
    ok(n == 2 && back[1].count == 2 && back[1].proto == NET_UDP && back[0].host_port == 18080 &&
           strcmp(back[0].host_ip, "127.0.0.1") == 0 && back[1].host_ip[0] == '\0',
       "json round trip keeps every field");
    free(back);
    json_decref(j);

    /* Random host ports: one per container port, all different, all free. */
    struct net_port *r = calloc(1, sizeof(*r));
    size_t nr = 1;
    net_parse_publish("127.0.0.1::9000-9002", r, NULL);
    struct kiln_error *err = NULL;
    ok(net_ports_reserve(&r, &nr, &err) == 0, "reserve random ports");
    is_int(nr, 3, "a random range becomes one entry per port");
    ok(nr == 3 && r[0].host_port && r[1].host_port && r[2].host_port &&
           r[0].host_port != r[1].host_port && r[1].host_port != r[2].host_port &&
           r[2].ctr_port == 9002,
       "random host ports differ and keep their container ports");
    /* A port someone listens on is refused by name before anything starts. */
    unsigned taken = r[0].host_port;
    free(r);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)taken)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 1) == 0,
       "listening on 127.0.0.1:%u", taken);
    r = calloc(1, sizeof(*r));
    nr = 1;
    char spec[64];
    snprintf(spec, sizeof(spec), "127.0.0.1:%u:80", taken);
    net_parse_publish(spec, r, NULL);
    char want[64];
    snprintf(want, sizeof(want), "port 127.0.0.1:%u/tcp is already in use", taken);
    ok(net_ports_reserve(&r, &nr, &err) < 0 && err->code == KILN_E_EXISTS && strstr(err->msg, want),
       "a taken port: \"%s\"", err ? err->msg : "");
    kiln_error_free(err);
    free(r);
    close(fd);
    return done_testing();
}
