/* compose up: checks, the pod, then the services in dependency order, each
 * after its depends_on conditions hold; a failure stops what this call
 * started. The pod is up_pod.c's, the waiting up_wait.c's, which running
 * containers are replaced recreate.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/stack.h"
#include "compose/up_pod.h"
#include "compose/up_wait.h"
#include "net/net.h"
#include "runtime/container.h"
#include "runtime/runtime.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

static const json_t *service_of(const struct compose_project *p, const char *name)
{
    return json_object_get(json_object_get(p->model, "services"), name);
}

/* Marks name and everything it depends on. */
static int select_with_deps(const struct compose_project *p, const char *name, json_t *sel,
                            struct kiln_error **err)
{
    const json_t *svc = service_of(p, name);
    if (svc == NULL)
        return kiln_error_set(err, KILN_E_NOTFOUND, "no such service: %s", name);
    if (json_object_get(sel, name))
        return 0;
    json_object_set_new(sel, name, json_true());
    const char *dep;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(svc, "depends_on"), dep, v)
    {
        if (select_with_deps(p, dep, sel, err) < 0)
            return -1;
    }
    return 0;
}

/* What kiln cannot do for a service, refused before anything starts. */
static int check_service(const char *name, const json_t *svc, struct kiln_error **err)
{
    int caps_set;
    unsigned long long caps;
    if (compose_service_caps(name, svc, &caps_set, &caps, err) < 0)
        return -1;
    json_t *mem = json_object_get(svc, "mem_limit"), *cpus = json_object_get(svc, "cpus");
    if ((mem || cpus) &&
        runtime_limits_check(json_is_integer(mem) ? json_integer_value(mem) : 0,
                             json_is_number(cpus) ? json_number_value(cpus) : 0, err) < 0)
        return kiln_error_prefix(err, "service %s: %s", name, mem ? "mem_limit" : "cpus");
    const char *nm = json_get_str(svc, "network_mode");
    if (nm != NULL && strcmp(nm, "host") != 0 && strcmp(nm, "none") != 0 &&
        strcmp(nm, "bridge") != 0)
        return kiln_error_set(err, KILN_E_USAGE,
                              "service %s: network_mode \"%s\" is not supported by kiln (host, "
                              "none, or the project's pod)",
                              name, nm);
    return 0;
}

/* Stops and removes a service's replicas numbered above n (scaled down). */
static int scale_down(const char *root, const struct compose_project *p, const char *service,
                      long n, struct kiln_error **err)
{
    struct compose_ctr *cs;
    size_t nc;
    if (compose_list(root, p->name, &cs, &nc, err) < 0)
        return -1;
    int r = 0;
    long t = compose_stop_timeout(service_of(p, service));
    for (size_t i = 0; i < nc && r == 0; i++) {
        if (strcmp(cs[i].service, service) != 0 ||
            compose_ctr_number(p->name, service, cs[i].name) <= n)
            continue; /* another service's, a one-off (0), or one to keep */
        r = compose_stop_ctr(root, &cs[i], t, 1, err);
        if (r == 0)
            fprintf(stderr, " Container %s  Removed\n", cs[i].name);
    }
    compose_list_free(cs, nc);
    return r;
}

struct started {
    char **names;
    size_t n;
};

/* Stops and removes what this up started, newest first. */
static void roll_back(const char *root, const struct compose_project *p, struct started *st,
                      int pod_made)
{
    struct compose_ctr *cs;
    size_t n;
    if (compose_list(root, p->name, &cs, &n, NULL) == 0) {
        for (size_t k = st->n; k-- > 0;)
            for (size_t i = 0; i < n; i++)
                if (strcmp(cs[i].name, st->names[k]) == 0) {
                    struct kiln_error *e = NULL;
                    if (compose_stop_ctr(root, &cs[i], 0, 1, &e) == 0)
                        fprintf(stderr, " Container %s  Removed\n", cs[i].name);
                    kiln_error_free(e);
                }
        compose_list_free(cs, n);
    }
    if (pod_made) {
        cleanup_free char *pod = compose_pod_name(p->name);
        pod_remove(root, pod, NULL);
    }
}

