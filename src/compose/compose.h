/* The Compose Specification read into one model: compose files (libyaml) ->
 * interpolated -> each file's services in their long syntax -> merged in
 * order -> checked whole (references, cycles, profiles, ports). The model is
 * a jansson object in the normal form `docker compose config` prints; the
 * runtime side (up, down, ...) reads it, never the YAML. Nothing here starts
 * anything. */
#ifndef KILN_COMPOSE_COMPOSE_H
#define KILN_COMPOSE_COMPOSE_H

#include <jansson.h>
#include <stddef.h>

#include "util/error.h"

/* Variables for interpolation: the process environment wins over the
 * project's .env / --env-file values (the spec's order). */
struct compose_env {
    char **keys;
    char **vals;
    size_t n, cap;
};

void compose_env_init(struct compose_env *env);
void compose_env_release(struct compose_env *env);
/* Adds or (when replace) overwrites one variable. */
void compose_env_set(struct compose_env *env, const char *key, const char *val, int replace);
const char *compose_env_get(const struct compose_env *env, const char *key);
/* Reads a dotenv file (KEY=VALUE, `export ` prefix, # comments, single quotes
 * literal, double quotes with \n escapes, ${VAR} in unquoted and double-quoted
 * values) into env; existing keys are kept unless replace. Errors name
 * path:line. */
int compose_env_read_file(struct compose_env *env, const char *path, int replace,
                          struct kiln_error **err);

/* Interpolates ${VAR}, $VAR, ${VAR:-default}, ${VAR-default}, ${VAR:?message},
 * ${VAR?message}, ${VAR:+alt}, ${VAR+alt} and $$ in `in`. On error returns -1
 * and sets *msg (static or allocated into *msg_alloc) to say why. */
int compose_interpolate(const char *in, const struct compose_env *env, char **out, char **msg);

struct compose_opts {
    const char *const *files; /* -f, in order; none: compose.yaml ... in dir */
    size_t n_files;
    const char *dir;              /* where to look when no -f (default "."); */
    const char *project_name;     /* -p; else COMPOSE_PROJECT_NAME, `name:`, the dir */
    const char *const *env_files; /* --env-file; default PROJECT_DIR/.env if present */
    size_t n_env_files;
    const char *const *profiles; /* --profile; else COMPOSE_PROFILES */
    size_t n_profiles;
};

struct compose_project {
    char *name;      /* normalised: lower case, [a-z0-9_-] */
    char *dir;       /* absolute project directory */
    json_t *model;   /* name, services, volumes, secrets, configs */
    char **warnings; /* "file:line:col: ..." for keys kiln ignores */
    size_t n_warnings;
};

/* Loads, merges and checks the project. Errors name file:line:column where a
 * node is at fault. */
int compose_load(const struct compose_opts *opts, struct compose_project **out,
                 struct kiln_error **err);
void compose_project_free(struct compose_project *p);

/* Services in start order (dependencies first; ties by name). Allocated array
 * of borrowed names; *n set. */
const char **compose_start_order(const struct compose_project *p, size_t *n);

/* The model as YAML (keys sorted, strings that would read as another type
 * quoted). Allocated. */
char *compose_to_yaml(const json_t *model, struct kiln_error **err);

/* One project is one pod: two services publishing the same host port, or
 * listening on the same container port, collide. Returns -1 naming both. */
int compose_check_ports(const struct compose_project *p, struct kiln_error **err);

#endif
