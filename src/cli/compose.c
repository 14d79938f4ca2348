/* kiln compose: a Compose Specification project (src/compose/). The model is
 * read, merged and checked whole before any subcommand acts on it; the
 * subcommands that act on containers are in compose_ctl.c. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/compose_cmd.h"
#include "cli/opt.h"
#include "compose/compose.h"
#include "compose/stack.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

static const char *config_format = "yaml";
static int config_services, config_quiet;
static const struct cli_opt config_opts[] = {
    {0, "format", CLI_OPT_STRING, &config_format, "FORMAT", "yaml (default) or json", NULL},
    {0, "services", CLI_OPT_FLAG, &config_services, NULL, "list the services in start order", NULL},
    {'q', "quiet", CLI_OPT_FLAG, &config_quiet, NULL, "only check the project", NULL},
    CLI_OPT_END,
};
static const struct cli_spec config_spec = {
    .name = "compose config",
    .summary = "print the normalised model (docker compose config's normal form)",
    .opts = config_opts,
    .max_args = 0,
};

static int compose_config(struct compose_ctx_cli *cc, int argc, char **argv)
{
    int first = cli_parse(&config_spec, argc, argv);
    if (first <= 0)
        return -first;
    if (strcmp(config_format, "yaml") != 0 && strcmp(config_format, "json") != 0)
        return cli_usage_error("compose config", "--format must be yaml or json, not \"%s\"",
                               config_format);
    struct compose_project *p = cc->p;
    if (config_quiet)
        return EXIT_OK;
    if (config_services) {
        size_t n;
        cleanup_free const char **order = compose_start_order(p, &n);
        for (size_t i = 0; i < n; i++)
            printf("%s\n", order[i]);
        return EXIT_OK;
    }
    if (strcmp(config_format, "json") == 0) {
        cleanup_free char *out = json_dumps(p->model, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", out);
        return EXIT_OK;
    }
    struct kiln_error *err = NULL;
    cleanup_free char *yaml = compose_to_yaml(p->model, &err);
    if (yaml == NULL)
        return cli_fail(err);
    fputs(yaml, stdout);
    return EXIT_OK;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int up_detach, up_build, up_wait, up_force, up_norecreate;
static long up_timeout;
static struct cli_strv up_scale;
static const struct cli_opt up_opts[] = {
    {'d', "detach", CLI_OPT_FLAG, &up_detach, NULL, "start in the background and return", NULL},
    {0, "build", CLI_OPT_FLAG, &up_build, NULL, "build images before starting", NULL},
    {0, "force-recreate", CLI_OPT_FLAG, &up_force, NULL,
     "recreate running containers even if their service is unchanged", NULL},
    {0, "no-recreate", CLI_OPT_FLAG, &up_norecreate, NULL,
     "leave running containers as they are even if their service changed", NULL},
    {0, "wait", CLI_OPT_FLAG, &up_wait, NULL,
     "return once every service runs (healthy when it has a check); implies -d", NULL},
    {0, "wait-timeout", CLI_OPT_LONG, &up_timeout, "SECONDS",
     "how long --wait and depends_on conditions wait (300)", NULL},
    {0, "scale", CLI_OPT_LIST, &up_scale, "SERVICE=N",
     "run N replicas of SERVICE (one that listens: 1; repeatable)", NULL},
    CLI_OPT_END,
};
static const struct cli_spec up_spec = {
    .name = "compose up",
    .args = "[SERVICE...]",
    .summary = "create and start the project's containers",
    .text = "Starts the services (and what they depend on) in dependency order, each\n"
            "once its depends_on conditions hold. A running container whose service\n"
            "changed in the file since (its com.docker.compose.config-hash label) is\n"
            "recreated (the contents of its secret, config and env_file files count), and\n"
            "the services that depend on it are restarted with it; unchanged ones keep\n"
            "running. scale, deploy.replicas or --scale N run PROJECT-SERVICE-1..N in the\n"
            "project's pod: they share its network namespace, so N > 1 is refused for a\n"
            "service with ports or expose. Without -d, follows their output until\n"
            "interrupted, then stops them.\n",
    .opts = up_opts,
    .max_args = -1,
};

static int compose_up_cmd(struct compose_ctx_cli *cc, int argc, char **argv)
{
    int first = cli_parse(&up_spec, argc, argv);
    if (first <= 0)
        return -first;
    struct compose_up_opts o = {
        .services = (const char *const *)argv + first,
        .n_services = (size_t)(argc - first),
        .build = up_build,
        .force_recreate = up_force,
        .no_recreate = up_norecreate,
        .wait = up_wait,
        .wait_timeout_s = up_timeout,
        .kiln = cc->kiln,
        .scale = up_scale.v,
        .n_scale = up_scale.n,
    };
    struct kiln_error *err = NULL;
    if (compose_up(cc->root, cc->p, &o, &err) < 0)
        return cli_fail(err);
    if (up_detach || up_wait)
        return EXIT_OK;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    compose_logs(cc->root, cc->p->name, o.services, o.n_services, 1, -1, &interrupted, NULL);
    fprintf(stderr, "Gracefully stopping...\n");
    return compose_stop_services(cc, o.services, o.n_services, 0);
}

static int down_volumes, down_orphans;
static const struct cli_opt down_opts[] = {
    {'v', "volumes", CLI_OPT_FLAG, &down_volumes, NULL, "also remove the named volumes", NULL},
    {0, "remove-orphans", CLI_OPT_FLAG, &down_orphans, NULL,
     "also remove containers of services no longer in the file", NULL},
    CLI_OPT_END,
};
static const struct cli_spec down_spec = {
    .name = "compose down",
    .summary = "stop and remove the project's containers and pod",
    .opts = down_opts,
    .max_args = 0,
};

static int compose_down_cmd(struct compose_ctx_cli *cc, int argc, char **argv)
{
    int first = cli_parse(&down_spec, argc, argv);
    if (first <= 0)
        return -first;
    struct kiln_error *err = NULL;
    if (compose_down(cc->root, cc->p, down_volumes, down_orphans, &err) < 0)
        return cli_fail(err);
    return EXIT_OK;
}

static const struct {
    const char *name;
    int (*run)(struct compose_ctx_cli *cc, int argc, char **argv);
} subs[] = {
    {"config", compose_config},   {"up", compose_up_cmd},           {"down", compose_down_cmd},
    {"ps", compose_ps_cmd},       {"logs", compose_logs_cmd},       {"stop", compose_stop_cmd},
    {"start", compose_start_cmd}, {"restart", compose_restart_cmd}, {"exec", compose_exec_cmd},
    {"run", compose_run_cmd},     {"images", compose_images_cmd},   {"build", compose_build_cmd},
    {"pull", compose_pull_cmd},   {"push", compose_push_cmd},
};

static const struct cli_spec *const compose_subcommands[] = {
    &config_spec, &up_spec,    &down_spec,    &ps_spec,   &logs_spec,
    &stop_spec,   &start_spec, &restart_spec, &exec_spec, &run_spec,
    &images_spec, &build_spec, &pull_spec,    &push_spec, NULL,
};

#define COMPOSE_TEXT                                                                               \
    "Reads compose.yaml (else compose.yml, docker-compose.yml) in the current\n"                   \
    "directory, or the files given with -f, merged in order by the Compose\n"                      \
    "Specification's rules; interpolates ${VAR}, ${VAR:-default}, ${VAR:?message}\n"               \
    "and $$ from the environment and the project's .env; checks the whole project\n"               \
    "(types, references, dependency cycles, secret files) before anything runs.\n\n"               \
    "One project is one pod (pod_PROJECT): services reach each other on 127.0.0.1\n"               \
    "and by service name; published ports are the pod's. Containers are named\n"                   \
    "PROJECT-SERVICE-1 and labelled com.docker.compose.project/.service.\n\n"                      \
    "Example:\n"                                                                                   \
    "  kiln compose up -d --wait && kiln compose ps && kiln compose down -v\n"                     \
    "  kiln compose ps --format json   # one object per line, as Docker Compose v2\n"

static struct cli_strv files, env_files, profiles;
static const char *project, *dir;
static const struct cli_opt opts[] = {
    {'f', "file", CLI_OPT_LIST, &files, "FILE", "compose file (repeatable; later ones override)",
     NULL},
    {'p', "project-name", CLI_OPT_STRING, &project, "NAME",
     "project name (default: name:, else the directory)", NULL},
    {0, "project-directory", CLI_OPT_STRING, &dir, "DIR",
     "where to look for the compose file (default .)", NULL},
    {0, "env-file", CLI_OPT_LIST, &env_files, "FILE",
     "variables for interpolation (repeatable; default PROJECT_DIR/.env)", NULL},
    {0, "profile", CLI_OPT_LIST, &profiles, "NAME",
     "enable a profile (repeatable; COMPOSE_PROFILES)", NULL},
    CLI_OPT_END,
};
static const struct cli_spec spec = {
    .name = "compose",
    .args = "COMMAND [ARG...]",
    .summary = "run a Compose Specification project (compose.yaml) as a pod",
    .text = COMPOSE_TEXT,
    .opts = opts,
    .min_args = 1,
    .max_args = -1,
    .flags = CLI_SPEC_STOP_AT_OPERAND,
};

static int cmd_compose(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&spec, argc, argv);
    if (first <= 0)
        return -first;
    const char *sub = argv[first];
    size_t k = 0;
    while (k < sizeof(subs) / sizeof(subs[0]) && strcmp(subs[k].name, sub) != 0)
        k++;
    if (k == sizeof(subs) / sizeof(subs[0]))
        return cli_usage_error("compose", "unknown command \"%s\" (see kiln compose --help)", sub);
    /* `kiln compose up --help` needs no project */
    for (int i = first + 1; i < argc && argv[i][0] == '-'; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            struct compose_ctx_cli none = {0};
            return subs[k].run(&none, argc - first, argv + first);
        }
    struct compose_opts o = {
        .files = files.v,
        .n_files = files.n,
        .dir = dir,
        .project_name = project,
        .env_files = env_files.v,
        .n_env_files = env_files.n,
        .profiles = profiles.v,
        .n_profiles = profiles.n,
    };
    struct kiln_error *err = NULL;
    struct compose_project *p = NULL;
    if (compose_load(&o, &p, &err) < 0)
        return cli_fail(err);
    for (size_t i = 0; i < p->n_warnings; i++)
        cli_warn("%s", p->warnings[i]);
    cleanup_free char *root = cli_store_root(g);
    cleanup_free char *self = realpath("/proc/self/exe", NULL);
    struct compose_ctx_cli cc = {.root = root, .p = p, .kiln = self ? self : "kiln"};
    int rc = subs[k].run(&cc, argc - first, argv + first);
    compose_project_free(p);
    return rc;
}

const struct cli_command cli_cmd_compose = {
    .name = "compose",
    .run = cmd_compose,
    .summary = "run a Compose Specification project (compose.yaml) as a pod",
    .spec = &spec,
    .subcommands = compose_subcommands,
};
