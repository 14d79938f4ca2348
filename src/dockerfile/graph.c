/* The stage graph: what each stage's FROM and --from / from= name, which
 * stages the target needs, a dependency order and the waves of stages that
 * can run in parallel. FROM sees only earlier stages (as in BuildKit);
 * --from may name any stage, so cycles are possible and are errors. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dockerfile/eval_int.h"
#include "dockerfile/graph.h"
#include "dockerfile/mount.h"
#include "util/strbuf.h"

void df_ref_release(struct df_ref *r)
{
    free(r->image);
    memset(r, 0, sizeof(*r));
}

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static const char *stage_label(const struct dockerfile *df, size_t i, char *buf, size_t n)
{
    if (df->stages[i].name)
        snprintf(buf, n, "\"%s\"", df->stages[i].name);
    else
        snprintf(buf, n, "%zu", i);
    return buf;
}

int df_resolve_from(const struct dockerfile *df, size_t current, const char *from,
                    struct df_ref *out, struct kiln_error **err)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = df->n_stages; i-- > 0;) { /* a name used twice: its last stage */
        if (df->stages[i].name && strcasecmp(df->stages[i].name, from) == 0) {
            if (i == current)
                return kiln_error_set(err, KILN_E_INVALID,
                                      "circular dependency detected on stage: %s (a stage cannot "
                                      "copy from itself)",
                                      df->stages[i].name);
            out->kind = DF_REF_STAGE;
            out->stage = i;
            return 0;
        }
    }
    if (all_digits(from)) {
        size_t idx = strlen(from) > 9 ? (size_t)-1 : (size_t)strtoul(from, NULL, 10);
        if (idx >= current)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "invalid --from=%s: refers to the current or a later build stage "
                                  "(use an earlier stage's index or name)",
                                  from);
        out->kind = DF_REF_STAGE;
        out->stage = idx;
        return 0;
    }
    if (strcasecmp(from, "scratch") == 0) {
        out->kind = DF_REF_SCRATCH;
        return 0;
    }
    out->kind = DF_REF_IMAGE;
    out->image = xstrdup(from);
    return 0;
}

static void add_dep(struct df_graph_stage *gs, size_t dep)
{
    for (size_t i = 0; i < gs->n_deps; i++)
        if (gs->deps[i] == dep)
            return;
    gs->deps = xrealloc(gs->deps, (gs->n_deps + 1) * sizeof(*gs->deps));
    gs->deps[gs->n_deps++] = dep;
}

static void add_image(struct df_graph_stage *gs, const char *img)
{
    for (size_t i = 0; i < gs->n_images; i++)
        if (strcmp(gs->images[i], img) == 0)
            return;
    gs->images = xrealloc(gs->images, (gs->n_images + 1) * sizeof(*gs->images));
    gs->images[gs->n_images++] = xstrdup(img);
}

static int add_from_ref(const struct dockerfile *df, struct df_graph_stage *gs, const char *from,
                        const struct df_instr *ins, struct kiln_error **err)
{
    struct df_ref r;
    if (df_resolve_from(df, gs->index, from, &r, err) < 0)
        return kiln_error_prefix(err, "%s:%d:%d", df->file, ins->pos.line, ins->pos.col);
    if (r.kind == DF_REF_STAGE)
        add_dep(gs, r.stage);
    else if (r.kind == DF_REF_IMAGE)
        add_image(gs, r.image);
    df_ref_release(&r);
    return 0;
}

