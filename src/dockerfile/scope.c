/* One stage's ARG/ENV state and the expansion of each of its steps: which
 * instruction expands which parts, which build args a step depends on, and
 * RUN's environment. */
#include <stddef.h>
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
    /* ARGs referenced by the step being expanded: borrowed from args (valid
     * until an ARG step changes args, and only read for other steps) */
    struct df_ref {
        const char *name, *value;
    } * refs;
    size_t n_refs, cap_refs;
    char **env_strs; /* "K=V" view of env for df_scope_env */
    size_t n_env_strs;
    struct strbuf scratch; /* expansions and texts are built here, then copied */
    /* lint: UndefinedVar (see df_scope_check_undefined) */
    int check_undef, base_known;
    char **misses; /* names looked up in vain by the step being expanded */
    size_t n_misses, cap_misses;
};

/* A step and its expanded instruction, and the arena that owns every string
 * and array of both that is not shared with the original instruction. */
struct owned_step {
    struct df_step st;
    struct df_instr ins;
    struct arena a;
    max_align_t first[48]; /* the arena's first chunk: most steps need no more */
};

/* "name=value" (hot: every RUN step builds its environment). a NULL: malloc. */
static char *kv_join(struct arena *ar, const char *name, const char *value)
{
    size_t a = strlen(name), b = strlen(value);
    char *s = ar ? arena_alloc(ar, a + b + 2) : xmalloc(a + b + 2);
    memcpy(s, name, a);
    s[a] = '=';
    memcpy(s + a + 1, value, b + 1);
    return s;
}

static void note_miss(struct df_scope *sc, const char *name)
{
    for (size_t i = 0; i < sc->n_misses; i++)
        if (strcmp(sc->misses[i], name) == 0)
            return;
    if (sc->n_misses == sc->cap_misses) {
        sc->cap_misses = sc->cap_misses ? sc->cap_misses * 2 : 4;
        sc->misses = xrealloc(sc->misses, sc->cap_misses * sizeof(*sc->misses));
    }
    sc->misses[sc->n_misses++] = xstrdup(name);
}

