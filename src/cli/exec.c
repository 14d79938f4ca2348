/* kiln exec: a new process in a running container's namespaces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "cli/run.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

static int interactive, tty;
static const char *user, *workdir;
static struct cli_strv env_opts;

static const struct cli_opt exec_opts[] = {
    {'i', "interactive", CLI_OPT_FLAG, &interactive, NULL, "keep stdin open", NULL},
    {'t', "tty", CLI_OPT_FLAG, &tty, NULL, "allocate a terminal", NULL},
    {'u', "user", CLI_OPT_STRING, &user, "USER", "run as USER (default: the container's)", NULL},
    {'w', "workdir", CLI_OPT_STRING, &workdir, "DIR", "working directory", NULL},
    {'e', "env", CLI_OPT_LIST, &env_opts, "K=V", "set an environment variable (repeatable)", NULL},
    CLI_OPT_END,
};

static const struct cli_spec exec_spec = {
    .name = "exec",
    .args = "NAME|ID COMMAND [ARG...]",
    .summary = "run a command in a running container",
    .text = "Runs COMMAND inside the running container's namespaces, as the container's\n"
            "user with its environment and the same restrictions as the container.\n",
    .opts = exec_opts,
    .min_args = 2,
    .max_args = -1,
    .flags = CLI_SPEC_STOP_AT_OPERAND,
};

static int cmd_exec(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&exec_spec, argc, argv);
    if (first <= 0)
        return -first;
    const char *extra_env[64];
    size_t n_extra = 0;
    for (size_t i = 0; i < env_opts.n; i++)
        if (n_extra < 64 && strchr(env_opts.v[i], '='))
            extra_env[n_extra++] = env_opts.v[i];
    cleanup_free char *root = cli_store_root(g);
    cleanup_free char *id = NULL;
    struct kiln_error *err = NULL;
    if (ctr_find(root, argv[first], &id, &err) < 0)
        return run_fail(err, RT_EXIT_SETUP);
    json_t *st = ctr_load_state(root, id, &err);
    json_t *cfg = st ? ctr_load_config(root, id, &err) : NULL;
    if (cfg == NULL) {
        json_decref(st);
        return run_fail(err, RT_EXIT_SETUP);
    }
    const char *s = json_get_str(st, "Status");
    pid_t pid = (pid_t)json_get_int(st, "Pid", 0);
    if (!(s && strcmp(s, "running") == 0) || pid <= 0) {
        fprintf(stderr, "kiln: container %s is not running\n", argv[first]);
        json_decref(st);
        json_decref(cfg);
        return RT_EXIT_SETUP;
    }
    struct rt_spec spec;
    rt_spec_init(&spec);
    const char **env = NULL;
    launch_exec_spec(cfg, &spec, &env);
    /* -e entries first: getenv() takes the first match, so they win. */
    size_t n_env = 0;
    while (env && env[n_env])
        n_env++;
    const char **all = xcalloc(n_env + n_extra + 1, sizeof(char *));
    for (size_t i = 0; i < n_extra; i++)
        all[i] = extra_env[i];
    for (size_t i = 0; i < n_env; i++)
        all[n_extra + i] = env[i];
    spec.env = all;
    if (user)
        spec.user = user;
    if (workdir)
        spec.cwd = workdir;
    spec.tty = tty;
    if (!interactive && !tty)
        spec.stdio[0] = -1;
    spec.argv = (const char *const *)(argv + first + 1);
    int status = RT_EXIT_SETUP;
    struct rt_ns ns;
    int r = ctr_ns_fetch(root, id, &ns, &err);
    if (r > 0)
        spec.ns = &ns;
    if (r >= 0)
        r = runtime_exec(pid, &spec, &status, &err);
    rt_ns_close(&ns);
    free(all);
    free(env);
    json_decref(st);
    json_decref(cfg);
    if (r < 0)
        return run_fail(err, status);
    return status;
}

const struct cli_command cli_cmd_exec = {
    .name = "exec",
    .run = cmd_exec,
    .spec = &exec_spec,
};
