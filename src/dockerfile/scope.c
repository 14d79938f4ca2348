/* One stage's ARG/ENV state and the expansion of each of its steps: which
 * instruction expands which parts, which build args a step depends on, and
 * RUN's environment. */
#include <stdlib.h>
#include <string.h>

#include "dockerfile/eval.h"
#include "dockerfile/eval_int.h"
#include "dockerfile/expand.h"
#include "dockerfile/internal.h"

/* A guard against hostile input: ARG/ENV values of one stage, in all. */
#define MAX_SCOPE_BYTES (16u << 20)

struct df_scope {
    struct df_eval *ev;
    size_t stage;
    struct df_varlist env;  /* ENV, image config order */
    struct df_varlist args; /* ARGs declared in this stage */
    struct df_varlist refs; /* ARGs referenced by the step being expanded */
    char **env_strs;        /* "K=V" view of env for df_scope_env */
    size_t n_env_strs;
};

/* "name=value", allocated (hot: every RUN step builds its environment). */
static char *kv_join(const char *name, const char *value)
{
    size_t a = strlen(name), b = strlen(value);
    char *s = xmalloc(a + b + 2);
    memcpy(s, name, a);
    s[a] = '=';
    memcpy(s + a + 1, value, b + 1);
    return s;
}

/* ENV beats ARG. References that resolve to an ARG are recorded. */
static const char *scope_lookup(void *ud, const char *name)
{
    struct df_scope *sc = ud;
    struct df_var *v = df_vl_find(&sc->env, name);
    if (v != NULL)
        return v->value;
    v = df_vl_find(&sc->args, name);
    if (v != NULL && v->has_value) {
        df_vl_set(&sc->refs, name, v->value, 1);
        return v->value;
    }
    return NULL;
}

const char *df_scope_get(const struct df_scope *sc, const char *name)
{
    struct df_var *v = df_vl_find(&sc->env, name);
    if (v == NULL)
        v = df_vl_find(&sc->args, name);
    return v && v->has_value ? v->value : NULL;
}

int df_scope_new(struct df_eval *ev, size_t stage, const char *const *base_env, size_t n_base_env,
                 struct df_scope **out, struct kiln_error **err)
{
    if (stage >= ev->df->n_stages)
        return kiln_error_set(err, KILN_E_NOTFOUND, "no stage %zu in %s", stage, ev->df->file);
    struct df_scope *sc = xcalloc(1, sizeof(*sc));
    sc->ev = ev;
    sc->stage = stage;
    for (size_t i = 0; i < n_base_env; i++) {
        const char *eq = strchr(base_env[i], '=');
        char *k = eq ? xstrndup(base_env[i], (size_t)(eq - base_env[i])) : xstrdup(base_env[i]);
        df_vl_set(&sc->env, k, eq ? eq + 1 : "", 1);
        free(k);
    }
    *out = sc;
    return 0;
}

static void free_env_strs(struct df_scope *sc)
{
    df_strv_free(sc->env_strs, sc->n_env_strs);
    sc->env_strs = NULL;
    sc->n_env_strs = 0;
}

void df_scope_free(struct df_scope *sc)
{
    if (sc == NULL)
        return;
    df_vl_release(&sc->env);
    df_vl_release(&sc->args);
    df_vl_release(&sc->refs);
    free_env_strs(sc);
    free(sc);
}

size_t df_scope_env(const struct df_scope *csc, const char *const **env)
{
    struct df_scope *sc = (struct df_scope *)csc;
    free_env_strs(sc);
    sc->env_strs = xcalloc(sc->env.n + 1, sizeof(char *));
    for (size_t i = 0; i < sc->env.n; i++)
        sc->env_strs[i] = kv_join(sc->env.v[i].name, sc->env.v[i].value);
    sc->n_env_strs = sc->env.n;
    *env = (const char *const *)sc->env_strs;
    return sc->n_env_strs;
}

