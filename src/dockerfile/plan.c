/* The dry-run plan as text: the stages that run, in dependency order and
 * parallel waves, each step expanded; the stages skipped and why; build
 * args nothing used. Base image ENV is not known here, so steps see only
 * what the Dockerfile itself sets (a stage built FROM another stage starts
 * from that stage's ENV). */
#include <stdlib.h>
#include <string.h>

#include "dockerfile/eval.h"
#include "dockerfile/graph.h"
#include "dockerfile/plan.h"
#include "util/cleanup.h"

static void label(struct strbuf *out, const struct dockerfile *df, size_t i)
{
    if (df->stages[i].name)
        strbuf_addf(out, "stage %zu \"%s\"", i, df->stages[i].name);
    else
        strbuf_addf(out, "stage %zu", i);
}

static void base_text(struct strbuf *out, const struct dockerfile *df,
                      const struct df_graph_stage *gs)
{
    switch (gs->base.kind) {
    case DF_REF_STAGE:
        strbuf_adds(out, "FROM ");
        label(out, df, gs->base.stage);
        break;
    case DF_REF_SCRATCH:
        strbuf_adds(out, "FROM scratch (empty)");
        break;
    default:
        strbuf_addf(out, "FROM %s (image)", gs->base.image);
    }
    if (gs->platform)
        strbuf_addf(out, " --platform=%s", gs->platform);
}

int df_plan_render(struct df_eval *ev, const struct df_graph *g, struct strbuf *out,
                   struct kiln_error **err)
{
    const struct dockerfile *df = df_eval_dockerfile(ev);
    /* final ENV of each stage rendered so far, for stages built FROM it */
    char ***envs = xcalloc(g->n_stages + 1, sizeof(char **));
    size_t *n_envs = xcalloc(g->n_stages + 1, sizeof(size_t));
    int rc = 0;

    strbuf_adds(out, "Target: ");
    label(out, df, g->target);
    strbuf_addf(out,
                "\nStages to run, in order (%d wave%s; stages in one wave can run in parallel):\n",
                g->n_waves, g->n_waves == 1 ? "" : "s");
    for (size_t o = 0; o < g->n_order && rc == 0; o++) {
        size_t i = g->order[o];
        const struct df_graph_stage *gs = &g->stages[i];
        const struct df_stage *st = &df->stages[i];
        strbuf_addf(out, "  [wave %d] ", gs->wave);
        label(out, df, i);
        strbuf_adds(out, ": ");
        base_text(out, df, gs);
        strbuf_addf(out, "  (line %d)\n", st->from->pos.line);
        for (size_t k = 0; k < gs->n_images; k++)
            strbuf_addf(out, "      needs image %s\n", gs->images[k]);
        struct df_scope *sc = NULL;
        const char *const *base_env = NULL;
        size_t n_base = 0;
        if (gs->base.kind == DF_REF_STAGE) {
            base_env = (const char *const *)envs[gs->base.stage];
            n_base = n_envs[gs->base.stage];
        }
        if (df_scope_new(ev, i, base_env, n_base, &sc, err) < 0) {
            rc = -1;
            break;
        }
        for (size_t k = 0; k < st->n_instrs; k++) {
            struct df_step *step;
            if (df_scope_step(sc, &st->instrs[k], &step, err) < 0) {
                rc = -1;
                break;
            }
            strbuf_addf(out, "    %zu. %s\n", k + 1, step->text);
            df_step_free(step);
        }
        if (st->n_instrs == 0)
            strbuf_adds(out, "    (no steps: the image is the base as is)\n");
        const char *const *env;
        size_t ne = df_scope_env(sc, &env);
        envs[i] = xcalloc(ne + 1, sizeof(char *));
        for (size_t k = 0; k < ne; k++)
            envs[i][k] = xstrdup(env[k]);
        n_envs[i] = ne;
        df_scope_free(sc);
    }
    if (rc == 0) {
        int any = 0;
        for (size_t i = 0; i < g->n_stages; i++) {
            if (g->stages[i].needed)
                continue;
            if (!any)
                strbuf_adds(out, "Skipped stages:\n");
            any = 1;
            strbuf_adds(out, "  ");
            label(out, df, i);
            strbuf_addf(out, ": %s\n", g->stages[i].skip_reason);
        }
        const char **unused;
        size_t nu = df_eval_unused_args(ev, &unused);
        if (nu > 0) {
            strbuf_adds(out, "Build args not used by any stage:");
            for (size_t k = 0; k < nu; k++)
                strbuf_addf(out, " %s", unused[k]);
            strbuf_addc(out, '\n');
        }
        free(unused);
    }
    for (size_t i = 0; i < g->n_stages; i++) {
        for (size_t k = 0; k < n_envs[i]; k++)
            free(envs[i][k]);
        free(envs[i]);
    }
    free(envs);
    free(n_envs);
    return rc;
}

static void add_arg_names(const struct df_instr *ins, struct strbuf *out)
{
    if (ins->kind != DF_ARG)
        return;
    for (size_t k = 0; k < ins->n_kvs; k++) {
        const char *name = ins->kvs[k].key;
        size_t n = strlen(name);
        int seen = 0;
        for (const char *p = out->buf; p != NULL && *p != '\0' && !seen;) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            seen = len == n && memcmp(p, name, n) == 0;
            p = nl ? nl + 1 : NULL;
        }
        if (!seen)
            strbuf_addf(out, "%s\n", name);
    }
}

void df_plan_args(const struct dockerfile *df, const struct df_graph *g, struct strbuf *out)
{
    cleanup_strbuf struct strbuf names = STRBUF_INIT;
    for (size_t i = 0; i < df->n_meta_args; i++)
        add_arg_names(&df->meta_args[i], &names);
    for (size_t o = 0; o < g->n_order; o++) {
        const struct df_stage *st = &df->stages[g->order[o]];
        for (size_t i = 0; i < st->n_instrs; i++)
            add_arg_names(&st->instrs[i], &names);
    }
    strbuf_add(out, names.buf, names.len);
}
