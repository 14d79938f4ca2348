/* kiln's container networks: a private network namespace for a container or a
 * pod, the user-mode network process that connects it to the outside
 * (slirp4netns), and the ports published from the host into it.
 *
 * The model: a namespace is held by a small holder process (a child of the
 * container's or pod's supervisor, dying with it through PDEATHSIG) that owns
 * a new network namespace and, for a non-root caller, the user namespace that
 * owns it (mapped like a rootless container's). slirp4netns is attached to
 * the holder: it gives the namespace eth0 (10.0.2.100/24, gateway 10.0.2.2,
 * DNS 10.0.2.3) and does its outbound traffic through ordinary host sockets.
 * The published ports are host sockets the supervisor binds before anything
 * starts; the holder inherits them and forwards them into the namespace
 * (forward.c). Containers join the holder's namespaces (runtime.h:
 * RT_NET_PRIVATE). Releasing the namespace kills slirp4netns and the holder,
 * which frees the host ports at once. */
#ifndef KILN_NET_NET_H
#define KILN_NET_NET_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

enum net_proto {
    NET_TCP = 0,
    NET_UDP,
};

/* One published port or range: host_ip:host_port+i -> ctr_port+i, i < count. */
struct net_port {
    char host_ip[48];   /* "" means every address (0.0.0.0) */
    unsigned host_port; /* 0: a random free port, chosen by net_ports_reserve */
    unsigned ctr_port;
    unsigned count; /* >= 1 */
    enum net_proto proto;
};

/* Parses one -p value: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp], where each
 * port may be a range A-B (the host range as long as the container's). IPv6
 * addresses go in brackets: [::1]:8080:80. Errors are KILN_E_USAGE naming arg. */
int net_parse_publish(const char *arg, struct net_port *out, struct kiln_error **err);

/* Before a container starts: gives every entry without a host port a random
 * free one (a range becomes one entry per port), and checks that every host
 * port can be bound; a taken one is KILN_E_EXISTS naming it. *ports may be
 * reallocated (it must come from malloc). */
int net_ports_reserve(struct net_port **ports, size_t *n, struct kiln_error **err);

/* Docker's form, entries joined by ", ": "127.0.0.1:18080->8000/tcp". */
char *net_ports_describe(const struct net_port *p, size_t n);
/* One "8000/tcp -> 127.0.0.1:18080" line per port, as `kiln port` prints. */
char *net_ports_lines(const struct net_port *p, size_t n);
/* [{"HostIp":..,"HostPort":..,"ContainerPort":..,"Count":..,"Protocol":"tcp"}] */
json_t *net_ports_to_json(const struct net_port *p, size_t n);
/* The reverse; entries it cannot read are skipped. *out allocated. */
void net_ports_from_json(const json_t *a, struct net_port **out, size_t *n);

/* ---- the port forwarder (forward.c) ----
 * One host socket per published port (a range is one per port), bound in the
 * host's namespace before the container starts. net_fwd_run serves them from
 * a process inside the container's network namespace: every TCP connection
 * and every UDP client gets a socket of its own created there and connected
 * to 127.0.0.1:ctr_port, bytes moved by splice(2). */
struct net_fwd {
    int fd; /* listening TCP or bound UDP socket, non-blocking */
    enum net_proto proto;
    unsigned ctr_port;
};

/* Binds every port (reserved already, host_port set); a taken one is
 * KILN_E_EXISTS naming it, and nothing stays bound. *out allocated. */
int net_fwd_bind(const struct net_port *ports, size_t n, struct net_fwd **out, size_t *n_out,
                 struct kiln_error **err);
/* Closes the sockets and frees the array. */
void net_fwd_close(struct net_fwd *f, size_t n);
/* Forwards until stop_fd (if >= 0) is readable, then closes every
 * connection it made and returns 0; -1 if epoll fails. Must run in the
 * container's network namespace. UDP flows idle for udp_idle_ms close. It
 * ignores SIGPIPE and raises its descriptor limit to the hard one. */
int net_fwd_run(const struct net_fwd *f, size_t n, int udp_idle_ms, int stop_fd);
#define NET_UDP_IDLE_MS 60000

/* A held network namespace with slirp4netns attached. */
struct net_ns {
    pid_t holder;   /* its /proc/PID/ns/net is the namespace; it forwards the ports */
    pid_t slirp;    /* the user-mode network process (0 if none) */
    int own_userns; /* the holder has a user namespace of its own (non-root) */
    /* Between net_ns_start and net_ns_wait: slirp4netns is still starting. */
    int pending;
    int ready_fd; /* read end of slirp4netns's --ready-fd: a byte once it is ready */
    int log_fd;   /* its stderr (a memfd), for the error when it fails */
};

/* Writes the uid/gid maps of a new user namespace (the runtime's rootless
 * mapping); net/ calls it for a non-root caller's holder. */
typedef int (*net_map_ids_fn)(pid_t pid, void *ctx, struct kiln_error **err);

/* Binds the published ports (a taken one fails here, naming it), creates the
 * holder and its namespace (the holder forwards the ports), starts
 * slirp4netns on it, and returns once the namespace is configured (eth0,
 * routes, loopback). Non-root callers need map_ids. On failure nothing is
 * left. The caller must be single-threaded or not care that the holder is a
 * fork of it. */
