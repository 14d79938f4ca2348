/* kiln compose's subcommands on a running project: logs, stop, start,
 * restart, exec, run, images, build, pull, push (up, down and config are in
 * compose.c, ps in compose_ps.c). Containers are found by their compose labels. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/compose_cmd.h"
#include "cli/opt.h"
#include "compose/compose.h"
#include "compose/stack.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

static const json_t *service_of(const struct compose_project *p, const char *name)
{
    return json_object_get(json_object_get(p->model, "services"), name);
}

int compose_check_services(const struct compose_project *p, const char *cmd, char **names, int n)
{
    for (int i = 0; i < n; i++)
        if (service_of(p, names[i]) == NULL)
            return cli_usage_error(cmd, "no such service: %s", names[i]);
    return 0;
}

int compose_wanted(const char *const *services, size_t n, const char *name)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(services[i], name) == 0)
            return 1;
    return 0;
}

static int logs_follow;
static long logs_tail = -1;
static const struct cli_opt logs_opts[] = {
    {'f', "follow", CLI_OPT_FLAG, &logs_follow, NULL, "keep following until every container exits",
     NULL},
    {'n', "tail", CLI_OPT_LONG, &logs_tail, "N", "only the last N lines of each container", NULL},
    CLI_OPT_END,
};
const struct cli_spec logs_spec = {
    .name = "compose logs",
    .args = "[SERVICE...]",
    .summary = "the output of the project's containers, each line prefixed SERVICE-1  |",
    .opts = logs_opts,
    .max_args = -1,
};

int compose_logs_cmd(struct compose_ctx_cli *cc, int argc, char **argv)
{
    int first = cli_parse(&logs_spec, argc, argv);
    if (first <= 0)
        return -first;
    if (compose_check_services(cc->p, "compose logs", argv + first, argc - first))
        return EXIT_USAGE;
    struct kiln_error *err = NULL;
    if (compose_logs(cc->root, cc->p->name, (const char *const *)argv + first,
                     (size_t)(argc - first), logs_follow, logs_tail, NULL, &err) < 0)
        return cli_fail(err);
    return EXIT_OK;
}

int compose_stop_services(struct compose_ctx_cli *cc, const char *const *services, size_t n,
                          int remove)
{
    struct compose_ctr *cs;
    size_t nc, n_order;
    struct kiln_error *err = NULL;
    if (compose_list(cc->root, cc->p->name, &cs, &nc, &err) < 0)
        return cli_fail(err);
    cleanup_free const char **order = compose_start_order(cc->p, &n_order);
    int rc = EXIT_OK;
    for (size_t k = n_order; k-- > 0;) {
        if (!compose_wanted(services, n, order[k]))
            continue;
        for (size_t i = 0; i < nc; i++) {
            if (strcmp(cs[i].service, order[k]) != 0)
                continue;
            long t = compose_stop_timeout(service_of(cc->p, order[k]));
            if (compose_stop_ctr(cc->root, &cs[i], t, remove, &err) < 0) {
                rc = cli_fail(err);
                err = NULL;
                continue;
            }
            fprintf(stderr, " Container %s  Stopped\n", cs[i].name);
        }
    }
    compose_list_free(cs, nc);
    return rc;
}

const struct cli_spec stop_spec = {
    .name = "compose stop",
    .args = "[SERVICE...]",
    .summary = "stop the project's containers (each after its stop_grace_period)",
    .max_args = -1,
};

int compose_stop_cmd(struct compose_ctx_cli *cc, int argc, char **argv)
{
    int first = cli_parse(&stop_spec, argc, argv);
    if (first <= 0)
        return -first;
    if (compose_check_services(cc->p, "compose stop", argv + first, argc - first))
        return EXIT_USAGE;
    return compose_stop_services(cc, (const char *const *)argv + first, (size_t)(argc - first), 0);
}

/* Starts the stopped containers of services again (new processes from the
 * same service definition), in dependency order. */