/* Base of stage i, then the stages/images its steps copy or mount from. */
static int stage_deps(struct df_eval *ev, struct df_graph_stage *gs, struct kiln_error **err)
{
    const struct dockerfile *df = ev->df;
    const struct df_stage *st = &df->stages[gs->index];
    char *base = NULL;
    if (df_eval_from(ev, gs->index, &base, &gs->platform, err) < 0)
        return -1;
    gs->base.kind = DF_REF_IMAGE;
    if (strcasecmp(base, "scratch") == 0)
        gs->base.kind = DF_REF_SCRATCH;
    for (size_t j = 0; j < gs->index; j++)
        if (df->stages[j].name && strcasecmp(df->stages[j].name, base) == 0) {
            gs->base.kind = DF_REF_STAGE;
            gs->base.stage = j;
        }
    if (gs->base.kind == DF_REF_IMAGE)
        gs->base.image = base;
    else
        free(base);
    if (gs->base.kind == DF_REF_STAGE)
        add_dep(gs, gs->base.stage);

    struct df_scope *sc = NULL;
    if (df_scope_new(ev, gs->index, NULL, 0, &sc, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < st->n_instrs && rc == 0; i++) {
        const struct df_instr *ins = &st->instrs[i];
        if (ins->kind != DF_COPY && ins->kind != DF_RUN && ins->kind != DF_ARG &&
            ins->kind != DF_ENV)
            continue;
        struct df_step *step;
        if (df_scope_step_light(sc, ins, 1, &step, err) < 0) {
            rc = -1;
            break;
        }
        if (ins->kind == DF_COPY) {
            const char *from = df_instr_flag(step->ins, "from");
            if (from != NULL)
                rc = add_from_ref(df, gs, from, ins, err);
        } else if (ins->kind == DF_RUN) {
            const char **mounts;
            size_t n = df_instr_flag_all(step->ins, "mount", &mounts);
            for (size_t k = 0; k < n && rc == 0; k++) {
                struct df_mount m;
                if (df_mount_parse(mounts[k], &m, err) < 0) {
                    rc = kiln_error_prefix(err, "%s:%d:%d", df->file, ins->pos.line, ins->pos.col);
                    break;
                }
                if (m.from != NULL)
                    rc = add_from_ref(df, gs, m.from, ins, err);
                df_mount_release(&m);
            }
            free(mounts);
        }
        df_step_free(step);
    }
    df_scope_free(sc);
    return rc;
}

void df_graph_free(struct df_graph *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n_stages; i++) {
        struct df_graph_stage *gs = &g->stages[i];
        df_ref_release(&gs->base);
        free(gs->platform);
        free(gs->deps);
        for (size_t k = 0; k < gs->n_images; k++)
            free(gs->images[k]);
        free(gs->images);
        free(gs->skip_reason);
    }
    free(g->stages);
    free(g->order);
    free(g);
}

/* Depth-first from the target: marks needed stages, finds cycles. */
static int visit(const struct dockerfile *df, struct df_graph *g, size_t i, int *color,
                 struct kiln_error **err)
{
    if (color[i] == 2)
        return 0;
    if (color[i] == 1) {
        char buf[64];
        return kiln_error_set(err, KILN_E_INVALID,
                              "%s:%d:%d: circular dependency detected on stage %s", df->file,
                              df->stages[i].from->pos.line, df->stages[i].from->pos.col,
                              stage_label(df, i, buf, sizeof(buf)));
    }
    color[i] = 1;
    g->stages[i].needed = 1;
    for (size_t k = 0; k < g->stages[i].n_deps; k++)
        if (visit(df, g, g->stages[i].deps[k], color, err) < 0)
            return -1;
    color[i] = 2;
    return 0;
}

static int order_stages(struct df_graph *g)
{
    size_t n = g->n_stages;
    int *placed = xcalloc(n + 1, sizeof(int));
    g->order = xcalloc(n + 1, sizeof(size_t));
    int progress = 1;
    while (progress) {
        progress = 0;
        for (size_t i = 0; i < n; i++) {
            struct df_graph_stage *gs = &g->stages[i];
            if (!gs->needed || placed[i])
                continue;
            int ready = 1, wave = 0;
            for (size_t k = 0; k < gs->n_deps && ready; k++) {
                size_t d = gs->deps[k];
                ready = placed[d];
                if (ready && g->stages[d].wave + 1 > wave)
                    wave = g->stages[d].wave + 1;
            }
            if (!ready)
                continue;
            placed[i] = 1;
            gs->wave = wave;
            if (wave + 1 > g->n_waves)
                g->n_waves = wave + 1;
            g->order[g->n_order++] = i;
            progress = 1;
        }
    }
    free(placed);
    /* present the order wave by wave (still a dependency order) */
    for (size_t a = 1; a < g->n_order; a++) {
        size_t v = g->order[a], b = a;
        while (b > 0 && g->stages[g->order[b - 1]].wave > g->stages[v].wave) {
            g->order[b] = g->order[b - 1];
            b--;
        }
        g->order[b] = v;
    }
    return 0;
}

