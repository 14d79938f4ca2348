/* Registry authentication pieces that need no network: parsing the
 * WWW-Authenticate challenge of a 401, the token-endpoint URL for a scope,
 * the token answer, and a per-scope token cache that forgets tokens at expiry. */
#ifndef KILN_REGISTRY_AUTH_H
#define KILN_REGISTRY_AUTH_H

#include <stddef.h>
#include <time.h>

#include "util/error.h"

enum auth_scheme { AUTH_NONE = 0, AUTH_BASIC, AUTH_BEARER };

struct auth_challenge {
    enum auth_scheme scheme;
    char *realm;   /* allocated or NULL */
    char *service; /* allocated or NULL */
    char *scope;   /* allocated or NULL */
};

/* Parses one WWW-Authenticate value ("Bearer realm=\"...\",service=...").
 * Unknown schemes are KILN_E_AUTH; a Bearer challenge without realm is
 * KILN_E_INVALID. */
int auth_challenge_parse(const char *header, struct auth_challenge *out, struct kiln_error **err);
void auth_challenge_release(struct auth_challenge *c);

/* The token request URL: realm?service=S&scope=A&scope=B (scopes separated by
 * spaces in `scopes`), each value URL-encoded. Allocated. */
char *auth_token_url(const struct auth_challenge *c, const char *scopes);

/* Parses the token endpoint's JSON answer ("token" or "access_token",
 * "expires_in" default 60s). *token allocated; *expires_at = now + expires_in. */
int auth_token_parse(const char *body, size_t len, time_t now, char **token, time_t *expires_at,
                     struct kiln_error **err);

/* Tokens by scope string. Entries expire 10 s before the registry said. */
struct token_cache;
struct token_cache *token_cache_new(void);
void token_cache_free(struct token_cache *tc);
/* NULL when missing or expired at `now`. The string stays owned by the cache. */
const char *token_cache_get(struct token_cache *tc, const char *scope, time_t now);
void token_cache_put(struct token_cache *tc, const char *scope, const char *token,
                     time_t expires_at);
void token_cache_drop(struct token_cache *tc, const char *scope);

/* Base64 helpers (standard alphabet, padded). Allocated; decode returns NULL
 * on malformed input. */
char *base64_encode(const void *data, size_t len);
char *base64_decode(const char *s, size_t *len);

#endif
