/* Registry mirror configuration: environment and config file. */
#include "registry/mirrors.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static void push(char ***v, size_t *n, const char *s, size_t len)
{
    while (len > 0 && s[len - 1] == '/')
        len--;
    if (len == 0)
        return;
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = xstrndup(s, len);
}

static int bad_host(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && strchr(".-:[]_/", s[i]) == NULL)
            return 1;
    return 0;
}

int mirrors_parse(const char *registry, const char *env, const char *conf_text, char ***out,
                  size_t *n, struct kiln_error **err)
{
    *out = NULL;
    *n = 0;
    if (env != NULL && env[0] != '\0') {
        const char *p = env;
        while (*p != '\0') {
            size_t len = strcspn(p, ", \t\n");
            const char *eq = memchr(p, '=', len);
            const char *reg = "docker.io", *m = p;
            size_t reglen = 9, mlen = len;
            if (eq != NULL) {
                reg = p;
                reglen = (size_t)(eq - p);
                m = eq + 1;
                mlen = len - reglen - 1;
            }
            if (len > 0 && (bad_host(m, mlen) || mlen == 0)) {
                mirrors_free(*out, *n);
                return kiln_error_set(err, KILN_E_USAGE,
                                      "KILN_REGISTRY_MIRRORS: \"%.*s\" is not REGISTRY=MIRROR",
                                      (int)len, p);
            }
            if (len > 0 && strlen(registry) == reglen && strncmp(reg, registry, reglen) == 0)
                push(out, n, m, mlen);
            p += len;
            while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n')
                p++;
        }
        return 0;
    }
    if (conf_text == NULL)
        return 0;
    const char *line = conf_text;
    for (int lineno = 1; *line != '\0'; lineno++) {
        size_t len = strcspn(line, "\n");
        const char *hash = memchr(line, '#', len);
        size_t use = hash ? (size_t)(hash - line) : len;
        const char *p = line, *end = line + use;
        while (p < end && isspace((unsigned char)*p))
            p++;
        size_t klen = 0;
        while (p + klen < end && !isspace((unsigned char)p[klen]))
            klen++;
        int match = klen > 0 && strlen(registry) == klen && strncmp(p, registry, klen) == 0;
        p += klen;
        while (p < end) {
            while (p < end && isspace((unsigned char)*p))
                p++;
            size_t mlen = 0;
            while (p + mlen < end && !isspace((unsigned char)p[mlen]))
                mlen++;
            if (mlen > 0 && bad_host(p, mlen)) {
                mirrors_free(*out, *n);
                return kiln_error_set(err, KILN_E_INVALID,
                                      "mirrors.conf:%d: \"%.*s\" is not a registry host", lineno,
                                      (int)mlen, p);
            }
            if (match && mlen > 0)
                push(out, n, p, mlen);
            p += mlen;
        }
        line += len;
        if (*line == '\n')
            line++;
    }
    return 0;
}

int mirrors_for(const char *registry, char ***out, size_t *n, struct kiln_error **err)
{
    const char *env = getenv("KILN_REGISTRY_MIRRORS");
    if (env != NULL && env[0] != '\0')
        return mirrors_parse(registry, env, NULL, out, n, err);
    cleanup_free char *user_conf = NULL;
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg != NULL && xdg[0] == '/')
        user_conf = xasprintf("%s/kiln/mirrors.conf", xdg);
    else if (home != NULL && home[0] == '/')
        user_conf = xasprintf("%s/.config/kiln/mirrors.conf", home);
    const char *candidates[] = {getenv("KILN_MIRRORS_CONF"), user_conf, "/etc/kiln/mirrors.conf"};
    for (size_t i = 0; i < 3; i++) {
        if (candidates[i] == NULL || candidates[i][0] == '\0' || access(candidates[i], F_OK) != 0)
            continue;
        cleanup_free char *text = NULL;
        size_t len = 0;
        if (read_file(candidates[i], 1 << 20, &text, &len, err) < 0)
            return -1;
        if (mirrors_parse(registry, NULL, text, out, n, err) < 0)
            return kiln_error_prefix(err, "%s", candidates[i]);
        return 0;
    }
    *out = NULL;
    *n = 0;
    return 0;
}

void mirrors_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}