void df_step_free(struct df_step *st)
{
    if (st == NULL)
        return;
    df_instr_free(st->ins);
    free(st->text);
    free(st->cache_text);
    df_strv_free(st->used_args, st->n_used_args);
    df_strv_free(st->run_env, st->n_run_env);
    free(st);
}

static int expand_in_place(const struct df_expand_ctx *cx, char **s, struct kiln_error **err)
{
    char *out;
    if (df_expand_word(cx, *s, &out, err) < 0)
        return -1;
    free(*s);
    *s = out;
    return 0;
}

/* EXPOSE: each word may become several. */
static int expand_split(const struct df_expand_ctx *cx, struct df_instr *ins,
                        struct kiln_error **err)
{
    char **all = NULL;
    size_t n = 0;
    for (size_t i = 0; i < ins->n_args; i++) {
        char **w;
        size_t nw;
        if (df_expand_words(cx, ins->args[i], &w, &nw, err) < 0) {
            df_strv_free(all, n);
            return -1;
        }
        all = xrealloc(all, (n + nw + 1) * sizeof(*all));
        memcpy(all + n, w, nw * sizeof(*w));
        n += nw;
        free(w);
    }
    df_strv_free(ins->args, ins->n_args);
    ins->args = all ? all : xcalloc(1, sizeof(char *));
    ins->n_args = n;
    return 0;
}

static int expand_instr(struct df_scope *sc, struct df_instr *ins, struct kiln_error **err)
{
    struct df_expand_ctx cx = {sc->ev->df->escape, scope_lookup, sc};
    switch (ins->kind) {
    case DF_ADD:
    case DF_COPY:
        for (size_t i = 0; i < ins->n_flags; i++)
            if (ins->flags[i].value && expand_in_place(&cx, &ins->flags[i].value, err) < 0)
                return -1;
        for (size_t i = 0; i < ins->n_heredocs; i++) {
            if (!ins->heredocs[i].expand)
                continue;
            char *out;
            if (df_expand_heredoc(&cx, ins->heredocs[i].content, &out, err) < 0)
                return -1;
            free(ins->heredocs[i].content);
            ins->heredocs[i].content = out;
        }
        /* fall through */
    case DF_VOLUME:
    case DF_USER:
    case DF_WORKDIR:
    case DF_STOPSIGNAL:
        for (size_t i = 0; i < ins->n_args; i++)
            if (expand_in_place(&cx, &ins->args[i], err) < 0)
                return -1;
        return 0;
    case DF_EXPOSE:
        return expand_split(&cx, ins, err);
    case DF_ENV:
    case DF_LABEL:
    case DF_ARG:
        for (size_t i = 0; i < ins->n_kvs; i++) {
            if (expand_in_place(&cx, &ins->kvs[i].key, err) < 0)
                return -1;
            if (ins->kvs[i].has_value && expand_in_place(&cx, &ins->kvs[i].value, err) < 0)
                return -1;
        }
        return 0;
    case DF_RUN:
        for (size_t i = 0; i < ins->n_flags; i++)
            if (strcmp(ins->flags[i].name, "mount") == 0 &&
                expand_in_place(&cx, &ins->flags[i].value, err) < 0)
                return -1;
        return 0;
    default:
        return 0; /* CMD ENTRYPOINT SHELL HEALTHCHECK MAINTAINER ONBUILD FROM: as written */
    }
}

