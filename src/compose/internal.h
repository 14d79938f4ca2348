/* What the compose files share inside src/compose/: where each value of the
 * model came from (file:line:column, for errors found after the YAML is gone)
 * and the loader's context. Not a contract for anyone else. */
#ifndef KILN_COMPOSE_INTERNAL_H
#define KILN_COMPOSE_INTERNAL_H

#include <jansson.h>

#include "compose/compose.h"
#include "util/error.h"

struct compose_pos {
    const char *file; /* borrowed from the loader */
    unsigned line, col;
};

/* json_t* -> where it was read. Holds a reference to each value, so a
 * pointer cannot be reused by another value while the map lives. */
struct compose_posmap {
    json_t **keys;
    char **names; /* NULL: the value itself; else the key `name` of mapping keys[i] */
    struct compose_pos *vals;
    size_t n, cap;
};

void posmap_put(struct compose_posmap *m, json_t *v, const char *file, unsigned line, unsigned col);
const struct compose_pos *posmap_get(const struct compose_posmap *m, const json_t *v);
/* Where a mapping's key was written (values such as `true` have no identity
 * of their own: errors about them point at their key). */
void posmap_put_key(struct compose_posmap *m, json_t *obj, const char *key, const char *file,
                    unsigned line, unsigned col);
const struct compose_pos *posmap_get_key(const struct compose_posmap *m, const json_t *obj,
                                         const char *key);
/* Gives `to` the position `from` has, if any. */
void posmap_copy(struct compose_posmap *m, json_t *to, const json_t *from);
void posmap_release(struct compose_posmap *m);

struct compose_ctx {
    struct compose_env env;
    struct compose_posmap pos;
    char **files; /* every file read, kept for the positions */
    size_t n_files;
    const char *dir; /* the project directory, absolute */
    char **warnings;
    size_t n_warnings;
};

/* Reads one YAML file into JSON (interpolating string scalars, resolving
 * anchors, aliases and << merge keys) and records every value's position. */
json_t *compose_yaml_load(struct compose_ctx *ctx, const char *path, struct kiln_error **err);

/* "file:line:col: " for v, or "" when unknown. Allocated. */
char *compose_where(const struct compose_ctx *ctx, const json_t *v);
/* Sets err to "file:line:col: message" for v. Returns -1. */
int compose_error_at(const struct compose_ctx *ctx, const json_t *v, struct kiln_error **err,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void compose_warn_at(struct compose_ctx *ctx, const json_t *v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, at the place key `key` of mapping obj was written. */
int compose_error_key(const struct compose_ctx *ctx, const json_t *obj, const char *key,
                      struct kiln_error **err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void compose_warn_key(struct compose_ctx *ctx, const json_t *obj, const char *key, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

/* One file's top level in long syntax: services normalised one by one,
 * relative paths made absolute against ctx->dir. */
int compose_normalize_file(struct compose_ctx *ctx, json_t *doc, struct kiln_error **err);
/* Merges `over` into `base` (both normalised) by the spec's rules. */
void compose_merge(json_t *base, json_t *over);
/* Cross-references of the merged project: depends_on, volumes, secrets,
 * configs, cycles; profiles applied. */
int compose_check_project(struct compose_ctx *ctx, json_t *model, const char *const *profiles,
                          size_t n_profiles, struct kiln_error **err);

/* syntax.c: one value into its long form; errors name the value's place. */
char *compose_scalar_string(const json_t *v); /* 8000 -> "8000"; NULL for non-scalars */
int compose_want_string(struct compose_ctx *ctx, const json_t *v, const char *what,
                        struct kiln_error **err);
json_t *compose_string_list(struct compose_ctx *ctx, json_t *v, const char *what,
                            struct kiln_error **err);
json_t *compose_split_words(struct compose_ctx *ctx, json_t *v, struct kiln_error **err);
json_t *compose_command_value(struct compose_ctx *ctx, json_t *v, const char *key,
                              struct kiln_error **err);
json_t *compose_kv_map(struct compose_ctx *ctx, json_t *v, const char *what, int allow_null,
                       struct kiln_error **err);
char *compose_resolve_path(struct compose_ctx *ctx, const char *p);
json_t *compose_ports_value(struct compose_ctx *ctx, json_t *v, struct kiln_error **err);
json_t *compose_volumes_value(struct compose_ctx *ctx, json_t *v, struct kiln_error **err);

/* Durations ("1m30s", "500ms", "10" seconds) in ns, rounded to the nearest;
 * -1 when invalid. The model keeps them as human_duration prints them (Go's). */
long long compose_parse_duration_ns(const char *s);

/* Fills a new volume directory with the image's content at target: the
 * layers' lower dirs (top first, as run_image_open gives them) merged with
 * their whiteouts, owners and modes; the volume's own owner and mode become
 * the image directory's. Nothing when the image has no directory there. */
int compose_volume_populate(const char *voldir, char *const *lowerdirs, size_t n,
                            const char *target, struct kiln_error **err);

#endif
