/* kiln compose: a Compose Specification project (src/compose/). The model is
 * read, merged and checked whole before any subcommand acts on it. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "compose/compose.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

struct strlist {
    const char **v;
    size_t n;
};

static void strlist_add(struct strlist *l, const char *s)
{
    l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
    l->v[l->n++] = s;
}

static int compose_config(struct compose_project *p, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"services", no_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *format = "yaml";
    int services = 0, quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+f:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            format = optarg;
            break;
        case 's':
            services = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            return cli_print_help("compose");
        default:
            return cli_usage_error("compose config", "unknown option");
        }
    }
    if (strcmp(format, "yaml") != 0 && strcmp(format, "json") != 0)
        return cli_usage_error("compose config", "--format must be yaml or json, not \"%s\"",
                               format);
    if (optind != argc)
        return cli_usage_error("compose config", "takes no arguments");
    if (quiet)
        return EXIT_OK;
    if (services) {
        size_t n;
        cleanup_free const char **order = compose_start_order(p, &n);
        for (size_t i = 0; i < n; i++)
            printf("%s\n", order[i]);
        return EXIT_OK;
    }
    if (strcmp(format, "json") == 0) {
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

static int cmd_compose(struct cli_global *g, int argc, char **argv)
{
    (void)g;
    static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'},
        {"project-name", required_argument, NULL, 'p'},
        {"project-directory", required_argument, NULL, 'd'},
        {"env-file", required_argument, NULL, 'e'},
        {"profile", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct strlist files = {0}, env_files = {0}, profiles = {0};
    struct compose_opts o = {0};
    int c;
    while ((c = getopt_long(argc, argv, "+f:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            strlist_add(&files, optarg);
            break;
        case 'p':
            o.project_name = optarg;
            break;
        case 'd':
            o.dir = optarg;
            break;
        case 'e':
            strlist_add(&env_files, optarg);
            break;
        case 'P':
            strlist_add(&profiles, optarg);
            break;
        case 'h':
            return cli_print_help("compose");
        default:
            return cli_usage_error("compose", "unknown option");
        }
    }
    int rc;
    if (optind >= argc) {
        rc = cli_usage_error("compose", "needs a subcommand (config)");
        goto out;
    }
    const char *sub = argv[optind];
    if (strcmp(sub, "config") != 0) {
        rc = cli_usage_error("compose", "unknown subcommand \"%s\" (this kiln has: config)", sub);
        goto out;
    }
    o.files = files.v;
    o.n_files = files.n;
    o.env_files = env_files.v;
    o.n_env_files = env_files.n;
    o.profiles = profiles.v;
    o.n_profiles = profiles.n;
    struct kiln_error *err = NULL;
    struct compose_project *p = NULL;
    if (compose_load(&o, &p, &err) < 0) {
        rc = cli_fail(err);
        goto out;
    }
    for (size_t i = 0; i < p->n_warnings; i++)
        cli_warn("%s", p->warnings[i]);
    rc = compose_config(p, argc - optind, argv + optind);
    compose_project_free(p);
out:
    free(files.v);
    free(env_files.v);
    free(profiles.v);
    return rc;
}

const struct cli_command cli_cmd_compose = {
    .name = "compose",
    .run = cmd_compose,
    .summary = "read a Compose Specification project (compose.yaml)",
    .usage = "Usage: kiln compose [OPTIONS] COMMAND\n\n"
             "Reads compose.yaml (else compose.yml, docker-compose.yml) in the current\n"
             "directory, or the files given with -f, merged in order by the Compose\n"
             "Specification's rules; interpolates ${VAR}, ${VAR:-default}, ${VAR:?message}\n"
             "and $$ from the environment and the project's .env; checks the whole project\n"
             "(types, references, dependency cycles, secret files) before anything runs.\n\n"
             "Commands:\n"
             "  config [--format yaml|json] [--services] [-q]\n"
             "               print the normalised model (docker compose config's normal\n"
             "               form); --services lists services in start order; -q only checks\n\n"
             "Options:\n"
             "  -f, --file FILE            compose file (repeatable; later files override)\n"
             "  -p, --project-name NAME    project name (default: `name:`, else the directory)\n"
             "      --project-directory D  where to look for the compose file (default .)\n"
             "      --env-file FILE        variables for interpolation (repeatable; default\n"
             "                             PROJECT_DIR/.env); the environment wins\n"
             "      --profile NAME         enable a profile (repeatable; COMPOSE_PROFILES)\n",
};