/* ARG declares (build arg > own default > global value), ENV sets. */
static void apply(struct df_scope *sc, const struct df_instr *ins)
{
    if (ins->kind == DF_ENV) {
        for (size_t i = 0; i < ins->n_kvs; i++)
            df_vl_set(&sc->env, ins->kvs[i].key, ins->kvs[i].value, 1);
        return;
    }
    if (ins->kind != DF_ARG)
        return;
    for (size_t i = 0; i < ins->n_kvs; i++) {
        const struct df_kv *kv = &ins->kvs[i];
        const char *ba = df_eval_build_arg(sc->ev, kv->key);
        struct df_var *g = df_vl_find(&sc->ev->global, kv->key);
        if (g == NULL)
            g = df_vl_find(&sc->ev->autos, kv->key);
        if (ba != NULL)
            df_vl_set(&sc->args, kv->key, ba, 1);
        else if (kv->has_value)
            df_vl_set(&sc->args, kv->key, kv->value, 1);
        else if (g != NULL && g->has_value)
            df_vl_set(&sc->args, kv->key, g->value, 1);
        else
            df_vl_set(&sc->args, kv->key, "", 0);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void fill_used(struct df_scope *sc, struct df_step *st)
{
    const struct df_varlist *src = st->ins->kind == DF_RUN ? &sc->args : &sc->refs;
    if (st->ins->kind == DF_ARG)
        src = &sc->args;
    st->used_args = xcalloc(src->n + 1, sizeof(char *));
    for (size_t i = 0; i < src->n; i++) {
        const struct df_var *v = &src->v[i];
        if (!v->has_value || (src == &sc->args && df_vl_find(&sc->env, v->name)))
            continue;
        st->used_args[st->n_used_args++] = kv_join(v->name, v->value);
    }
    if (st->n_used_args > 1)
        qsort(st->used_args, st->n_used_args, sizeof(char *), cmp_str);
    if (st->ins->kind != DF_RUN)
        return;
    size_t cap = sc->env.n + sc->args.n + sc->ev->n_ba + 1;
    st->run_env = xcalloc(cap, sizeof(char *));
    for (size_t i = 0; i < sc->env.n; i++)
        st->run_env[st->n_run_env++] = kv_join(sc->env.v[i].name, sc->env.v[i].value);
    for (size_t i = 0; i < sc->args.n; i++) {
        const struct df_var *v = &sc->args.v[i];
        if (v->has_value && !df_vl_find(&sc->env, v->name))
            st->run_env[st->n_run_env++] = kv_join(v->name, v->value);
    }
    for (size_t i = 0; i < sc->ev->n_ba; i++) {
        const char *name = sc->ev->ba_names[i];
        if (!df_is_proxy_arg(name) || df_vl_find(&sc->env, name) || df_vl_find(&sc->args, name))
            continue;
        int dup = 0;
        for (size_t j = i + 1; j < sc->ev->n_ba; j++)
            dup |= strcmp(sc->ev->ba_names[j], name) == 0;
        if (!dup)
            st->run_env[st->n_run_env++] = kv_join(name, sc->ev->ba_values[i]);
    }
}

int df_scope_step(struct df_scope *sc, const struct df_instr *ins, struct df_step **out,
                  struct kiln_error **err)
{
    return df_scope_step_light(sc, ins, 0, out, err);
}

int df_scope_step_light(struct df_scope *sc, const struct df_instr *ins, int light,
                        struct df_step **out, struct kiln_error **err)
{
    struct df_step *st = xcalloc(1, sizeof(*st));
    st->orig = ins;
    st->ins = xcalloc(1, sizeof(*st->ins));
    df_instr_copy(ins, st->ins);
    df_vl_release(&sc->refs);
    if (expand_instr(sc, st->ins, err) < 0) {
        df_step_free(st);
        return df_eval_errpos(sc->ev, ins->pos, err);
    }
    apply(sc, st->ins);
    if (sc->env.bytes + sc->args.bytes > MAX_SCOPE_BYTES) {
        df_step_free(st);
        kiln_error_set(err, KILN_E_INVALID, "ARG and ENV values of stage %zu exceed %u bytes",
                       sc->stage, MAX_SCOPE_BYTES);
        return df_eval_errpos(sc->ev, ins->pos, err);
    }
    if (!light) {
        fill_used(sc, st);
        st->text = df_step_text(st->ins);
        st->cache_text = df_step_cache_text(st->ins);
    }
    *out = st;
    return 0;
}
