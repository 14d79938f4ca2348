/* The evaluator's state, shared by eval.c (globals, FROM) and scope.c
 * (stages, steps). Not part of the frontend's contract. */
#ifndef KILN_DOCKERFILE_EVAL_INT_H
#define KILN_DOCKERFILE_EVAL_INT_H

#include "dockerfile/eval.h"

struct df_var {
    char *name;
    char *value; /* NULL when declared without a value */
    int has_value;
};

struct df_varlist {
    struct df_var *v;
    size_t n, cap;
    size_t bytes; /* names and values, in all */
};

struct df_var *df_vl_find(const struct df_varlist *l, const char *name);
void df_vl_set(struct df_varlist *l, const char *name, const char *value, int has_value);
void df_vl_release(struct df_varlist *l);

/* df_scope_step; light: expand and apply only (no text, cache text, used
 * args or RUN environment; of COPY/ADD only --from), for the stage graph's
 * walk. Callers that run or show steps expand them fully afterwards. */
struct df_scope;
int df_scope_step_light(struct df_scope *sc, const struct df_instr *ins, int light,
                        struct df_step **out, struct kiln_error **err);

struct df_eval {
    const struct dockerfile *df;
    char **ba_names, **ba_values; /* --build-arg KEY=VALUE, in order */
    int *ba_used;
    size_t n_ba;
    struct df_platform target, build;
    struct df_varlist global; /* ARGs before the first FROM, evaluated */
    struct df_varlist autos;  /* TARGETPLATFORM ... BUILDVARIANT */
    df_warn_fn warn;
    void *warn_ud;
    int lint;
};

/* The value of build arg name (marking it used), or NULL. */
const char *df_eval_build_arg(struct df_eval *ev, const char *name);
int df_is_proxy_arg(const char *name);
/* Prefixes *err with "FILE:LINE:COL"; returns -1. */
int df_eval_errpos(struct df_eval *ev, struct df_pos pos, struct kiln_error **err);
void df_eval_warn(struct df_eval *ev, const char *rule, struct df_pos pos, const char *msg);

#endif
