/* The lint's expansion walk: every step of the stages a target needs, each
 * stage starting from its base's ENV, with the UndefinedVar check on. */
#include <stdlib.h>
#include <string.h>

#include "dockerfile/expand.h"
#include "dockerfile/lint.h"
#include "util/strbuf.h"

struct stage_env {
    char **env; /* final ENV of the stage ("K=V"), once walked */
    size_t n;
    int known; /* the base chain's ENV is all known */
    int done;
};

static char **copy_env(const char *const *env, size_t n)
{
    char **v = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        v[i] = xstrdup(env[i]);
    return v;
}

static int walk_stage(struct df_eval *ev, const struct df_graph *g, size_t idx,
                      struct stage_env *envs, df_image_env_fn image_env, void *ud,
                      struct kiln_error **err)
{
    const struct dockerfile *df = df_eval_dockerfile(ev);
    const struct df_graph_stage *gs = &g->stages[idx];
    char **base = NULL;
    size_t n_base = 0;
    int known = 0;
    switch (gs->base.kind) {
    case DF_REF_STAGE:
        if (envs[gs->base.stage].done) {
            base = copy_env((const char *const *)envs[gs->base.stage].env, envs[gs->base.stage].n);
            n_base = envs[gs->base.stage].n;
            known = envs[gs->base.stage].known;
        }
        break;
    case DF_REF_SCRATCH:
        known = 1;
        break;
    case DF_REF_IMAGE:
        known = image_env != NULL && gs->base.image != NULL &&
                image_env(ud, gs->base.image, &base, &n_base) == 1;
        if (!known) {
            df_strv_free(base, n_base);
            base = NULL;
            n_base = 0;
        }
        break;
    }
    struct df_scope *sc = NULL;
    int rc = df_scope_new(ev, idx, (const char *const *)base, n_base, &sc, err);
    df_strv_free(base, n_base);
    if (rc < 0)
        return -1;
    df_scope_check_undefined(sc, known);
    const struct df_stage *st = &df->stages[idx];
    for (size_t i = 0; i < st->n_instrs && rc == 0; i++) {
        struct df_step *step;
        rc = df_scope_step(sc, &st->instrs[i], &step, err);
        if (rc == 0)
            df_step_free(step);
    }
    if (rc == 0) {
        const char *const *env;
        size_t n = df_scope_env(sc, &env);
        envs[idx] = (struct stage_env){copy_env(env, n), n, known, 1};
    }
    df_scope_free(sc);
    return rc;
}

int df_lint_steps(struct df_eval *ev, const struct df_graph *g, df_image_env_fn image_env, void *ud,
                  struct kiln_error **err)
{
    struct stage_env *envs = xcalloc(g->n_stages + 1, sizeof(*envs));
    int rc = 0;
    for (size_t k = 0; k < g->n_order && rc == 0; k++)
        rc = walk_stage(ev, g, g->order[k], envs, image_env, ud, err);
    for (size_t i = 0; i < g->n_stages; i++)
        df_strv_free(envs[i].env, envs[i].n);
    free(envs);
    return rc;
}