static int start_services(struct compose_ctx_cli *cc, const char *const *services, size_t n)
{
    size_t n_order;
    cleanup_free const char **order = compose_start_order(cc->p, &n_order);
    struct kiln_error *err = NULL;
    int made;
    if (compose_ensure_pod(cc->root, cc->p, &made, &err) < 0)
        return cli_fail(err);
    struct compose_ctr *cs;
    size_t nc;
    if (compose_list(cc->root, cc->p->name, &cs, &nc, &err) < 0)
        return cli_fail(err);
    int rc = EXIT_OK;
    for (size_t k = 0; k < n_order && rc == EXIT_OK; k++) {
        if (!compose_wanted(services, n, order[k]))
            continue;
        /* docker compose start: only existing containers, each replica */
        for (size_t i = 0; i < nc && rc == EXIT_OK; i++) {
            long number = compose_ctr_number(cc->p->name, order[k], cs[i].name);
            const char *s = json_get_str(cs[i].state, "Status");
            if (strcmp(cs[i].service, order[k]) != 0 || number == 0 ||
                (s && strcmp(s, "running") == 0))
                continue;
            struct compose_start how = {.detach = 1, .number = number};
            int status;
            if (ctr_remove(cc->root, cs[i].id, &err) < 0 ||
                compose_start_service(cc->root, cc->p, order[k], &how, &status, NULL, &err) < 0) {
                rc = cli_fail(err);
                break;
            }
            fprintf(stderr, " Container %s  Started\n", cs[i].name);
        }
    }
    compose_list_free(cs, nc);
    return rc;
}

const struct cli_spec start_spec = {
    .name = "compose start",
    .args = "[SERVICE...]",
    .summary = "start the project's stopped containers again",
    .max_args = -1,
};

int compose_start_cmd(struct compose_ctx_cli *cc, int argc, char **argv)
{
    int first = cli_parse(&start_spec, argc, argv);
    if (first <= 0)
        return -first;
    if (compose_check_services(cc->p, "compose start", argv + first, argc - first))
        return EXIT_USAGE;
    return start_services(cc, (const char *const *)argv + first, (size_t)(argc - first));
}

static int restart_no_deps;
static const struct cli_opt restart_opts[] = {
    {0, "no-deps", CLI_OPT_FLAG, &restart_no_deps, NULL,
     "not the services whose depends_on has restart: true for a SERVICE", NULL},
    CLI_OPT_END,
};
const struct cli_spec restart_spec = {
    .name = "compose restart",
    .args = "[SERVICE...]",
    .summary = "stop, then start the project's containers",
    .text = "With SERVICEs, also the services whose depends_on entry for one of them has\n"
            "restart: true (and theirs, in turn), as docker compose does: all are stopped\n"
            "dependents first, then started in dependency order. --no-deps: only SERVICEs.\n",
    .opts = restart_opts,
    .max_args = -1,
};

int compose_restart_cmd(struct compose_ctx_cli *cc, int argc, char **argv)
{
    int first = cli_parse(&restart_spec, argc, argv);
    if (first <= 0)
        return -first;
    if (compose_check_services(cc->p, "compose restart", argv + first, argc - first))
        return EXIT_USAGE;
    const char *const *sv = (const char *const *)argv + first;
    size_t n = (size_t)(argc - first);
    cleanup_free const char **with = NULL;
    cleanup_json json_t *set = NULL;
    if (n > 0 && !restart_no_deps) {
        set = compose_restart_set(cc->p, sv, n);
        with = xcalloc(json_object_size(set), sizeof(char *));
        n = 0;
        const char *name;
        json_t *v;
        json_object_foreach(set, name, v) with[n++] = name;
        sv = with;
    }
    int rc = compose_stop_services(cc, sv, n, 0);
    return rc ? rc : start_services(cc, sv, n);
}

static const char *exec_user, *exec_workdir;
static int exec_no_tty;
static long exec_index;
static struct cli_strv exec_env;
static const struct cli_opt exec_opts[] = {
    {'u', "user", CLI_OPT_STRING, &exec_user, "USER", "run as USER", NULL},
    {'w', "workdir", CLI_OPT_STRING, &exec_workdir, "DIR", "working directory", NULL},
    {'e', "env", CLI_OPT_LIST, &exec_env, "K=V", "set a variable (repeatable)", NULL},
    {'T', "no-TTY", CLI_OPT_FLAG, &exec_no_tty, NULL, "no terminal even when stdin is one", NULL},
    {0, "index", CLI_OPT_LONG, &exec_index, "N", "the service's replica N (1)", NULL},
    CLI_OPT_END,
};
const struct cli_spec exec_spec = {
    .name = "compose exec",
    .args = "SERVICE COMMAND [ARG...]",
    .summary = "run a command in a service's running container",
    .opts = exec_opts,
    .min_args = 2,
    .max_args = -1,
    .flags = CLI_SPEC_STOP_AT_OPERAND,
};

