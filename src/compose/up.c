/* compose up: checks, the pod, then the services in dependency order, each
 * after its depends_on conditions hold; a failure stops what this call
 * started. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compose/stack.h"
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

static int in_pod(const json_t *svc)
{
    const char *nm = json_get_str(svc, "network_mode");
    return nm == NULL || (strcmp(nm, "host") != 0 && strcmp(nm, "none") != 0);
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
        if (!in_pod(svc))
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

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void nap(void)
{
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL);
}

/* The last line the container wrote (ctr.log), for an error about its exit:
 * up removes what it started when it fails, its log with it. Allocated; "" if
 * there is none. */
static char *last_output(const char *root, const char *id)
{
    cleanup_free char *dir = ctr_dir(root, id);
    cleanup_free char *path = xasprintf("%s/ctr.log", dir);
    char buf[4096];
    ssize_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        off_t end = lseek(fd, 0, SEEK_END);
        off_t from = end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0;
        n = pread(fd, buf, sizeof(buf) - 1, from);
        close(fd);
    }
    if (n <= 0)
        return xstrdup("");
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = 0;
    char *line = strrchr(buf, '\n');
    line = line ? line + 1 : buf;
    if (strlen(line) > 200)
        line[200] = 0;
    return *line ? xasprintf("; its last output: \"%s\"", line) : xstrdup("");
}

/* Restarts seen while waiting before a wait gives up on a service. */
#define WAIT_MAX_RESTARTS 3

/* Waits until container name reaches condition: service_started (running
 * or already done), service_healthy, service_completed_successfully, or
 * "running" (--wait: running, and healthy when it has a check). */
static int wait_condition(const char *root, const char *service, const char *name, const char *cond,
                          long timeout_s, struct kiln_error **err)
{
    cleanup_free char *id = NULL;
    if (ctr_find(root, name, &id, err) < 0)
        return kiln_error_prefix(err, "service %s", service);
    double t0 = now_s();
    long long restarts0 = -1;
    for (;;) {
        json_t *st = ctr_load_state(root, id, err);
        if (st == NULL)
            return -1;
        const char *s = json_get_str(st, "Status");
        long long code = json_get_int(st, "ExitCode", 0);
        long long restarts = json_get_int(st, "RestartCount", 0);
        if (restarts0 < 0)
            restarts0 = restarts;
        /* A service that keeps dying at start under a restart policy is not
         * going to become ready: say so instead of waiting out the timeout. */
        if (restarts - restarts0 >= WAIT_MAX_RESTARTS) {
            json_decref(st);
            cleanup_free char *last = last_output(root, id);
            return kiln_error_set(err, KILN_E_FAIL,
                                  "service %s keeps exiting (status %lld, restarted %lld times "
                                  "while waiting)%s",
                                  service, code, restarts - restarts0, last);
        }
        int running = s && strcmp(s, "running") == 0;
        int exited = s && strcmp(s, "exited") == 0;
        json_decref(st);
        json_t *cfg = ctr_load_config(root, id, NULL);
        json_t *hcj = cfg ? json_object_get(cfg, "Healthcheck") : NULL;
        json_t *t0j = hcj ? json_array_get(json_object_get(hcj, "Test"), 0) : NULL;
        int has_check = t0j && strcmp(json_string_value(t0j), "NONE") != 0;
        json_decref(cfg);
        json_t *h = ctr_load_health(root, id);
        const char *hs = h ? json_get_str(h, "Status") : NULL;
        int healthy = hs && strcmp(hs, "healthy") == 0;
        int unhealthy = hs && strcmp(hs, "unhealthy") == 0;
        json_decref(h);
        if (strcmp(cond, "service_started") == 0) {
            if (running || exited)
                return 0;
        } else if (strcmp(cond, "service_completed_successfully") == 0) {
            if (exited && code == 0)
                return 0;
            if (exited)
                return kiln_error_set(err, KILN_E_FAIL,
                                      "service %s exited with status %lld (a dependency needs it "
                                      "to complete successfully)",
                                      service, code);
        } else {
            int healthy_cond = strcmp(cond, "service_healthy") == 0;
            if (healthy_cond && !has_check)
                return kiln_error_set(err, KILN_E_INVALID,
                                      "service %s has no healthcheck (a dependency waits for "
                                      "service_healthy)",
                                      service);
            if (running && (has_check ? healthy : 1))
                return 0;
            if (unhealthy)
                return kiln_error_set(err, KILN_E_FAIL, "service %s is unhealthy", service);
            if (exited) {
                cleanup_free char *last = last_output(root, id);
                return kiln_error_set(
                    err, KILN_E_FAIL, "service %s exited (status %lld) before it was %s%s", service,
                    code, healthy_cond || has_check ? "healthy" : "running", last);
            }
        }
        if (now_s() - t0 > (double)timeout_s)
            return kiln_error_set(err, KILN_E_FAIL, "service %s: not %s after %ld s", service, cond,
                                  timeout_s);
        nap();
    }
}

/* Replicas up runs of a service: counts as compose_up made it. */
static long count_of(const json_t *counts, const char *service)
{
    json_t *c = json_object_get(counts, service);
    return json_is_integer(c) ? (long)json_integer_value(c) : 1;
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

/* Waits for every replica of each of svc's dependencies to meet its
 * depends_on condition. */
static int wait_deps(const char *root, const struct compose_project *p, const json_t *svc,
                     const json_t *counts, long timeout, struct kiln_error **err)
{
    const char *dep;
    json_t *dv;
    json_object_foreach((json_t *)json_object_get(svc, "depends_on"), dep, dv)
    {
        const char *cond = json_get_str(dv, "condition");
        cond = cond ? cond : "service_started";
        for (long k = 1; k <= count_of(counts, dep); k++) {
            cleanup_free char *dname = compose_ctr_name_n(p->name, dep, k);
            fprintf(stderr, " Container %s  Waiting (%s)\n", dname, cond);
            if (wait_condition(root, dep, dname, cond, timeout, err) < 0)
                return -1;
        }
    }
    return 0;
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

/* The pod: reused when it runs, else made with the project's ports. */
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
        need_pod |= in_pod(svc);
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
        long nrep = count_of(counts, name);
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
            if (!waited && wait_deps(root, p, svc, counts, timeout, err) < 0)
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
            for (long k = 1; k <= count_of(counts, order[i]); k++) {
                cleanup_free char *cname = compose_ctr_name_n(p->name, order[i], k);
                if (wait_condition(root, order[i], cname, "running", timeout, err) < 0)
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
