/* Waiting on a project's containers: until a depends_on condition holds
 * (service_started, service_healthy, service_completed_successfully) or, for
 * --wait, until a container runs (healthy when it has a check), giving up on
 * one that keeps exiting with its last line of output. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compose/stack.h"
#include "compose/up_wait.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

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
int compose_wait_condition(const char *root, const char *service, const char *name,
                           const char *cond, long timeout_s, struct kiln_error **err)
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
            /* not once it stopped: its checks ended (Docker's unhealthy) */
            if (running && unhealthy)
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
long compose_replica_count(const json_t *counts, const char *service)
{
    json_t *c = json_object_get(counts, service);
    return json_is_integer(c) ? (long)json_integer_value(c) : 1;
}

/* Waits for every replica of each of svc's dependencies to meet its
 * depends_on condition. */
int compose_wait_deps(const char *root, const struct compose_project *p, const json_t *svc,
                      const json_t *counts, long timeout, struct kiln_error **err)
{
    const char *dep;
    json_t *dv;
    json_object_foreach((json_t *)json_object_get(svc, "depends_on"), dep, dv)
    {
        const char *cond = json_get_str(dv, "condition");
        cond = cond ? cond : "service_started";
        for (long k = 1; k <= compose_replica_count(counts, dep); k++) {
            cleanup_free char *dname = compose_ctr_name_n(p->name, dep, k);
            fprintf(stderr, " Container %s  Waiting (%s)\n", dname, cond);
            if (compose_wait_condition(root, dep, dname, cond, timeout, err) < 0)
                return -1;
        }
    }
    return 0;
}
