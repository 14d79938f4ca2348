/* What kiln compose's subcommands share (compose.c, compose_ctl.c, compose_ps.c): the
 * loaded project, the store, kiln's own path. Each subcommand parses its own
 * options (argv[0] is its name) and returns an exit code. */
#ifndef KILN_CLI_COMPOSE_CMD_H
#define KILN_CLI_COMPOSE_CMD_H

#include <stddef.h>

struct compose_project;

struct compose_ctx_cli {
    const char *root;
    struct compose_project *p;
    const char *kiln; /* this executable, for build/pull/push/exec */
};

int compose_ps_cmd(struct compose_ctx_cli *cc, int argc, char **argv);
int compose_logs_cmd(struct compose_ctx_cli *cc, int argc, char **argv);
int compose_stop_cmd(struct compose_ctx_cli *cc, int argc, char **argv);
int compose_start_cmd(struct compose_ctx_cli *cc, int argc, char **argv);
int compose_restart_cmd(struct compose_ctx_cli *cc, int argc, char **argv);
int compose_exec_cmd(struct compose_ctx_cli *cc, int argc, char **argv);
int compose_run_cmd(struct compose_ctx_cli *cc, int argc, char **argv);
int compose_images_cmd(struct compose_ctx_cli *cc, int argc, char **argv);
int compose_build_cmd(struct compose_ctx_cli *cc, int argc, char **argv);
int compose_pull_cmd(struct compose_ctx_cli *cc, int argc, char **argv);
int compose_push_cmd(struct compose_ctx_cli *cc, int argc, char **argv);

/* The subcommands' option tables, for kiln help compose SUB. */
struct cli_spec;
extern const struct cli_spec ps_spec, logs_spec, stop_spec, start_spec, restart_spec, exec_spec,
    run_spec, images_spec, build_spec, pull_spec, push_spec;

/* Every name must be a service of the model; else a usage error of cmd
 * ("kiln compose logs: no such service: x"), EXIT_USAGE returned. */
int compose_check_services(const struct compose_project *p, const char *cmd, char **names, int n);
/* Whether name is one of services, or n is 0 (no operands: every service). */
int compose_wanted(const char *const *services, size_t n, const char *name);

/* Stops the containers of services (all when n is 0), dependents first;
 * with remove also removes their records. Returns an exit code. */
int compose_stop_services(struct compose_ctx_cli *cc, const char *const *services, size_t n,
                          int remove);

#endif