int compose_exec_cmd(struct compose_ctx_cli *cc, int argc, char **argv)
{
    int first = cli_parse(&exec_spec, argc, argv);
    if (first <= 0)
        return -first;
    if (compose_check_services(cc->p, "compose exec", argv + first, 1))
        return EXIT_USAGE;
    if (exec_index < 0 || exec_index > COMPOSE_MAX_REPLICAS)
        return cli_usage_error("compose exec", "--index must be from 1 to %d",
                               COMPOSE_MAX_REPLICAS);
    cleanup_free char *name =
        compose_ctr_name_n(cc->p->name, argv[first], exec_index > 0 ? exec_index : 1);
    const char **a = xcalloc((size_t)argc + 16 + exec_env.n * 2, sizeof(char *));
    size_t n = 0;
    a[n++] = cc->kiln;
    a[n++] = "--root";
    a[n++] = cc->root;
    a[n++] = "exec";
    if (isatty(0)) {
        a[n++] = "-i";
        if (!exec_no_tty)
            a[n++] = "-t";
    }
    if (exec_user) {
        a[n++] = "-u";
        a[n++] = exec_user;
    }
    if (exec_workdir) {
        a[n++] = "-w";
        a[n++] = exec_workdir;
    }
    for (size_t i = 0; i < exec_env.n; i++) {
        a[n++] = "-e";
        a[n++] = exec_env.v[i];
    }
    a[n++] = name;
    for (int i = first + 1; i < argc; i++)
        a[n++] = argv[i];
    fflush(NULL);
    execv(cc->kiln, (char *const *)a);
    perror("kiln: exec");
    free(a);
    return EXIT_FAIL;
}

static int run_rm, run_detach, run_no_tty;
static const char *run_name;
static const struct cli_opt run_opts[] = {
    {0, "rm", CLI_OPT_FLAG, &run_rm, NULL, "remove the container when it exits", NULL},
    {'d', "detach", CLI_OPT_FLAG, &run_detach, NULL, "run in the background", NULL},
    {0, "name", CLI_OPT_STRING, &run_name, "NAME",
     "container name (default PROJECT-SERVICE-run-ID)", NULL},
    {'T', "no-TTY", CLI_OPT_FLAG, &run_no_tty, NULL, "no terminal even when stdin is one", NULL},
    CLI_OPT_END,
};
const struct cli_spec run_spec = {
    .name = "compose run",
    .args = "SERVICE [COMMAND [ARG...]]",
    .summary = "a one-off container of a service (its dependencies started first)",
    .opts = run_opts,
    .min_args = 1,
    .max_args = -1,
    .flags = CLI_SPEC_STOP_AT_OPERAND,
};

int compose_run_cmd(struct compose_ctx_cli *cc, int argc, char **argv)
{
    int first = cli_parse(&run_spec, argc, argv);
    if (first <= 0)
        return -first;
    if (compose_check_services(cc->p, "compose run", argv + first, 1))
        return EXIT_USAGE;
    const char *service = argv[first];
    struct kiln_error *err = NULL;
    /* its dependencies, as up starts them */
    const json_t *deps = json_object_get(service_of(cc->p, service), "depends_on");
    const char **dn = xcalloc(json_object_size(deps) + 1, sizeof(char *));
    size_t nd = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)deps, k, v) dn[nd++] = k;
    struct compose_up_opts uo = {.services = dn, .n_services = nd, .kiln = cc->kiln};
    int made, r;
    if (nd > 0)
        r = compose_up(cc->root, cc->p, &uo, &err);
    else
        r = compose_ensure_pod(cc->root, cc->p, &made, &err);
    free(dn);
    if (r < 0)
        return cli_fail(err);
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        memset(rnd, 0, sizeof(rnd));
    cleanup_free char *gen = xasprintf("%s-%s-run-%02x%02x%02x%02x%02x%02x", cc->p->name, service,
                                       rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    struct compose_start how = {
        .name = run_name ? run_name : gen,
        .cmd = argc - first > 1 ? argv + first + 1 : NULL,
        .n_cmd = (size_t)(argc - first - 1),
        .rm = run_rm,
        .detach = run_detach,
        .tty = !run_detach && !run_no_tty && isatty(0) && isatty(1),
        .interactive = !run_detach,
    };
    int status = 0;
    char *id = NULL;
    if (compose_start_service(cc->root, cc->p, service, &how, &status, &id, &err) < 0) {
        free(id);
        fprintf(stderr, "kiln: %s\n", err->msg);
        kiln_error_free(err);
        return status >= 125 && status <= 127 ? status : 125;
    }
    if (run_detach)
        printf("%s\n", how.name);
    free(id);
    return run_detach ? EXIT_OK : status;
}

