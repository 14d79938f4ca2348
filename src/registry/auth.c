/* WWW-Authenticate parsing, token URLs and answers, the per-scope token cache. */
#include "registry/auth.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Reads a token or a quoted string (with backslash escapes) at *pp into out. */
static int read_value(const char **pp, struct strbuf *out)
{
    const char *p = *pp;
    strbuf_reset(out);
    if (*p == '"') {
        p++;
        while (*p != '"') {
            if (*p == '\0')
                return -1;
            if (*p == '\\' && p[1] != '\0')
                p++;
            strbuf_addc(out, *p++);
        }
        p++;
    } else {
        while (*p != '\0' && *p != ',' && *p != ' ' && *p != '\t')
            strbuf_addc(out, *p++);
    }
    *pp = p;
    return 0;
}

int auth_challenge_parse(const char *header, struct auth_challenge *out, struct kiln_error **err)
{
    memset(out, 0, sizeof(*out));
    const char *p = skip_space(header);
    size_t n = strcspn(p, " \t");
    if (n == 6 && strncasecmp(p, "bearer", 6) == 0)
        out->scheme = AUTH_BEARER;
    else if (n == 5 && strncasecmp(p, "basic", 5) == 0)
        out->scheme = AUTH_BASIC;
    else
        return kiln_error_set(err, KILN_E_AUTH,
                              "registry asks for an unsupported authentication scheme \"%.*s\"",
                              (int)(n > 40 ? 40 : n), p);
    p += n;
    cleanup_strbuf struct strbuf key = STRBUF_INIT, val = STRBUF_INIT;
    strbuf_init(&key);
    strbuf_init(&val);
    for (;;) {
        p = skip_space(p);
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        strbuf_reset(&key);
        while (*p != '\0' && *p != '=' && *p != ',' && *p != ' ')
            strbuf_addc(&key, (char)tolower((unsigned char)*p++));
        p = skip_space(p);
        if (*p != '=') {
            auth_challenge_release(out);
            return kiln_error_set(err, KILN_E_INVALID,
                                  "malformed WWW-Authenticate header from registry");
        }
        p = skip_space(p + 1);
        if (read_value(&p, &val) < 0) {
            auth_challenge_release(out);
            return kiln_error_set(err, KILN_E_INVALID,
                                  "malformed WWW-Authenticate header from registry "
                                  "(unterminated quoted string)");
        }
        char **slot = NULL;
        if (strcmp(key.buf, "realm") == 0)
            slot = &out->realm;
        else if (strcmp(key.buf, "service") == 0)
            slot = &out->service;
        else if (strcmp(key.buf, "scope") == 0)
            slot = &out->scope;
        if (slot != NULL) {
            free(*slot);
            *slot = xstrdup(val.buf);
        }
    }
    if (out->scheme == AUTH_BEARER && (out->realm == NULL || out->realm[0] == '\0')) {
        auth_challenge_release(out);
        return kiln_error_set(err, KILN_E_INVALID,
                              "registry's Bearer challenge names no token realm");
    }
    return 0;
}

void auth_challenge_release(struct auth_challenge *c)
{
    free(c->realm);
    free(c->service);
    free(c->scope);
    memset(c, 0, sizeof(*c));
}

static void add_param(struct strbuf *sb, const char *key, const char *value, size_t vlen)
{
    char *enc = curl_easy_escape(NULL, value, (int)vlen);
    if (enc == NULL)
        abort();
    strbuf_addc(sb, strchr(sb->buf, '?') != NULL ? '&' : '?');
    strbuf_addf(sb, "%s=%s", key, enc);
    curl_free(enc);
}

char *auth_token_url(const struct auth_challenge *c, const char *scopes)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    strbuf_adds(&sb, c->realm);
    if (c->service != NULL)
        add_param(&sb, "service", c->service, strlen(c->service));
    const char *p = scopes ? scopes : "";
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n > 0)
            add_param(&sb, "scope", p, n);
        p += n;
    }
    return strbuf_detach(&sb);
}

int auth_token_parse(const char *body, size_t len, time_t now, char **token, time_t *expires_at,
                     struct kiln_error **err)
{
    cleanup_json json_t *j = json_parse_bytes(body, len, "token server answer", err);
    if (j == NULL)
        return -1;
    const char *t = json_get_str(j, "token");
    if (t == NULL || t[0] == '\0')
        t = json_get_str(j, "access_token");
    if (t == NULL || t[0] == '\0')
        return kiln_error_set(err, KILN_E_AUTH, "token server answered without a token");
    json_int_t ttl = json_get_int(j, "expires_in", 60);
    if (ttl < 60) /* the distribution spec's minimum */
        ttl = 60;
    *token = xstrdup(t);
    *expires_at = now + (time_t)ttl;
    return 0;
}

struct token_entry {
    char *scope;
    char *token;
    time_t expires_at;
};

struct token_cache {
    struct token_entry *v;
    size_t n;
};

struct token_cache *token_cache_new(void)
{
    return xcalloc(1, sizeof(struct token_cache));
}

void token_cache_free(struct token_cache *tc)
{
    if (tc == NULL)
        return;
    for (size_t i = 0; i < tc->n; i++) {
        free(tc->v[i].scope);
        free(tc->v[i].token);
    }
    free(tc->v);
    free(tc);
}

static struct token_entry *find_entry(struct token_cache *tc, const char *scope)
{
    for (size_t i = 0; i < tc->n; i++)
        if (strcmp(tc->v[i].scope, scope) == 0)
            return &tc->v[i];
    return NULL;
}

const char *token_cache_get(struct token_cache *tc, const char *scope, time_t now)
{
    struct token_entry *e = find_entry(tc, scope ? scope : "");
    if (e == NULL || e->token == NULL || now + 10 >= e->expires_at)
        return NULL;
    return e->token;
}

void token_cache_put(struct token_cache *tc, const char *scope, const char *token,
                     time_t expires_at)
{
    struct token_entry *e = find_entry(tc, scope ? scope : "");
    if (e == NULL) {
        tc->v = xrealloc(tc->v, (tc->n + 1) * sizeof(*tc->v));
        e = &tc->v[tc->n++];
        e->scope = xstrdup(scope ? scope : "");
        e->token = NULL;
    }
    free(e->token);
    e->token = xstrdup(token);
    e->expires_at = expires_at;
}

void token_cache_drop(struct token_cache *tc, const char *scope)
{
    struct token_entry *e = find_entry(tc, scope ? scope : "");
    if (e != NULL) {
        free(e->token);
        e->token = NULL;
        e->expires_at = 0;
    }
}

char *base64_encode(const void *data, size_t len)
{
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

char *base64_decode(const char *s, size_t *len)
{
    size_t n = strlen(s);
    if (n % 4 != 0)
        return NULL;
    unsigned char *out = xmalloc(n / 4 * 3 + 1);
    int got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (got < 0) {
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts padding as zero bytes; take them back off. */
    if (n > 0 && s[n - 1] == '=')
        got--;
    if (n > 1 && s[n - 2] == '=')
        got--;
    out[got] = '\0';
    if (len != NULL)
        *len = (size_t)got;
    return (char *)out;
}