/* ENV beats ARG. References that resolve to an ARG are recorded. */
static const char *scope_lookup(void *ud, const char *name)
{
    struct df_scope *sc = ud;
    struct df_var *v = df_vl_find(&sc->env, name);
    if (v != NULL)
        return v->value;
    v = df_vl_find(&sc->args, name);
    if (v == NULL || !v->has_value) {
        if (sc->check_undef)
            note_miss(sc, name);
        return NULL;
    }
    for (size_t i = 0; i < sc->n_refs; i++)
        if (sc->refs[i].name == v->name)
            return v->value;
    if (sc->n_refs == sc->cap_refs) {
        sc->cap_refs = sc->cap_refs ? sc->cap_refs * 2 : 8;
        sc->refs = xrealloc(sc->refs, sc->cap_refs * sizeof(*sc->refs));
    }
    sc->refs[sc->n_refs++] = (struct df_ref){v->name, v->value};
    return v->value;
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

void df_scope_check_undefined(struct df_scope *sc, int base_known)
{
    sc->check_undef = 1;
    sc->base_known = base_known;
}

static void clear_misses(struct df_scope *sc)
{
    for (size_t i = 0; i < sc->n_misses; i++)
        free(sc->misses[i]);
    sc->n_misses = 0;
}

/* Is name, which no ENV or valued ARG defines, still not a mistake? BuildKit
 * counts an ARG declared without a value as defined, leaves out its SBOM
 * scan args, and always has PATH (it gives an image without one a default).
 * With the base image's ENV unknown, HOME and HOSTNAME, which every
 * container gets, are given the benefit of the doubt too. */
static int known_name(const struct df_scope *sc, const char *name)
{
    static const char *const always[] = {"PATH", "BUILDKIT_SBOM_SCAN_CONTEXT",
                                         "BUILDKIT_SBOM_SCAN_STAGE"};
    static const char *const any_image[] = {"HOME", "HOSTNAME"};
    if (df_vl_find(&sc->args, name) != NULL)
        return 1;
    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
        if (strcmp(name, always[i]) == 0)
            return 1;
    for (size_t i = 0; !sc->base_known && i < sizeof(any_image) / sizeof(any_image[0]); i++)
        if (strcmp(name, any_image[i]) == 0)
            return 1;
    return 0;
}

/* "Usage of undefined variable '$X' (did you mean $Y?)" for each miss. */
static void report_misses(struct df_scope *sc, const struct df_instr *ins)
{
    for (size_t i = 0; i < sc->n_misses; i++) {
        const char *name = sc->misses[i];
        if (known_name(sc, name))
            continue;
        /* suggestions: what is defined, and the names assumed to be */
        size_t n = 0;
        const char **cands = xcalloc(sc->env.n + sc->args.n + 4, sizeof(char *));
        for (size_t k = 0; k < sc->env.n; k++)
            cands[n++] = sc->env.v[k].name;
        for (size_t k = 0; k < sc->args.n; k++)
            cands[n++] = sc->args.v[k].name;
        if (df_vl_find(&sc->env, "PATH") == NULL)
            cands[n++] = "PATH";
        if (!sc->base_known) {
            cands[n++] = "HOME";
            cands[n++] = "HOSTNAME";
        }
        const char *sug = df_suggest(name, cands, n);
        char *msg =
            sug ? xasprintf("Usage of undefined variable '$%s' (did you mean $%s?)", name, sug)
                : xasprintf("Usage of undefined variable '$%s'", name);
        df_eval_warn(sc->ev, "UndefinedVar", ins->pos, msg);
        free(msg);
        free(cands);
    }
    clear_misses(sc);
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
    free(sc->refs);
    clear_misses(sc);
    free(sc->misses);
    free_env_strs(sc);
    strbuf_release(&sc->scratch);
    free(sc);
}

size_t df_scope_env(const struct df_scope *csc, const char *const **env)
{
    struct df_scope *sc = (struct df_scope *)csc;
    free_env_strs(sc);
    sc->env_strs = xcalloc(sc->env.n + 1, sizeof(char *));
    for (size_t i = 0; i < sc->env.n; i++)
        sc->env_strs[i] = kv_join(NULL, sc->env.v[i].name, sc->env.v[i].value);
    sc->n_env_strs = sc->env.n;
    *env = (const char *const *)sc->env_strs;
    return sc->n_env_strs;
}

void df_step_free(struct df_step *st)
{
    if (st == NULL)
        return;
    struct owned_step *o = (struct owned_step *)st; /* st is its first member */
    arena_release(&o->a);
    free(o);
}

/* Can expansion change s? Not without a '$', a quote or the escape character. */
static int plain_word(const char *s, char escape, int heredoc)
{
    for (; *s; s++)
        if (*s == '$' || *s == escape || (!heredoc && (*s == '\'' || *s == '"')))
            return 0;
    return 1;
}

/* *s expanded; a new string from the step's arena when it changes. */
static int expand_in_place(struct df_scope *sc, const struct df_expand_ctx *cx, struct arena *a,
                           char **s, int heredoc, struct kiln_error **err)
{
    if (plain_word(*s, heredoc ? '\\' : cx->escape, heredoc))
        return 0;
    strbuf_reset(&sc->scratch);
    int r = heredoc ? df_expand_heredoc_add(cx, *s, &sc->scratch, err)
                    : df_expand_word_add(cx, *s, &sc->scratch, err);
    if (r < 0)
        return -1;
    *s = arena_strndup(a, sc->scratch.buf, sc->scratch.len);
    return 0;
}

/* EXPOSE: each word may become several. */
static int expand_split(const struct df_expand_ctx *cx, struct arena *a, struct df_instr *ins,
                        struct kiln_error **err)
{
    char **all = NULL;
    size_t n = 0;
    for (size_t i = 0; i < ins->n_args; i++) {
        char **w;
        size_t nw;
        if (df_expand_words(cx, ins->args[i], &w, &nw, err) < 0)
            return -1;
        all = arena_grow(a, all, n, n + nw + 1, sizeof(*all));
        for (size_t k = 0; k < nw; k++)
            all[n++] = arena_strdup(a, w[k]);
        df_strv_free(w, nw);
    }
    ins->args = all ? all : arena_calloc(a, 1, sizeof(char *));
    ins->n_args = n;
    return 0;
}

/* ins starts as a shallow copy of the original: the arrays expansion writes
 * to are copied into the step's arena first (the strings stay shared until
 * one changes). */
static void *own(struct arena *a, const void *v, size_t n, size_t room, size_t size)
{
    return v != NULL && n > 0 ? arena_grow(a, v, n, room, size) : (void *)v;
}

/* light (the stage graph's walk): of COPY and ADD only --from is needed. */
static int expand_instr(struct df_scope *sc, struct arena *a, struct df_instr *ins, int light,
                        struct kiln_error **err)
{
    struct df_expand_ctx cx = {sc->ev->df->escape, scope_lookup, sc};
    switch (ins->kind) {
    case DF_ADD:
    case DF_COPY:
        ins->flags = own(a, ins->flags, ins->n_flags, ins->n_flags, sizeof(*ins->flags));
        for (size_t i = 0; i < ins->n_flags; i++)
            if (ins->flags[i].value && (!light || strcmp(ins->flags[i].name, "from") == 0) &&
                expand_in_place(sc, &cx, a, &ins->flags[i].value, 0, err) < 0)
                return -1;
        if (light)
            return 0;
        ins->heredocs =
            own(a, ins->heredocs, ins->n_heredocs, ins->n_heredocs, sizeof(*ins->heredocs));
        for (size_t i = 0; i < ins->n_heredocs; i++)
            if (ins->heredocs[i].expand &&
                expand_in_place(sc, &cx, a, &ins->heredocs[i].content, 1, err) < 0)
                return -1;
        /* fall through */
    case DF_VOLUME:
    case DF_USER:
    case DF_WORKDIR:
    case DF_STOPSIGNAL:
        ins->args = own(a, ins->args, ins->n_args, ins->n_args + 1, sizeof(*ins->args));
        for (size_t i = 0; i < ins->n_args; i++)
            if (expand_in_place(sc, &cx, a, &ins->args[i], 0, err) < 0)
                return -1;
        return 0;
    case DF_EXPOSE:
        return expand_split(&cx, a, ins, err);
    case DF_ENV:
    case DF_LABEL:
    case DF_ARG:
        ins->kvs = own(a, ins->kvs, ins->n_kvs, ins->n_kvs, sizeof(*ins->kvs));
        for (size_t i = 0; i < ins->n_kvs; i++) {
            if (expand_in_place(sc, &cx, a, &ins->kvs[i].key, 0, err) < 0)
                return -1;
            if (ins->kvs[i].has_value &&
                expand_in_place(sc, &cx, a, &ins->kvs[i].value, 0, err) < 0)
                return -1;
        }
        return 0;
    case DF_RUN:
        ins->flags = own(a, ins->flags, ins->n_flags, ins->n_flags, sizeof(*ins->flags));
        for (size_t i = 0; i < ins->n_flags; i++)
            if (strcmp(ins->flags[i].name, "mount") == 0 &&
                expand_in_place(sc, &cx, a, &ins->flags[i].value, 0, err) < 0)
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

static void fill_used(struct df_scope *sc, struct arena *a, struct df_step *st)
{
    if (st->ins->kind == DF_RUN || st->ins->kind == DF_ARG) {
        const struct df_varlist *src = &sc->args;
        st->used_args = arena_calloc(a, src->n + 1, sizeof(char *));
        for (size_t i = 0; i < src->n; i++) {
            const struct df_var *v = &src->v[i];
            if (!v->has_value || df_vl_find(&sc->env, v->name))
                continue;
            st->used_args[st->n_used_args++] = kv_join(a, v->name, v->value);
        }
    } else {
        st->used_args = arena_calloc(a, sc->n_refs + 1, sizeof(char *));
        for (size_t i = 0; i < sc->n_refs; i++)
            st->used_args[st->n_used_args++] = kv_join(a, sc->refs[i].name, sc->refs[i].value);
    }
    if (st->n_used_args > 1)
        qsort(st->used_args, st->n_used_args, sizeof(char *), cmp_str);
    if (st->ins->kind != DF_RUN)
        return;
    size_t cap = sc->env.n + sc->args.n + sc->ev->n_ba + 1;
    st->run_env = arena_calloc(a, cap, sizeof(char *));
    for (size_t i = 0; i < sc->env.n; i++)
        st->run_env[st->n_run_env++] = kv_join(a, sc->env.v[i].name, sc->env.v[i].value);
    for (size_t i = 0; i < sc->args.n; i++) {
        const struct df_var *v = &sc->args.v[i];
        if (v->has_value && !df_vl_find(&sc->env, v->name))
            st->run_env[st->n_run_env++] = kv_join(a, v->name, v->value);
    }
    for (size_t i = 0; i < sc->ev->n_ba; i++) {
        const char *name = sc->ev->ba_names[i];
        if (!df_is_proxy_arg(name) || df_vl_find(&sc->env, name) || df_vl_find(&sc->args, name))
            continue;
        int dup = 0;
        for (size_t j = i + 1; j < sc->ev->n_ba; j++)
            dup |= strcmp(sc->ev->ba_names[j], name) == 0;
        if (!dup)
            st->run_env[st->n_run_env++] = kv_join(a, name, sc->ev->ba_values[i]);
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
    struct owned_step *o = xmalloc(sizeof(*o));
    memset(o, 0, offsetof(struct owned_step, first));
    arena_init_buf(&o->a, o->first, sizeof(o->first));
    struct df_step *st = &o->st;
    st->orig = ins;
    o->ins = *ins;
    st->ins = &o->ins;
    sc->n_refs = 0;
    clear_misses(sc);
    if (expand_instr(sc, &o->a, st->ins, light, err) < 0) {
        clear_misses(sc);
        df_step_free(st);
        return df_eval_errpos(sc->ev, ins->pos, err);
    }
    if (sc->check_undef && !light && ins->kind != DF_RUN)
        report_misses(sc, ins); /* RUN: only its --mount values expand here */
    clear_misses(sc);
    apply(sc, st->ins);
    if (sc->env.bytes + sc->args.bytes > MAX_SCOPE_BYTES) {
        df_step_free(st);
        kiln_error_set(err, KILN_E_INVALID, "ARG and ENV values of stage %zu exceed %u bytes",
                       sc->stage, MAX_SCOPE_BYTES);
        return df_eval_errpos(sc->ev, ins->pos, err);
    }
    if (!light) {
        fill_used(sc, &o->a, st);
        strbuf_reset(&sc->scratch);
        df_step_text_add(&sc->scratch, st->ins);
        st->text = arena_strndup(&o->a, sc->scratch.buf, sc->scratch.len);
        strbuf_reset(&sc->scratch);
        df_step_cache_text_add(&sc->scratch, st->ins);
        st->cache_text = arena_strndup(&o->a, sc->scratch.buf, sc->scratch.len);
    }
    *out = st;
    return 0;
}
