/* kiln exec: a new process in a running container's namespaces. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

static int cmd_exec(struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"interactive", no_argument, NULL, 'i'}, {"tty", no_argument, NULL, 't'},
        {"user", required_argument, NULL, 'u'},  {"workdir", required_argument, NULL, 'w'},
        {"env", required_argument, NULL, 'e'},   {NULL, 0, NULL, 0}};
    int interactive = 0, tty = 0, c;
    const char *user = NULL, *workdir = NULL;
    const char *extra_env[64];
    size_t n_extra = 0;
    while ((c = getopt_long(argc, argv, "+itu:w:e:", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            interactive = 1;
            break;
        case 't':
            tty = 1;
            break;
        case 'u':
            user = optarg;
            break;
        case 'w':
            workdir = optarg;
            break;
        case 'e':
            if (n_extra < 64 && strchr(optarg, '='))
                extra_env[n_extra++] = optarg;
            break;
        default:
            return cli_usage_error("exec", "unknown option");
        }
    }
    if (optind + 2 > argc)
        return cli_usage_error("exec", "give a container and a command");
    cleanup_free char *root = cli_store_root(g);
    cleanup_free char *id = NULL;
    struct kiln_error *err = NULL;
    if (ctr_find(root, argv[optind], &id, &err) < 0)
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
        fprintf(stderr, "kiln: container %s is not running\n", argv[optind]);
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
    spec.argv = (const char *const *)(argv + optind + 1);
    int status = RT_EXIT_SETUP;
    int r = runtime_exec(pid, &spec, &status, &err);
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
    .summary = "run a command in a running container",
    .usage = "Usage: kiln exec [-i] [-t] [-u USER] [-w DIR] [-e K=V] NAME|ID COMMAND [ARG...]\n\n"
             "Runs COMMAND inside the running container's namespaces, as the container's\n"
             "user with its environment and the same restrictions as the container.\n",
};