int df_graph_build(struct df_eval *ev, const char *target, struct df_graph **out,
                   struct kiln_error **err)
{
    const struct dockerfile *df = ev->df;
    struct df_graph *g = xcalloc(1, sizeof(*g));
    g->n_stages = df->n_stages;
    g->stages = xcalloc(df->n_stages + 1, sizeof(*g->stages));
    int *color = xcalloc(df->n_stages + 1, sizeof(int));
    struct kiln_error **stage_err = xcalloc(df->n_stages + 1, sizeof(*stage_err));
    int *used_before = xcalloc(ev->n_ba + 1, sizeof(int));
    int *used_needed = xcalloc(ev->n_ba + 1, sizeof(int));
    int **used_by = xcalloc(df->n_stages + 1, sizeof(int *));
    int rc = 0;

    if (target != NULL) {
        const struct df_stage *t = df_find_stage(df, target);
        if (t == NULL) {
            struct strbuf names = STRBUF_INIT;
            for (size_t i = 0; i < df->n_stages; i++)
                if (df->stages[i].name)
                    strbuf_addf(&names, "%s%s", names.len ? ", " : "", df->stages[i].name);
            rc = kiln_error_set(err, KILN_E_NOTFOUND,
                                "target stage \"%s\" could not be found in %s (stages: %s)", target,
                                df->file, names.len ? names.buf : "none named");
            strbuf_release(&names);
            goto out;
        }
        g->target = t->index;
    } else {
        g->target = df->n_stages - 1;
    }

    memcpy(used_before, ev->ba_used, ev->n_ba * sizeof(int));
    for (size_t i = 0; i < df->n_stages; i++) {
        g->stages[i].index = i;
        g->stages[i].wave = -1;
        memcpy(ev->ba_used, used_before, ev->n_ba * sizeof(int));
        /* an error in a stage matters only if the target needs it */
        if (stage_deps(ev, &g->stages[i], &stage_err[i]) < 0 && stage_err[i] == NULL)
            kiln_error_set(&stage_err[i], KILN_E_INVALID, "stage %zu: invalid", i);
        used_by[i] = xcalloc(ev->n_ba + 1, sizeof(int));
        memcpy(used_by[i], ev->ba_used, ev->n_ba * sizeof(int));
    }
    if (visit(df, g, g->target, color, err) < 0) {
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < df->n_stages; i++) {
        if (g->stages[i].needed && stage_err[i] != NULL) {
            kiln_error_set(err, stage_err[i]->code, "%s", stage_err[i]->msg);
            rc = -1;
            goto out;
        }
        for (size_t k = 0; g->stages[i].needed && k < ev->n_ba; k++)
            used_needed[k] |= used_by[i][k];
    }
    for (size_t k = 0; k < ev->n_ba; k++)
        ev->ba_used[k] = used_before[k] | used_needed[k];
    order_stages(g);
    for (size_t i = 0; i < df->n_stages; i++) {
        if (g->stages[i].needed)
            continue;
        char buf[64];
        g->stages[i].skip_reason = xasprintf("not needed to build the target stage %s",
                                             stage_label(df, g->target, buf, sizeof(buf)));
    }
out:
    for (size_t i = 0; i < df->n_stages; i++) {
        kiln_error_free(stage_err[i]);
        free(used_by[i]);
    }
    free(stage_err);
    free(used_by);
    free(used_before);
    free(used_needed);
    free(color);
    if (rc < 0) {
        df_graph_free(g);
        return -1;
    }
    *out = g;
    return 0;
}
