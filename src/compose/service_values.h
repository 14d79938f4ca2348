/* service_values.c: one service key's value into its long syntax, for
 * service.c's key dispatch. Each checks the value's type and shape (errors
 * name its file:line:column through ctx), and all but compose_file_refs and
 * compose_restart_value store the result under its key in the service's
 * mapping svc. Returns -1 with *err set on a bad value. Internal to
 * src/compose/. */
#ifndef KILN_COMPOSE_SERVICE_VALUES_H
#define KILN_COMPOSE_SERVICE_VALUES_H

#include <jansson.h>

#include "compose/internal.h"
#include "util/error.h"

/* A Go duration ("1m30s", "500ms") stored as Go prints it. */
int compose_duration_value(struct compose_ctx *ctx, json_t *svc, const char *key, json_t *v,
                           struct kiln_error **err);
/* healthcheck: test (a string is CMD-SHELL), interval, timeout, start_period,
 * start_interval, retries, disable. */
int compose_healthcheck_value(struct compose_ctx *ctx, json_t *svc, json_t *v,
                              struct kiln_error **err);
/* depends_on as {SERVICE: {condition, required[, restart]}}, a list giving
 * service_started and required true. */
int compose_depends_on_value(struct compose_ctx *ctx, json_t *svc, json_t *v,
                             struct kiln_error **err);
/* Checks a restart policy (no, always, unless-stopped, on-failure[:N]); stores nothing. */
int compose_restart_value(struct compose_ctx *ctx, json_t *v, struct kiln_error **err);
/* secrets / configs of a service: a list of {source[, target, uid, gid,
 * mode]}, new reference; NULL with *err set. */
json_t *compose_file_refs(struct compose_ctx *ctx, json_t *v, const char *what,
                          struct kiln_error **err);
/* build: a path or a mapping; context made absolute, dockerfile defaulted. */
int compose_build_value(struct compose_ctx *ctx, json_t *svc, json_t *v, struct kiln_error **err);
/* Reads env_file entries into svc's environment mapping (environment wins);
 * call after environment is stored. */
int compose_env_files_value(struct compose_ctx *ctx, json_t *svc, json_t *v,
                            struct kiln_error **err);
/* A size ("512m", "1g", "100kb") stored as bytes. */
int compose_bytes_value(struct compose_ctx *ctx, json_t *svc, const char *key, json_t *v,
                        struct kiln_error **err);
/* deploy: replicas kept, the rest warned about and dropped. */
int compose_deploy_value(struct compose_ctx *ctx, json_t *svc, json_t *v, struct kiln_error **err);

#endif
