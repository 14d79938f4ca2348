/* ARG and ENV scoping for a build, and the expanded form of each step.
 * Global ARGs (before the first FROM) and the automatic platform ARGs serve
 * FROM lines; a stage sees an ARG only once it declares it; --build-arg
 * overrides declared defaults; ENV beats ARG. See eval.h for the rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile/eval.h"
#include "dockerfile/eval_int.h"
#include "dockerfile/expand.h"
#include "dockerfile/internal.h"

static const char *const proxy_args[] = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
                                         "FTP_PROXY",  "ftp_proxy",  "NO_PROXY",    "no_proxy",
                                         "ALL_PROXY",  "all_proxy"};
#define N_PROXY (sizeof(proxy_args) / sizeof(proxy_args[0]))

int df_is_proxy_arg(const char *name)
{
    for (size_t i = 0; i < N_PROXY; i++)
        if (strcmp(proxy_args[i], name) == 0)
            return 1;
    return 0;
}

struct df_var *df_vl_find(const struct df_varlist *l, const char *name)
{
    for (size_t i = l->n; i-- > 0;)
        if (l->v[i].name[0] == name[0] && strcmp(l->v[i].name, name) == 0)
            return &l->v[i];
    return NULL;
}

void df_vl_set(struct df_varlist *l, const char *name, const char *value, int has_value)
{
    struct df_var *v = df_vl_find(l, name);
    if (v == NULL) {
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 8;
            l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
        }
        v = &l->v[l->n++];
        v->name = xstrdup(name);
        v->value = NULL;
        l->bytes += strlen(name);
    }
    if (v->value != NULL)
        l->bytes -= strlen(v->value);
    if (has_value)
        l->bytes += strlen(value);
    free(v->value);
    v->value = has_value ? xstrdup(value) : NULL;
    v->has_value = has_value;
}

void df_vl_release(struct df_varlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].value);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Lookup over the global scope, remembering names that were not declared. */
struct global_lookup {
    struct df_eval *ev;
    struct df_varlist *missing;
};

static const char *global_get(void *ud, const char *name)
{
    struct global_lookup *g = ud;
    struct df_var *v = df_vl_find(&g->ev->global, name);
    if (v == NULL)
        v = df_vl_find(&g->ev->autos, name);
    if (v == NULL && g->missing != NULL)
        df_vl_set(g->missing, name, "", 0);
    return v && v->has_value ? v->value : NULL;
}

const char *df_eval_build_arg(struct df_eval *ev, const char *name)
{
    for (size_t i = ev->n_ba; i-- > 0;) {
        if (strcmp(ev->ba_names[i], name) == 0) {
            ev->ba_used[i] = 1;
            return ev->ba_values[i];
        }
    }
    return NULL;
}

int df_eval_errpos(struct df_eval *ev, struct df_pos pos, struct kiln_error **err)
{
    return kiln_error_prefix(err, "%s:%d:%d", ev->df->file, pos.line, pos.col);
}

static void set_autos(struct df_eval *ev)
{
    const struct df_platform *ps[2] = {&ev->target, &ev->build};
    const char *pre[2] = {"TARGET", "BUILD"};
    for (int i = 0; i < 2; i++) {
        char name[32];
        char *plat = df_platform_format(ps[i]);
        snprintf(name, sizeof(name), "%sPLATFORM", pre[i]);
        df_vl_set(&ev->autos, name, plat, 1);
        free(plat);
        snprintf(name, sizeof(name), "%sOS", pre[i]);
        df_vl_set(&ev->autos, name, ps[i]->os, 1);
        snprintf(name, sizeof(name), "%sARCH", pre[i]);
        df_vl_set(&ev->autos, name, ps[i]->arch, 1);
        snprintf(name, sizeof(name), "%sVARIANT", pre[i]);
        df_vl_set(&ev->autos, name, ps[i]->variant, 1);
    }
}

static int eval_globals(struct df_eval *ev, struct kiln_error **err)
{
    struct global_lookup g = {ev, NULL};
    struct df_expand_ctx cx = {ev->df->escape, global_get, &g};
    for (size_t i = 0; i < ev->df->n_meta_args; i++) {
        const struct df_instr *ins = &ev->df->meta_args[i];
        char **vals = xcalloc(ins->n_kvs + 1, sizeof(char *));
        char **keys = xcalloc(ins->n_kvs + 1, sizeof(char *));
        int rc = 0;
        for (size_t k = 0; k < ins->n_kvs && rc == 0; k++) {
            rc = df_expand_word(&cx, ins->kvs[k].key, &keys[k], err);
            if (rc == 0 && ins->kvs[k].has_value)
                rc = df_expand_word(&cx, ins->kvs[k].value, &vals[k], err);
        }
        for (size_t k = 0; k < ins->n_kvs && rc == 0; k++) {
            const char *ba = df_eval_build_arg(ev, keys[k]);
            if (ba != NULL)
                df_vl_set(&ev->global, keys[k], ba, 1);
            else
                df_vl_set(&ev->global, keys[k], vals[k] ? vals[k] : "", vals[k] != NULL);
        }
        df_strv_free(vals, ins->n_kvs);
        df_strv_free(keys, ins->n_kvs);
        if (rc < 0)
            return df_eval_errpos(ev, ins->pos, err);
    }
    return 0;
}