const struct cli_spec images_spec = {
    .name = "compose images",
    .summary = "the images the project's containers run",
    .max_args = 0,
};

int compose_images_cmd(struct compose_ctx_cli *cc, int argc, char **argv)
{
    int first = cli_parse(&images_spec, argc, argv);
    if (first <= 0)
        return -first;
    struct compose_ctr *cs;
    size_t n;
    struct kiln_error *err = NULL;
    if (compose_list(cc->root, cc->p->name, &cs, &n, &err) < 0)
        return cli_fail(err);
    printf("%-28s %-40s %s\n", "CONTAINER", "IMAGE", "IMAGE ID");
    for (size_t i = 0; i < n; i++) {
        const char *img = json_get_str(cs[i].cfg, "Image");
        const char *iid = json_get_str(cs[i].cfg, "ImageId");
        if (iid && strncmp(iid, "sha256:", 7) == 0)
            iid += 7;
        printf("%-28s %-40s %.12s\n", cs[i].name, img ? img : "", iid ? iid : "");
    }
    compose_list_free(cs, n);
    return EXIT_OK;
}

/* build, pull, push: one kiln build/pull/push per selected service. */
const struct cli_spec build_spec = {
    .name = "compose build",
    .args = "[SERVICE...]",
    .summary = "build the images of services with build:",
    .max_args = -1,
};
const struct cli_spec pull_spec = {
    .name = "compose pull",
    .args = "[SERVICE...]",
    .summary = "pull the images of services without build:",
    .max_args = -1,
};
const struct cli_spec push_spec = {
    .name = "compose push",
    .args = "[SERVICE...]",
    .summary = "push the images of services with build: and image:",
    .max_args = -1,
};

static int image_cmd(struct compose_ctx_cli *cc, int argc, char **argv, const char *verb)
{
    const struct cli_spec *spec = strcmp(verb, "build") == 0  ? &build_spec
                                  : strcmp(verb, "pull") == 0 ? &pull_spec
                                                              : &push_spec;
    int first = cli_parse(spec, argc, argv);
    if (first <= 0)
        return -first;
    if (compose_check_services(cc->p, spec->name, argv + first, argc - first))
        return EXIT_USAGE;
    size_t n_order;
    cleanup_free const char **order = compose_start_order(cc->p, &n_order);
    for (size_t k = 0; k < n_order; k++) {
        if (!compose_wanted((const char *const *)argv + first, (size_t)(argc - first), order[k]))
            continue;
        const json_t *svc = service_of(cc->p, order[k]);
        int has_build = json_object_get(svc, "build") != NULL;
        int has_image = json_object_get(svc, "image") != NULL;
        struct kiln_error *err = NULL;
        int r = 0;
        if (strcmp(verb, "build") == 0) {
            r = compose_build_service(cc->root, cc->p, order[k], cc->kiln, &err);
        } else if (strcmp(verb, "pull") == 0 ? (has_image && !has_build)
                                             : (has_image && has_build)) {
            cleanup_free char *img = compose_service_image(cc->p, order[k]);
            r = compose_pull_push(cc->root, img, verb, cc->kiln, &err);
        }
        if (r < 0)
            return cli_fail(err);
    }
    return EXIT_OK;
}

int compose_build_cmd(struct compose_ctx_cli *cc, int argc, char **argv)
{
    return image_cmd(cc, argc, argv, "build");
}

int compose_pull_cmd(struct compose_ctx_cli *cc, int argc, char **argv)
{
    return image_cmd(cc, argc, argv, "pull");
}

int compose_push_cmd(struct compose_ctx_cli *cc, int argc, char **argv)
{
    return image_cmd(cc, argc, argv, "push");
}
