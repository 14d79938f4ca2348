/* How many containers of a service `up` runs: --scale SERVICE=N, else
 * scale:, else deploy.replicas, else 1. Replicas PROJECT-SERVICE-1..N run in
 * the project's one pod, so they share one network namespace: that works for
 * services that do not listen (workers), not for a service with ports: or
 * expose: (its replicas could not all bind the port, and compose's replicas
 * each have an address of their own), which is refused, as is 0. */
#include <stdlib.h>
#include <string.h>

#include "compose/stack.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

/* --scale's N for service, or -1 when none names it; -2 on a bad entry. */
static long long scale_flag(const struct compose_project *p, const char *const *scale,
                            size_t n_scale, const char *service, struct kiln_error **err)
{
    long long found = -1;
    for (size_t i = 0; i < n_scale; i++) {
        const char *eq = strchr(scale[i], '=');
        size_t len = eq ? (size_t)(eq - scale[i]) : 0;
        if (eq == NULL || len == 0) {
            kiln_error_set(err, KILN_E_USAGE, "--scale %s: expected SERVICE=N", scale[i]);
            return -2;
        }
        cleanup_free char *name = xstrndup(scale[i], len);
        if (!json_object_get(json_object_get(p->model, "services"), name)) {
            kiln_error_set(err, KILN_E_USAGE, "--scale %s: no such service: %s", scale[i], name);
            return -2;
        }
        char *end;
        long long n = strtoll(eq + 1, &end, 10);
        if (eq[1] == '\0' || *end || n < 0 || n > COMPOSE_MAX_REPLICAS) {
            kiln_error_set(err, KILN_E_USAGE, "--scale %s: N must be a number from 0 to %d",
                           scale[i], COMPOSE_MAX_REPLICAS);
            return -2;
        }
        if (strcmp(name, service) == 0)
            found = n;
    }
    return found;
}

int compose_replicas(const struct compose_project *p, const char *const *scale, size_t n_scale,
                     const char *service, long *n, struct kiln_error **err)
{
    const json_t *svc = json_object_get(json_object_get(p->model, "services"), service);
    long long flag = scale_flag(p, scale, n_scale, service, err);
    if (flag == -2)
        return -1;
    json_t *sc = json_object_get(svc, "scale");
    json_t *rep = json_object_get(json_object_get(svc, "deploy"), "replicas");
    if (flag < 0 && json_is_integer(sc) && json_is_integer(rep) &&
        json_integer_value(sc) != json_integer_value(rep))
        return kiln_error_set(
            err, KILN_E_USAGE, "service %s: scale (%lld) and deploy.replicas (%lld) differ",
            service, (long long)json_integer_value(sc), (long long)json_integer_value(rep));
    const char *from = flag >= 0 ? "--scale" : json_is_integer(sc) ? "scale" : "deploy.replicas";
    long long want = flag >= 0              ? flag
                     : json_is_integer(sc)  ? json_integer_value(sc)
                     : json_is_integer(rep) ? json_integer_value(rep)
                                            : 1;
    *n = (long)want;
    if (want == 1)
        return 0;
    if (want == 0)
        return kiln_error_set(err, KILN_E_USAGE,
                              "service %s: %s 0: kiln runs at least one container of a service it "
                              "starts; leave the service out instead (name the others on up's "
                              "command line)",
                              service, from);
    if (want > COMPOSE_MAX_REPLICAS)
        return kiln_error_set(err, KILN_E_USAGE, "service %s: %s %lld: at most %d replicas",
                              service, from, want, COMPOSE_MAX_REPLICAS);
    const char *listens = json_array_size(json_object_get(svc, "ports"))    ? "ports"
                          : json_array_size(json_object_get(svc, "expose")) ? "expose"
                                                                            : NULL;
    if (listens != NULL)
        return kiln_error_set(
            err, KILN_E_USAGE,
            "service %s: %s %lld with %s: kiln runs a project as one pod, whose containers "
            "share one network namespace, so replicas of a service that listens could not each "
            "bind its port (compose gives each replica an address of its own); run one, or give "
            "each copy a service of its own with its own port",
            service, from, want, listens);
    return 0;
}