int df_eval_new(const struct dockerfile *df, const struct df_eval_opts *opts, struct df_eval **out,
                struct kiln_error **err)
{
    struct df_eval *ev = xcalloc(1, sizeof(*ev));
    ev->df = df;
    ev->lint = opts ? opts->lint : 0;
    int rc = 0;
    if (opts && opts->build_platform)
        rc = df_platform_parse(opts->build_platform, &ev->build, err);
    else
        df_platform_host(&ev->build);
    if (rc == 0 && opts && opts->target_platform)
        rc = df_platform_parse(opts->target_platform, &ev->target, err);
    else if (rc == 0) {
        char *host = df_platform_format(&ev->build);
        rc = df_platform_parse(host, &ev->target, err);
        free(host);
    }
    size_t n = opts ? opts->n_build_args : 0;
    ev->ba_names = xcalloc(n + 1, sizeof(char *));
    ev->ba_values = xcalloc(n + 1, sizeof(char *));
    ev->ba_used = xcalloc(n + 1, sizeof(int));
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *kv = opts->build_args[i];
        const char *eq = strchr(kv, '=');
        if (eq == NULL || eq == kv) {
            rc = kiln_error_set(err, KILN_E_USAGE, "invalid build arg \"%s\": want KEY=VALUE", kv);
            break;
        }
        ev->ba_names[i] = xstrndup(kv, (size_t)(eq - kv));
        ev->ba_values[i] = xstrdup(eq + 1);
        ev->n_ba = i + 1;
    }
    if (rc == 0) {
        set_autos(ev);
        rc = eval_globals(ev, err);
    }
    if (rc < 0) {
        df_eval_free(ev);
        return -1;
    }
    *out = ev;
    return 0;
}

void df_eval_free(struct df_eval *ev)
{
    if (ev == NULL)
        return;
    df_strv_free(ev->ba_names, ev->n_ba);
    df_strv_free(ev->ba_values, ev->n_ba);
    free(ev->ba_used);
    df_vl_release(&ev->global);
    df_vl_release(&ev->autos);
    df_platform_release(&ev->target);
    df_platform_release(&ev->build);
    free(ev);
}

void df_eval_set_warn(struct df_eval *ev, df_warn_fn fn, void *ud)
{
    ev->warn = fn;
    ev->warn_ud = ud;
}

const struct dockerfile *df_eval_dockerfile(const struct df_eval *ev)
{
    return ev->df;
}

void df_eval_warn(struct df_eval *ev, const char *rule, struct df_pos pos, const char *msg)
{
    if (ev->warn == NULL)
        return;
    struct df_warning w = {(char *)rule, (char *)msg, pos};
    ev->warn(ev->warn_ud, &w);
}

static int expand_global(struct df_eval *ev, const struct df_instr *from, const char *word,
                         char **out, struct kiln_error **err)
{
    struct df_varlist missing = {0};
    struct global_lookup g = {ev, &missing};
    struct df_expand_ctx cx = {ev->df->escape, global_get, &g};
    int rc = df_expand_word(&cx, word, out, err);
    for (size_t i = 0; rc == 0 && i < missing.n; i++) {
        char *msg = xasprintf("FROM argument '%s' is not declared", missing.v[i].name);
        df_eval_warn(ev, "UndefinedArgInFrom", from->pos, msg);
        free(msg);
    }
    df_vl_release(&missing);
    if (rc < 0)
        return df_eval_errpos(ev, from->pos, err);
    return 0;
}

int df_eval_from(struct df_eval *ev, size_t stage, char **base, char **platform,
                 struct kiln_error **err)
{
    const struct df_stage *st = &ev->df->stages[stage];
    *base = NULL;
    *platform = NULL;
    if (expand_global(ev, st->from, st->base, base, err) < 0)
        return -1;
    if ((*base)[0] == '\0' && ev->lint) {
        char *msg = xasprintf(
            "Default value for ARG %s results in empty or invalid base image name", st->base);
        df_eval_warn(ev, "InvalidDefaultArgInFrom", st->from->pos, msg);
        free(msg);
        free(*base);
        *base = xstrdup(st->base);
    } else if ((*base)[0] == '\0') {
        kiln_error_set(err, KILN_E_INVALID, "%s:%d:%d: base name (%s) should not be blank",
                       ev->df->file, st->from->pos.line, st->from->pos.col, st->base);
        free(*base);
        *base = NULL;
        return -1;
    }
    if (st->platform != NULL && expand_global(ev, st->from, st->platform, platform, err) < 0) {
        free(*base);
        *base = NULL;
        return -1;
    }
    return 0;
}

size_t df_eval_unused_args(const struct df_eval *ev, const char ***names)
{
    size_t n = 0;
    *names = xcalloc(ev->n_ba + 1, sizeof(char *));
    for (size_t i = 0; i < ev->n_ba; i++) {
        if (ev->ba_used[i] || df_is_proxy_arg(ev->ba_names[i]))
            continue;
        int dup = 0;
        for (size_t j = 0; j < n; j++)
            dup |= strcmp((*names)[j], ev->ba_names[i]) == 0;
        if (!dup)
            (*names)[n++] = ev->ba_names[i];
    }
    return n;
}
