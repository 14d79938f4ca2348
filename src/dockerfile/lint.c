/* Whole-stage lint checks after BuildKit's build checks, and the "check"
 * parser directive. Messages follow BuildKit's wording where it has one. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dockerfile/lint.h"
#include "util/strbuf.h"

void df_warnings_add(struct df_warnings *ws, const char *rule, struct df_pos pos, const char *msg)
{
    if (ws->n == ws->cap) {
        ws->cap = ws->cap ? ws->cap * 2 : 8;
        ws->v = xrealloc(ws->v, ws->cap * sizeof(*ws->v));
    }
    ws->v[ws->n++] = (struct df_warning){xstrdup(rule), xstrdup(msg), pos};
}

void df_warnings_release(struct df_warnings *ws)
{
    for (size_t i = 0; i < ws->n; i++) {
        free(ws->v[i].rule);
        free(ws->v[i].msg);
    }
    free(ws->v);
    memset(ws, 0, sizeof(*ws));
}

void df_warnings_sort(struct df_warnings *ws)
{
    for (size_t a = 1; a < ws->n; a++) {
        struct df_warning w = ws->v[a];
        size_t b = a;
        while (b > 0 &&
               (ws->v[b - 1].pos.line > w.pos.line ||
                (ws->v[b - 1].pos.line == w.pos.line && ws->v[b - 1].pos.col > w.pos.col))) {
            ws->v[b] = ws->v[b - 1];
            b--;
        }
        ws->v[b] = w;
    }
}

static void addf(struct df_warnings *ws, const char *rule, struct df_pos pos, const char *fmt,
                 const char *a, const char *b)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, fmt, a, b ? b : "");
    df_warnings_add(ws, rule, pos, sb.buf);
    strbuf_release(&sb);
}

/* BuildKit: (?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|
 * pword|passwd|secret|token)(?:_|$), with a few public names allowed. */
static int secret_name(const char *name)
{
    static const char *const words[] = {"apikey",   "auth",  "credential", "credentials", "key",
                                        "password", "pword", "passwd",     "secret",      "token"};
    static const char *const allowed[] = {"public", "pub"};
    char *low = xstrdup(name);
    for (char *p = low; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    int hit = 0, pub = 0;
    for (char *save = NULL, *tok = strtok_r(low, "_", &save); tok;
         tok = strtok_r(NULL, "_", &save)) {
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
            hit |= strcmp(tok, words[i]) == 0;
        for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
            pub |= strcmp(tok, allowed[i]) == 0;
    }
    free(low);
    return hit && !pub;
}

static void check_expose(const struct df_instr *ins, struct df_warnings *ws)
{
    for (size_t i = 0; i < ins->n_args; i++) {
        const char *p = ins->args[i];
        if (strchr(p, '$'))
            continue;
        if (strchr(p, ':'))
            addf(ws, "ExposeInvalidFormat", ins->pos,
                 "EXPOSE instruction should not define an IP address or host-port mapping, found "
                 "'%s'%s",
                 p, NULL);
        const char *slash = strchr(p, '/');
        if (slash) {
            int upper = 0;
            for (const char *q = slash + 1; *q; q++)
                upper |= isupper((unsigned char)*q);
            if (upper)
                addf(ws, "ExposeProtoCasing", ins->pos,
                     "Defined protocol '%s' in EXPOSE instruction should be lowercase%s", slash + 1,
                     NULL);
        }
    }
}

static int has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL || strchr(s, '$') != NULL;
}

static void check_copy_ignored(const struct df_instr *ins, const struct dockerignore *di,
                               struct df_warnings *ws)
{
    if (di == NULL || df_instr_flag(ins, "from") != NULL || ins->n_args < 2)
        return;
    for (size_t i = 0; i + 1 < ins->n_args; i++) {
        const char *src = ins->args[i];
        if (has_glob(src) || strncmp(src, "<<", 2) == 0 || strstr(src, "://") ||
            strcmp(src, ".") == 0)
            continue;
        if (dockerignore_excluded(di, src))
            addf(ws, "CopyIgnoredFile", ins->pos,
                 "Attempting to %s file \"%s\" that is excluded by .dockerignore",
                 ins->kind == DF_ADD ? "Add" : "Copy", src);
    }
}

/* "/x", "$VAR/..." (cannot tell), or a Windows "C:\\x" / "C:/x". */
static int absolute(const char *p)
{
    return p[0] == '/' || p[0] == '$' || p[0] == '\\' ||
           (isalpha((unsigned char)p[0]) && p[1] == ':' && (p[2] == '\\' || p[2] == '/'));
}

