/* The project's pod (net/net.h): made publishing every in-pod service's
 * ports, or reused when it runs and publishes what the file has now. */
#include <stdlib.h>
#include <string.h>

#include "compose/stack.h"
#include "compose/up_pod.h"
#include "net/net.h"
#include "runtime/runtime.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

int compose_service_in_pod(const json_t *svc)
{
    const char *nm = json_get_str(svc, "network_mode");
    return nm == NULL || (strcmp(nm, "host") != 0 && strcmp(nm, "none") != 0);
}

/* The pod's ports: every service's in the pod. */
static int project_ports(const struct compose_project *p, struct net_port **out, size_t *n,
                         struct kiln_error **err)
{
    *out = NULL;
    *n = 0;
    const char *name;
    json_t *svc;
    json_object_foreach((json_t *)json_object_get(p->model, "services"), name, svc)
    {
        if (!compose_service_in_pod(svc))
            continue;
        size_t i;
        json_t *pt;
        json_array_foreach(json_object_get(svc, "ports"), i, pt)
        {
            struct strbuf sb;
            strbuf_init(&sb);
            const char *ip = json_get_str(pt, "host_ip");
            const char *pub = json_get_str(pt, "published");
            const char *proto = json_get_str(pt, "protocol");
            if (ip && ip[0])
                strbuf_addf(&sb, strchr(ip, ':') ? "[%s]:" : "%s:", ip);
            if (pub && pub[0])
                strbuf_addf(&sb, "%s:", pub);
            else if (ip && ip[0])
                strbuf_adds(&sb, ":");
            strbuf_addf(&sb, "%lld/%s", (long long)json_get_int(pt, "target", 0),
                        proto ? proto : "tcp");
            *out = xrealloc(*out, (*n + 1) * sizeof(**out));
            int r = net_parse_publish(sb.buf, &(*out)[*n], err);
            strbuf_release(&sb);
            if (r < 0)
                return kiln_error_prefix(err, "service %s: ports", name);
            (*n)++;
        }
    }
    return 0;
}

/* A running pod publishes what it was made with: an up after the file's
 * ports changed would silently publish the old ones. */
static int same_ports(const char *root, const struct compose_project *p, const char *pod,
                      struct kiln_error **err)
{
    struct net_port *want = NULL, *have = NULL;
    size_t nw = 0, nh = 0;
    if (project_ports(p, &want, &nw, err) < 0) {
        free(want);
        return -1;
    }
    json_t *pj = pod_load(root, pod, NULL);
    net_ports_from_json(pj ? json_object_get(pj, "Ports") : NULL, &have, &nh);
    json_decref(pj);
    int same = 1;
    for (size_t i = 0; i < nw && same; i++) {
        int found = 0;
        for (size_t k = 0; k < nh && !found; k++)
            found = have[k].ctr_port == want[i].ctr_port && have[k].proto == want[i].proto &&
                    (want[i].host_port == 0 || have[k].host_port == want[i].host_port) &&
                    strcmp(have[k].host_ip, want[i].host_ip) == 0;
        same = found;
    }
    int r = 0;
    if (!same || (nw == 0 && nh > 0)) {
        cleanup_free char *h = net_ports_describe(have, nh);
        r = kiln_error_set(err, KILN_E_INVALID,
                           "project %s: its pod %s publishes %s, not the ports the compose file "
                           "has now; run kiln compose down first",
                           p->name, pod, nh ? h : "no ports");
    }
    free(want);
    free(have);
    return r;
}

int compose_ensure_pod(const char *root, const struct compose_project *p, int *made,
                       struct kiln_error **err)
{
    *made = 0;
    cleanup_free char *pod = compose_pod_name(p->name);
    struct pod_info pi = {0};
    struct kiln_error *e = NULL;
    if (pod_lookup(root, pod, &pi, &e) == 0) {
        free(pi.hosts_file);
        return same_ports(root, p, pod, err);
    }
    kiln_error_free(e);
    json_t *old = pod_load(root, pod, NULL);
    if (old != NULL) { /* a record without a running supervisor */
        json_decref(old);
        pod_remove(root, pod, NULL);
    }
    struct net_port *ports;
    size_t n;
    if (project_ports(p, &ports, &n, err) < 0) {
        free(ports);
        return -1;
    }
    int r = (n > 0 ? net_ports_reserve(&ports, &n, err) : 0);
    if (r == 0)
        r = pod_create(root, pod, ports, n, runtime_map_ids, NULL, NULL, err);
    free(ports);
    if (r < 0)
        return kiln_error_prefix(err, "project %s", p->name);
    *made = 1;
    return 0;
}
