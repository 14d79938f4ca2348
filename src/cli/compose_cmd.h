/* What kiln compose's subcommands share (compose.c, compose_ctl.c): the
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

/* Stops the containers of services (all when n is 0), dependents first;
 * with remove also removes their records. Returns an exit code. */
int compose_stop_services(struct compose_ctx_cli *cc, const char *const *services, size_t n,
                          int remove);

#endif
