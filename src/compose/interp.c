/* Compose variables: the environment table, dotenv files and ${...}
 * interpolation as the Compose Specification defines them. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

void compose_env_init(struct compose_env *env)
{
    memset(env, 0, sizeof(*env));
}

void compose_env_release(struct compose_env *env)
{
    for (size_t i = 0; i < env->n; i++) {
        free(env->keys[i]);
        free(env->vals[i]);
    }
    free(env->keys);
    free(env->vals);
    memset(env, 0, sizeof(*env));
}

static ssize_t env_find(const struct compose_env *env, const char *key)
{
    for (size_t i = 0; i < env->n; i++)
        if (strcmp(env->keys[i], key) == 0)
            return (ssize_t)i;
    return -1;
}

void compose_env_set(struct compose_env *env, const char *key, const char *val, int replace)
{
    ssize_t i = env_find(env, key);
    if (i >= 0) {
        if (replace) {
            free(env->vals[i]);
            env->vals[i] = xstrdup(val);
        }
        return;
    }
    if (env->n == env->cap) {
        env->cap = env->cap ? env->cap * 2 : 16;
        env->keys = xrealloc(env->keys, env->cap * sizeof(*env->keys));
        env->vals = xrealloc(env->vals, env->cap * sizeof(*env->vals));
    }
    env->keys[env->n] = xstrdup(key);
    env->vals[env->n] = xstrdup(val);
    env->n++;
}

const char *compose_env_get(const struct compose_env *env, const char *key)
{
    ssize_t i = env_find(env, key);
    return i >= 0 ? env->vals[i] : NULL;
}

static int is_name_start(int c)
{
    return isalpha(c) || c == '_';
}

static int is_name_char(int c)
{
    return isalnum(c) || c == '_';
}

/* The body of ${...} starting at s (after "${"); *end gets the index just past
 * the matching '}', nested ${} in defaults counted. */
static int braced_body(const char *s, size_t *end)
{
    int depth = 1;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '$' && s[i + 1] == '{') {
            depth++;
            i++;
        } else if (s[i] == '}' && --depth == 0) {
            *end = i;
            return 0;
        }
    }
    return -1;
}

static int interpolate_braced(const char *body, const struct compose_env *env, struct strbuf *out,
                              char **msg)
{
    size_t n = 0;
    if (!is_name_start((unsigned char)body[0])) {
        *msg = xasprintf("invalid variable name in \"${%s}\"", body);
        return -1;
    }
    while (is_name_char((unsigned char)body[n]))
        n++;
    cleanup_free char *name = xstrndup(body, n);
    const char *val = compose_env_get(env, name);
    const char *op = body + n;
    if (*op == '\0') {
        strbuf_adds(out, val ? val : "");
        return 0;
    }
    int colon = op[0] == ':';
    char kind = op[colon];
    const char *arg = op + colon + 1;
    if (kind != '-' && kind != '?' && kind != '+') {
        *msg = xasprintf("invalid interpolation format for \"${%s}\"", body);
        return -1;
    }
    /* ":" means unset or empty; without it, unset only. */
    int missing = colon ? (val == NULL || *val == '\0') : val == NULL;
    cleanup_free char *arg_out = NULL;
    if (compose_interpolate(arg, env, &arg_out, msg) < 0)
        return -1;
    switch (kind) {
    case '-':
        strbuf_adds(out, missing ? arg_out : val);
        return 0;
    case '+':
        strbuf_adds(out, missing ? "" : arg_out);
        return 0;
    default: /* '?' */
        if (missing) {
            *msg = *arg_out
                       ? xasprintf("required variable %s is missing a value: %s", name, arg_out)
                       : xasprintf("required variable %s is missing a value", name);
            return -1;
        }
        strbuf_adds(out, val);
        return 0;
    }
}