int compose_up(const char *root, const struct compose_project *p, const struct compose_up_opts *o,
               struct kiln_error **err)
{
    long timeout = o->wait_timeout_s > 0 ? o->wait_timeout_s : 300;
    json_t *sel = json_object(), *plan = NULL, *counts = json_object();
    size_t n_order;
    cleanup_free const char **order = compose_start_order(p, &n_order);
    struct started st = {0};
    int pod_made = 0, r = -1, need_pod = 0;
    for (size_t i = 0; i < o->n_services; i++)
        if (select_with_deps(p, o->services[i], sel, err) < 0)
            goto out;
    if (o->n_services == 0)
        for (size_t i = 0; i < n_order; i++)
            json_object_set_new(sel, order[i], json_true());

    /* everything checked before anything starts */
    if (compose_check_ports(p, err) < 0)
        goto out;
    for (size_t i = 0; i < n_order; i++) {
        const char *name = order[i];
        const json_t *svc = service_of(p, name);
        if (!json_object_get(sel, name))
            continue;
        long nrep;
        if (check_service(name, svc, err) < 0 ||
            compose_replicas(p, o->scale, o->n_scale, name, &nrep, err) < 0)
            goto out;
        json_object_set_new(counts, name, json_integer(nrep));
        need_pod |= compose_service_in_pod(svc);
    }
    for (size_t i = 0; i < n_order; i++) {
        const char *name = order[i];
        const json_t *svc = service_of(p, name);
        if (!json_object_get(sel, name))
            continue;
        cleanup_free char *image = compose_service_image(p, name);
        int have = compose_image_present(root, image);
        if (json_object_get(svc, "build") && (o->build || !have)) {
            if (compose_build_service(root, p, name, o->kiln, err) < 0)
                goto out;
        } else if (!have) {
            fprintf(stderr, " Service %s  Pulling %s\n", name, image);
            if (compose_pull_push(root, image, "pull", o->kiln, err) < 0) {
                kiln_error_prefix(err, "service %s: image %s is not in the store", name, image);
                goto out;
            }
        }
    }
    if (need_pod && compose_ensure_pod(root, p, &pod_made, err) < 0)
        goto out;
    plan =
        compose_recreate_plan(root, p, order, n_order, counts, o->force_recreate, o->no_recreate);
    if (compose_recreate_stop(root, p, order, n_order, plan, err) < 0)
        goto fail;

    for (size_t i = 0; i < n_order; i++) {
        const char *name = order[i];
        const json_t *svc = service_of(p, name);
        if (!json_object_get(sel, name))
            continue;
        long nrep = compose_replica_count(counts, name);
        if (scale_down(root, p, name, nrep, err) < 0)
            goto fail;
        int waited = 0;
        for (long k = 1; k <= nrep; k++) {
            cleanup_free char *cname = compose_ctr_name_n(p->name, name, k);
            cleanup_free char *id = NULL;
            if (ctr_find(root, cname, &id, NULL) == 0) {
                /* what the plan replaces is gone by now */
                json_t *s = ctr_load_state(root, id, NULL);
                int running = s && strcmp(json_get_str(s, "Status"), "running") == 0;
                json_decref(s);
                if (running) {
                    fprintf(stderr, " Container %s  Running\n", cname);
                    continue;
                }
                if (ctr_remove(root, id, err) < 0)
                    goto fail;
            }
            if (!waited && compose_wait_deps(root, p, svc, counts, timeout, err) < 0)
                goto fail;
            waited = 1;
            struct compose_start how = {.detach = 1, .number = k};
            int status;
            st.names = xrealloc(st.names, (st.n + 1) * sizeof(char *));
            st.names[st.n++] = xstrdup(cname);
            if (compose_start_service(root, p, name, &how, &status, NULL, err) < 0)
                goto fail;
            fprintf(stderr, " Container %s  Started\n", cname);
        }
    }
    if (o->wait) {
        for (size_t i = 0; i < n_order; i++) {
            if (!json_object_get(sel, order[i]))
                continue;
            for (long k = 1; k <= compose_replica_count(counts, order[i]); k++) {
                cleanup_free char *cname = compose_ctr_name_n(p->name, order[i], k);
                if (compose_wait_condition(root, order[i], cname, "running", timeout, err) < 0)
                    goto fail;
                fprintf(stderr, " Container %s  Healthy\n", cname);
            }
        }
    }
    r = 0;
    goto out;
fail:
    roll_back(root, p, &st, pod_made);
out:
    for (size_t i = 0; i < st.n; i++)
        free(st.names[i]);
    free(st.names);
    json_decref(sel);
    json_decref(plan);
    json_decref(counts);
    return r;
}
