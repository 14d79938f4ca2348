/* registry/auth: WWW-Authenticate parsing, token URLs, token answers, the
 * per-scope token cache, base64; registry/creds: config.json auths. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/auth.h"
#include "registry/creds.h"
#include "tap.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static void test_challenge(void)
{
    struct auth_challenge c;
    ok(auth_challenge_parse(
           "Bearer realm=\"https://auth.docker.io/token\","
           "service=\"registry.docker.io\",scope=\"repository:library/debian:pull\"",
           &c, NULL) == 0,
       "bearer challenge parses");
    is_int(c.scheme, AUTH_BEARER, "scheme is bearer");
    is_str(c.realm, "https://auth.docker.io/token", "realm");
    is_str(c.service, "registry.docker.io", "service");
    is_str(c.scope, "repository:library/debian:pull", "scope");
    cleanup_free char *url =
        auth_token_url(&c, "repository:library/debian:pull repository:a/b:pull,push");
    is_str(url,
           "https://auth.docker.io/token?service=registry.docker.io"
           "&scope=repository%3Alibrary%2Fdebian%3Apull&scope=repository%3Aa%2Fb%3Apull%2Cpush",
           "token url carries service and each scope, encoded");
    auth_challenge_release(&c);

    ok(auth_challenge_parse("basic realm=\"Registry Realm\"", &c, NULL) == 0 &&
           c.scheme == AUTH_BASIC && strcmp(c.realm, "Registry Realm") == 0,
       "basic challenge parses case-insensitively");
    auth_challenge_release(&c);

    ok(auth_challenge_parse("Bearer realm=\"a\\\"b\" , service = svc", &c, NULL) == 0 &&
           strcmp(c.realm, "a\"b") == 0 && strcmp(c.service, "svc") == 0,
       "escaped quotes, spaces around '=' and unquoted values");
    cleanup_free char *u2 = auth_token_url(&c, NULL);
    is_str(u2, "a\"b?service=svc", "no scope: only service");
    auth_challenge_release(&c);

    cleanup_error struct kiln_error *e = NULL;
    ok(auth_challenge_parse("Negotiate abc", &c, &e) < 0 && e->code == KILN_E_AUTH,
       "unknown scheme refused");
    kiln_error_freep(&e);
    ok(auth_challenge_parse("Bearer service=\"x\"", &c, &e) < 0 && e->code == KILN_E_INVALID,
       "bearer without realm refused");
    kiln_error_freep(&e);
    ok(auth_challenge_parse("Bearer realm=\"unterminated", &c, &e) < 0,
       "unterminated quote refused");
}

static void test_token(void)
{
    char *tok = NULL;
    time_t exp = 0;
    const char *a = "{\"token\":\"T1\",\"expires_in\":300}";
    ok(auth_token_parse(a, strlen(a), 1000, &tok, &exp, NULL) == 0, "token answer parses");
    is_str(tok, "T1", "token");
    is_int(exp, 1300, "expiry from expires_in");
    free(tok);
    const char *b = "{\"access_token\":\"T2\"}";
    ok(auth_token_parse(b, strlen(b), 1000, &tok, &exp, NULL) == 0 && strcmp(tok, "T2") == 0 &&
           exp == 1060,
       "access_token and the 60 s default");
    free(tok);
    cleanup_error struct kiln_error *e = NULL;
    ok(auth_token_parse("{}", 2, 0, &tok, &exp, &e) < 0 && e->code == KILN_E_AUTH,
       "answer without token refused");

    struct token_cache *tc = token_cache_new();
    token_cache_put(tc, "repository:a:pull", "X", 1000);
    is_str(token_cache_get(tc, "repository:a:pull", 500), "X", "cached token returned");
    ok(token_cache_get(tc, "repository:a:pull,push", 500) == NULL, "other scope misses");
    ok(token_cache_get(tc, "repository:a:pull", 995) == NULL, "expired (with margin) misses");
    token_cache_put(tc, "repository:a:pull", "Y", 2000);
    is_str(token_cache_get(tc, "repository:a:pull", 995), "Y", "put replaces");
    token_cache_drop(tc, "repository:a:pull");
    ok(token_cache_get(tc, "repository:a:pull", 0) == NULL, "dropped token misses");
    token_cache_free(tc);
}

static void test_base64(void)
{
    cleanup_free char *e = base64_encode("user:pa:ss", 10);
    is_str(e, "dXNlcjpwYTpzcw==", "base64 encode");
    size_t n = 0;
    cleanup_free char *d = base64_decode(e, &n);
    is_str(d, "user:pa:ss", "base64 decode");
    is_int(n, 10, "decoded length drops padding");
    ok(base64_decode("abc", NULL) == NULL, "bad length refused");
    ok(base64_decode("@@@@", NULL) == NULL, "bad characters refused");
}

static void test_creds(void)
{
    char dir[] = "/tmp/kiln-creds-XXXXXX";
    ok(mkdtemp(dir) != NULL, "temp dir");
    cleanup_free char *path = xasprintf("%s/sub/config.json", dir);
    char *u = NULL, *p = NULL;
    ok(creds_lookup(path, "r.example:5000", &u, &p, NULL) == 0 && u == NULL,
       "missing file: no credentials");
    ok(creds_store(path, "r.example:5000", "alice", "s3:cret", NULL) == 0, "store");
    struct stat st;
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "file mode 0600");
    ok(creds_lookup(path, "r.example:5000", &u, &p, NULL) == 0 && u && strcmp(u, "alice") == 0 &&
           strcmp(p, "s3:cret") == 0,
       "lookup returns what was stored");
    free(u);
    free(p);
    ok(creds_store(path, "docker.io", "bob", "pw", NULL) == 0, "store docker.io");
    cleanup_free char *text = NULL;
    size_t len;
    read_file(path, 1 << 20, &text, &len, NULL);
    ok(text && strstr(text, "https://index.docker.io/v1/") != NULL,
       "docker.io stored under Docker's key");
    ok(text && strstr(text, "s3:cret") == NULL, "password not stored in clear");
    ok(creds_lookup(path, "index.docker.io", &u, &p, NULL) == 0 && u && strcmp(u, "bob") == 0,
       "docker.io aliases match");
    free(u);
    free(p);
    /* Entries other tools wrote: scheme and path around the host. */
    const char *other =
        "{\"auths\":{\"https://h.example/v2/\":{\"auth\":\"eDp5\"}},\"psFormat\":\"x\"}";
    write_file_atomic(path, other, strlen(other), 0600, NULL);
    ok(creds_lookup(path, "h.example", &u, &p, NULL) == 0 && u && strcmp(u, "x") == 0 &&
           strcmp(p, "y") == 0,
       "keys with scheme and path match the host");
    free(u);
    free(p);
    ok(creds_store(path, "h.example", "n", "m", NULL) == 0, "re-store replaces the old key");
    free(text);
    text = NULL;
    read_file(path, 1 << 20, &text, &len, NULL);
    ok(text && strstr(text, "psFormat") != NULL && strstr(text, "https://h.example/v2/") == NULL,
       "other settings kept, old key replaced");
    ok(creds_erase(path, "h.example", NULL) == 0, "erase");
    cleanup_error struct kiln_error *e = NULL;
    ok(creds_erase(path, "h.example", &e) < 0 && e->code == KILN_E_NOTFOUND,
       "erase twice: not logged in");
    rm_rf(dir, NULL);
}

int main(void)
{
    test_challenge();
    test_token();
    test_base64();
    test_creds();
    return done_testing();
}