int net_ns_create(const struct net_port *ports, size_t n_ports, net_map_ids_fn map_ids,
                  void *map_ctx, struct net_ns *ns, struct kiln_error **err);
/* net_ns_create in two halves, so that a container's start overlaps
 * slirp4netns's (the container's root is set up meanwhile). net_ns_start
 * returns once the namespace exists and the ports listen (containers may
 * join it at once) with slirp4netns starting (ns->pending); net_ns_wait
 * returns once it has configured the namespace, or fails with its message
 * (the caller then releases ns). Nothing may use the network before
 * net_ns_wait succeeded. */
int net_ns_start(const struct net_port *ports, size_t n_ports, net_map_ids_fn map_ids,
                 void *map_ctx, struct net_ns *ns, struct kiln_error **err);
int net_ns_wait(struct net_ns *ns, struct kiln_error **err);
/* Or the wait done by the one that needs it (a container's PID 1 before its
 * exec, one process wake-up fewer): it reads a byte from net_ns_ready_fd
 * (-1 when nothing is pending), EOF meaning slirp4netns failed (it closes
 * the pipe once it wrote the byte: EOF after the byte is no failure). Once
 * that reader has exec'd or failed, net_ns_settle ends the pending start;
 * failed: the reader saw EOF first, and it returns -1 with slirp4netns's
 * message (err may be NULL) once slirp4netns has exited. */
int net_ns_ready_fd(const struct net_ns *ns);
int net_ns_settle(struct net_ns *ns, int failed, struct kiln_error **err);
/* Kills slirp4netns and the holder and waits for them (they are the caller's
 * children), closing a pending start's fds. Safe on a zeroed struct. */
void net_ns_release(struct net_ns *ns);
/* For a supervisor that died: kills the recorded processes if they still
 * are a holder and slirp4netns (checked through /proc/PID/comm), not reusing
 * pids. */
void net_ns_reap_recorded(pid_t holder, pid_t slirp);

/* Joins the namespace of a holder (or of any process, for --network
 * container:NAME): opens its /proc/PID/ns/net, and *userns_fd its user
 * namespace when that differs from the caller's (else -1). */
int net_ns_open(pid_t pid, int *netns_fd, int *userns_fd, struct kiln_error **err);

/* /etc/resolv.conf for a private namespace: the host's resolver
 * configuration, with loopback name servers (a local stub resolver the
 * namespace cannot reach) replaced by NET_DNS_FORWARD, slirp4netns's DNS
 * address, which it forwards to the host's resolver. Allocated. */
char *net_resolv_conf(void);
#define NET_DNS_FORWARD "10.0.2.3"

/* The namespace's interface: a tap kiln makes persistent and slirp4netns attaches to. */
#define NET_TAP_NAME "eth0"

/* The process name the holder gives itself (in ps and /proc/PID/comm). */
#define NET_HOLDER_COMM "kiln-netns"

/* ---- pods: a named namespace several containers join ----
 * KILN_ROOT/pods/<name>/ holds pod.json (name, ports, created), state.json
 * (supervisor, holder and slirp4netns pids), hosts (the /etc/hosts every container
 * of the pod binds, one line per container added as it joins), and is
 * flocked by the pod's supervisor while it lives. */
struct pod_info {
    pid_t holder;     /* the namespace's holder (0 if the pod is not running) */
    char *hosts_file; /* allocated */
};

/* Creates pod name (NULL: a generated one, *name_out gets it) publishing
 * ports (reserved already), with a detached supervisor holding its namespace;
 * returns once the namespace is up. A taken name is KILN_E_EXISTS. */
int pod_create(const char *root, const char *name, const struct net_port *ports, size_t n_ports,
               net_map_ids_fn map_ids, void *map_ctx, char **name_out, struct kiln_error **err);
/* A running pod's holder and hosts file; KILN_E_NOTFOUND when it does not exist
 * or is not running. */
int pod_lookup(const char *root, const char *name, struct pod_info *pi, struct kiln_error **err);
/* Every pod name, sorted. */
int pod_list(const char *root, char ***names, size_t *n, struct kiln_error **err);
/* pod.json plus "Status" and "Pid" fields from the state, or NULL. */
json_t *pod_load(const char *root, const char *name, struct kiln_error **err);
/* Stops the pod's supervisor (its namespace, slirp4netns and ports go with it) and
 * removes the record. The caller has dealt with the pod's containers. */
int pod_remove(const char *root, const char *name, struct kiln_error **err);
/* Appends "127.0.0.1 NAMES" to the pod's hosts file. */
int pod_add_host(const char *hosts_file, const char *names, struct kiln_error **err);
/* Drops the lines pod_add_host wrote for container name (NAMES starting with
 * it) from pod's hosts file, for a container that is removed: the pod's other
 * containers must not keep resolving a name that is gone (or, once it is
 * reused, find it twice). Nothing when the pod or the file is gone. */
int pod_remove_host(const char *root, const char *pod, const char *name, struct kiln_error **err);

#endif