int compose_interpolate(const char *in, const struct compose_env *env, char **out, char **msg)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    *msg = NULL;
    for (size_t i = 0; in[i];) {
        if (in[i] != '$') {
            strbuf_addc(&sb, in[i++]);
            continue;
        }
        if (in[i + 1] == '$') { /* $$ is a literal $ */
            strbuf_addc(&sb, '$');
            i += 2;
        } else if (in[i + 1] == '{') {
            size_t end;
            if (braced_body(in + i + 2, &end) < 0) {
                strbuf_release(&sb);
                *msg = xasprintf("unterminated \"${\" in \"%s\"", in);
                return -1;
            }
            cleanup_free char *body = xstrndup(in + i + 2, end);
            if (interpolate_braced(body, env, &sb, msg) < 0) {
                strbuf_release(&sb);
                return -1;
            }
            i += 2 + end + 1;
        } else if (is_name_start((unsigned char)in[i + 1])) {
            size_t n = 1;
            while (is_name_char((unsigned char)in[i + 1 + n]))
                n++;
            cleanup_free char *name = xstrndup(in + i + 1, n);
            const char *val = compose_env_get(env, name);
            strbuf_adds(&sb, val ? val : "");
            i += 1 + n;
        } else { /* a lone $ stays */
            strbuf_addc(&sb, '$');
            i++;
        }
    }
    *out = strbuf_detach(&sb);
    return 0;
}

/* One dotenv value after '=': quotes and escapes resolved, unquoted values
 * trimmed and cut at " #". Interpolated unless single-quoted. */
static int dotenv_value(const char *v, const struct compose_env *env, char **out, char **msg)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v == '\'' || *v == '"') {
        char q = *v++;
        const char *close = NULL;
        for (const char *p = v; *p; p++) {
            if (q == '"' && *p == '\\' && p[1]) {
                p++;
                continue;
            }
            if (*p == q) {
                close = p;
                break;
            }
        }
        if (close == NULL) {
            strbuf_release(&sb);
            *msg = xasprintf("unterminated %s quote", q == '"' ? "double" : "single");
            return -1;
        }
        for (const char *p = v; p < close; p++) {
            if (q == '"' && *p == '\\') {
                p++;
                strbuf_addc(&sb, *p == 'n' ? '\n' : *p == 't' ? '\t' : *p);
            } else {
                strbuf_addc(&sb, *p);
            }
        }
        if (q == '\'') {
            *out = strbuf_detach(&sb);
            return 0;
        }
    } else {
        const char *hash = strstr(v, " #");
        strbuf_add(&sb, v, hash ? (size_t)(hash - v) : strlen(v));
        strbuf_rtrim(&sb);
    }
    int rc = compose_interpolate(sb.buf, env, out, msg);
    strbuf_release(&sb);
    return rc;
}

int compose_env_read_file(struct compose_env *env, const char *path, int replace,
                          struct kiln_error **err)
{
    cleanup_fclose FILE *f = fopen(path, "re");
    if (f == NULL)
        return kiln_error_errno(err, errno, "env file %s", path);
    cleanup_free char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        if (strncmp(p, "export ", 7) == 0)
            p += 7;
        char *eq = strchr(p, '=');
        char *key_end = eq ? eq : p + strlen(p);
        while (key_end > p && (key_end[-1] == ' ' || key_end[-1] == '\t'))
            key_end--;
        cleanup_free char *key = xstrndup(p, (size_t)(key_end - p));
        int ok = key[0] != '\0' && is_name_start((unsigned char)key[0]);
        for (const char *k = key; ok && *k; k++)
            ok = is_name_char((unsigned char)*k) || *k == '.' || *k == '-';
        if (!ok)
            return kiln_error_set(err, KILN_E_INVALID, "%s:%d: invalid variable name \"%s\"", path,
                                  lineno, key);
        if (eq == NULL) { /* a bare name takes its value from the environment */
            const char *v = getenv(key);
            if (v)
                compose_env_set(env, key, v, replace);
            continue;
        }
        cleanup_free char *val = NULL;
        cleanup_free char *msg = NULL;
        if (dotenv_value(eq + 1, env, &val, &msg) < 0)
            return kiln_error_set(err, KILN_E_INVALID, "%s:%d: %s", path, lineno, msg);
        compose_env_set(env, key, val, replace);
    }
    return 0;
}