static void lint_stage(const struct df_stage *st, const struct dockerignore *di,
                       struct df_warnings *ws)
{
    int workdir_set = 0;
    const struct df_instr *last[3] = {NULL, NULL, NULL}; /* CMD ENTRYPOINT HEALTHCHECK */
    const char *plat = st->platform;
    if (plat && (strcmp(plat, "$TARGETPLATFORM") == 0 || strcmp(plat, "${TARGETPLATFORM}") == 0))
        addf(ws, "RedundantTargetPlatform", st->from->pos,
             "Setting platform to predefined %s in FROM is redundant as this is the default "
             "behavior%s",
             plat, NULL);
    else if (plat && !strchr(plat, '$'))
        addf(ws, "FromPlatformFlagConstDisallowed", st->from->pos,
             "FROM --platform flag should not use constant value \"%s\"%s", plat, NULL);
    for (size_t i = 0; i < st->n_instrs; i++) {
        const struct df_instr *ins = &st->instrs[i];
        switch (ins->kind) {
        case DF_WORKDIR:
            if (!absolute(ins->args[0]) && !workdir_set)
                addf(ws, "WorkdirRelativePath", ins->pos,
                     "Relative workdir \"%s\" can have unexpected results if the base image "
                     "changes%s",
                     ins->args[0], NULL);
            workdir_set = 1;
            break;
        case DF_ARG:
        case DF_ENV:
            for (size_t k = 0; k < ins->n_kvs; k++)
                if (secret_name(ins->kvs[k].key))
                    addf(ws, "SecretsUsedInArgOrEnv", ins->pos,
                         "Do not use ARG or ENV instructions for sensitive data (%s \"%s\")",
                         ins->keyword, ins->kvs[k].key);
            break;
        case DF_CMD:
        case DF_ENTRYPOINT:
        case DF_HEALTHCHECK: {
            int slot = ins->kind == DF_CMD ? 0 : ins->kind == DF_ENTRYPOINT ? 1 : 2;
            if (last[slot] != NULL)
                addf(ws, "MultipleInstructionsDisallowed", last[slot]->pos,
                     "Multiple %s instructions should not be used in the same stage because only "
                     "the last one will be used%s",
                     ins->keyword, NULL);
            last[slot] = ins;
            break;
        }
        case DF_EXPOSE:
            check_expose(ins, ws);
            break;
        case DF_COPY:
        case DF_ADD:
            check_copy_ignored(ins, di, ws);
            break;
        default:
            break;
        }
    }
}

void df_lint(const struct dockerfile *df, const struct dockerignore *di, struct df_warnings *out)
{
    for (size_t i = 0; i < df->n_meta_args; i++)
        for (size_t k = 0; k < df->meta_args[i].n_kvs; k++)
            if (secret_name(df->meta_args[i].kvs[k].key))
                addf(out, "SecretsUsedInArgOrEnv", df->meta_args[i].pos,
                     "Do not use ARG or ENV instructions for sensitive data (%s \"%s\")", "ARG",
                     df->meta_args[i].kvs[k].key);
    for (size_t i = 0; i < df->n_stages; i++)
        lint_stage(&df->stages[i], di, out);
}

/* The value of key in "k1=v1;k2=v2", allocated, or NULL. */
static char *check_field(const struct dockerfile *df, const char *key)
{
    if (df->check == NULL)
        return NULL;
    size_t kl = strlen(key);
    const char *p = df->check;
    while (*p) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > kl && strncasecmp(p, key, kl) == 0 && p[kl] == '=')
            return xstrndup(p + kl + 1, len - kl - 1);
        p += len;
    }
    return NULL;
}

int df_check_skipped(const struct dockerfile *df, const char *rule)
{
    char *skip = check_field(df, "skip");
    if (skip == NULL)
        return 0;
    int hit = 0;
    for (char *save = NULL, *t = strtok_r(skip, ",", &save); t && !hit;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t l = strlen(t);
        while (l > 0 && t[l - 1] == ' ')
            t[--l] = '\0';
        hit = strcasecmp(t, "all") == 0 || strcmp(t, rule) == 0;
    }
    free(skip);
    return hit;
}

int df_check_error(const struct dockerfile *df)
{
    char *e = check_field(df, "error");
    int r = e != NULL && strcasecmp(e, "true") == 0;
    free(e);
    return r;
}
