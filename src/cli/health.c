/* kiln health: runs a container's (or an image's) HEALTHCHECK once and
 * exits 0 (healthy) or 1 with the check's output. For an image, a throw-away
 * container is started and probed until it passes or its start period and
 * retries run out. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "cli/run.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

#define SEC 1000000000LL

static int probe_container(const char *root, const char *id, int repeat, struct kiln_error **err)
{
    json_t *st = ctr_load_state(root, id, err);
    json_t *cfg = st ? ctr_load_config(root, id, err) : NULL;
    if (cfg == NULL) {
        json_decref(st);
        return -1;
    }
    int ret = -1;
    struct ctr_healthcheck hc = {0};
    const char *s = json_get_str(st, "Status");
    pid_t pid = (pid_t)json_get_int(st, "Pid", 0);
    if (!(s && strcmp(s, "running") == 0) || pid <= 0) {
        kiln_error_set(err, KILN_E_FAIL, "container %.12s is not running", id);
        goto out;
    }
    if (ctr_healthcheck_from_json(json_object_get(cfg, "Healthcheck"),
                                  json_object_get(cfg, "Shell"), &hc, err) < 0)
        goto out;
    if (hc.argv == NULL) {
        kiln_error_set(err, KILN_E_NOTFOUND, "%s has no HEALTHCHECK",
                       json_get_str(cfg, "Image") ? json_get_str(cfg, "Image") : id);
        goto out;
    }
    struct rt_spec spec;
    rt_spec_init(&spec);
    const char **env = NULL;
    launch_exec_spec(cfg, &spec, &env);
    struct rt_ns ns;
    int got = ctr_ns_fetch(root, id, &ns, err);
    if (got < 0) {
        free(env);
        goto out;
    }
    if (got)
        spec.ns = &ns;
    /* For an image: retry while the start period and retries allow, as the
     * supervisor does: StartInterval apart within the start period (when shorter
     * than Interval), then Interval apart; at most a second apart, as someone
     * waits for the answer. */
    long long budget =
        repeat ? hc.start_period + (long long)hc.retries * (hc.interval + hc.timeout) : 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        char *out = NULL;
        int code = ctr_health_probe(pid, &spec, &hc, &out);
        clock_gettime(CLOCK_MONOTONIC, &t);
        long long el = (t.tv_sec - t0.tv_sec) * SEC + (t.tv_nsec - t0.tv_nsec);
        long long step = hc.interval;
        if (el < hc.start_period && hc.start_interval < step)
            step = hc.start_interval;
        if (step > SEC)
            step = SEC;
        if (code == 0 || el + step > budget) {
            fputs(out ? out : "", stdout);
            if (out && out[0] && out[strlen(out) - 1] != '\n')
                putchar('\n'); /* why it could not run, or one that ended mid-line */
            free(out);
            ret = code == 0 ? 0 : 1;
            break;
        }
        free(out);
        struct timespec ts = {step / SEC, step % SEC};
        nanosleep(&ts, NULL);
    }
    rt_ns_close(&ns);
    free(env);
out:
    ctr_healthcheck_release(&hc);
    json_decref(st);
    json_decref(cfg);
    return ret;
}

static const struct cli_spec health_spec = {
    .name = "health",
    .args = "NAME|ID|IMAGE",
    .summary = "run a container's or image's HEALTHCHECK once",
    .text = "Runs the HEALTHCHECK of a running container once and prints its output; exits\n"
            "0 when healthy, 1 when not. Given an image, starts a throw-away container,\n"
            "probes it until it passes or its start period and retries run out, then\n"
            "removes it.\n",
    .min_args = 1,
    .max_args = 1,
};

static int cmd_health(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&health_spec, argc, argv);
    if (first <= 0)
        return -first;
    const char *name = argv[first];
    cleanup_free char *root = cli_store_root(g);
    cleanup_free char *id = NULL;
    struct kiln_error *err = NULL;
    if (ctr_find(root, name, &id, NULL) == 0) {
        int r = probe_container(root, id, 0, &err);
        return r < 0 ? cli_fail(err) : r;
    }
    /* An image: start it detached, probe, then remove it. */
    struct launch_opts o = {0};
    struct run_image ri;
    o.root = root;
    o.detach = 1;
    if (run_image_open(root, name, &ri, &o, &err) < 0) {
        run_image_close(&ri);
        return cli_fail(err);
    }
    json_t *hcj = o.image_config ? json_object_get(o.image_config, "Healthcheck") : NULL;
    struct ctr_healthcheck hc = {0};
    ctr_healthcheck_from_json(hcj, NULL, &hc, NULL);
    int has = hc.argv != NULL;
    ctr_healthcheck_release(&hc);
    if (!has) {
        run_image_close(&ri);
        fprintf(stderr, "kiln: image %s has no HEALTHCHECK\n", name);
        return EXIT_FAIL;
    }
    int status;
    char *cid = NULL;
    int r = launch_container(&o, &status, &cid, &err);
    run_image_close(&ri);
    if (r < 0) {
        if (cid) {
            ctr_remove(root, cid, NULL);
            free(cid);
        }
        return cli_fail(err);
    }
    r = probe_container(root, cid, 1, &err);
    ctr_stop(root, cid, 2, NULL);
    ctr_remove(root, cid, NULL);
    free(cid);
    return r < 0 ? cli_fail(err) : r;
}

const struct cli_command cli_cmd_health = {
    .name = "health",
    .run = cmd_health,
    .spec = &health_spec,
};
