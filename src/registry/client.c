/* The registry connection: lifecycle, TLS files, ping, credentials and
 * tokens. Handles and requests are in xfer.c, error messages and retries
 * in errors.c. See client.h. */
#include "registry/client.h"

#include <dirent.h>
#include <jansson.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "registry/client_internal.h"
#include "registry/creds.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

static int is_local_host(const char *host)
{
    size_t n = strcspn(host, ":");
    if (host[0] == '[')
        return strncmp(host, "[::1]", 5) == 0;
    return (n == 9 && strncmp(host, "localhost", 9) == 0) ||
           (n == 9 && strncmp(host, "127.0.0.1", 9) == 0) ||
           (n > 4 && strncmp(host, "127.", 4) == 0);
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* --cert-dir: *.crt are CAs (added to the system's), NAME.cert + NAME.key a
 * client certificate, as docker's and podman's certs.d directories. */
static int load_cert_dir(struct reg_client *c, const char *dir, struct kiln_error **err)
{
    cleanup_dir DIR *d = opendir(dir);
    if (d == NULL)
        return kiln_error_errno(err, errno, "cert dir %s", dir);
    struct strbuf pem = STRBUF_INIT;
    strbuf_init(&pem);
    cleanup_free char *sys = NULL;
    size_t len = 0;
    if (read_file(SYSTEM_CA, 64 << 20, &sys, &len, NULL) == 0)
        strbuf_add(&pem, sys, len);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        cleanup_free char *path = path_join(dir, de->d_name);
        if (has_suffix(de->d_name, ".crt")) {
            cleanup_free char *data = NULL;
            if (read_file(path, 1 << 20, &data, &len, err) < 0) {
                strbuf_release(&pem);
                return -1;
            }
            strbuf_addc(&pem, '\n');
            strbuf_add(&pem, data, len);
        } else if (has_suffix(de->d_name, ".cert")) {
            free(c->client_cert);
            free(c->client_key);
            c->client_cert = xstrdup(path);
            c->client_key = xasprintf("%.*s.key", (int)(strlen(path) - 5), path);
        }
    }
    c->ca_len = pem.len;
    c->ca_pem = strbuf_detach(&pem);
    return 0;
}

int reg_client_new(const char *host, const char *cred_name, const struct registry_opts *opts,
                   struct reg_client **out, struct kiln_error **err)
{
    struct reg_client *c = xcalloc(1, sizeof(*c));
    c->host = xstrdup(host);
    c->cred_name = xstrdup(cred_name ? cred_name : host);
    if (opts != NULL)
        c->opts = *opts;
    c->insecure_ok = c->opts.tls_no_verify || is_local_host(host);
    c->tokens = xcalloc(1, sizeof(*c->tokens));
    pthread_mutex_init(&c->tokens->mu, NULL);
    c->tokens->cache = token_cache_new();
    c->owns_tokens = 1;
    c->share = curl_share_init();
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    if (c->opts.cert_dir != NULL && load_cert_dir(c, c->opts.cert_dir, err) < 0) {
        reg_client_free(c);
        return -1;
    }
    cleanup_free char *path = creds_path(c->opts.auth_file);
    if (creds_lookup(path, c->cred_name, &c->user, &c->password, err) < 0) {
        reg_client_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

static void free_secret(char **s)
{
    if (*s != NULL)
        explicit_bzero(*s, strlen(*s));
    free(*s);
    *s = NULL;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

int reg_client_clone(struct reg_client *c, const struct registry_opts *opts,
                     struct reg_client **out, struct kiln_error **err)
{
    if (reg_client_ping(c, 0, err) < 0)
        return -1;
    struct reg_client *k = xcalloc(1, sizeof(*k));
    k->host = xstrdup(c->host);
    k->cred_name = xstrdup(c->cred_name);
    k->opts = opts ? *opts : c->opts;
    k->scheme = c->scheme;
    k->insecure_ok = c->insecure_ok;
    k->chal.scheme = c->chal.scheme;
    k->chal.realm = dup_or_null(c->chal.realm);
    k->chal.service = dup_or_null(c->chal.service);
    k->chal.scope = dup_or_null(c->chal.scope);
    k->user = dup_or_null(c->user);
    k->password = dup_or_null(c->password);
    k->tokens = c->tokens;
    k->share = curl_share_init();
    curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    if (c->ca_pem != NULL) {
        k->ca_pem = xmalloc(c->ca_len + 1);
        memcpy(k->ca_pem, c->ca_pem, c->ca_len + 1);
        k->ca_len = c->ca_len;
    }
    k->client_cert = dup_or_null(c->client_cert);
    k->client_key = dup_or_null(c->client_key);
    *out = k;
    return 0;
}

void reg_client_free(struct reg_client *c)
{
    if (c == NULL)
        return;
    free(c->host);
    free(c->cred_name);
    auth_challenge_release(&c->chal);
    free_secret(&c->user);
    free_secret(&c->password);
    if (c->owns_tokens) {
        token_cache_free(c->tokens->cache);
        pthread_mutex_destroy(&c->tokens->mu);
        free(c->tokens);
    }
    curl_share_cleanup(c->share);
    free(c->ca_pem);
    free(c->client_cert);
    free(c->client_key);
    free(c);
}

const char *reg_client_host(const struct reg_client *c)
{
    return c->host;
}

void reg_client_set_credentials(struct reg_client *c, const char *user, const char *password)
{
    free_secret(&c->user);
    free_secret(&c->password);
    c->user = user ? xstrdup(user) : NULL;
    c->password = password ? xstrdup(password) : NULL;
}

void reg_progress(struct reg_client *c, enum registry_event ev, const char *digest, uint64_t done,
                  uint64_t total, const char *message)
{
    if (c->opts.progress == NULL)
        return;
    struct registry_progress p = {ev, digest, done, total, message};
    c->opts.progress(c->opts.progress_ctx, &p);
}

char *reg_url(struct reg_client *c, const char *path)
{
    if (strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0)
        return xstrdup(path);
    return xasprintf("%s://%s%s", c->scheme ? c->scheme : "https", c->host, path);
}

/* host[:port] of url, allocated; NULL if unparsable. */
static char *url_authority(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *out = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
            out = xasprintf("%s:%s", host, port);
        else
            out = xstrdup(host);
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return out;
}

static int fetch_token(struct reg_client *c, const char *scope, char **tok,
                       struct kiln_error **err);

/* The cached token for scope, else one fetched now (under the lock: threads
 * wanting the same scope wait for one fetch). A copy to free_secret(); NULL
 * with *err when the fetch failed. */
static char *token_for(struct reg_client *c, const char *scope, struct kiln_error **err)
{
    pthread_mutex_lock(&c->tokens->mu);
    const char *cached = token_cache_get(c->tokens->cache, scope, time(NULL));
    char *tok = cached ? xstrdup(cached) : NULL;
    if (tok == NULL && fetch_token(c, scope, &tok, err) < 0)
        tok = NULL;
    pthread_mutex_unlock(&c->tokens->mu);
    return tok;
}

/* Credentials for a request to url: only if url is on this registry. */
int reg_attach_auth(struct reg_client *c, CURL *e, const char *url, const char *scope,
                    struct kiln_error **err)
{
    cleanup_free char *auth = url_authority(url);
    if (auth == NULL || strcasecmp(auth, c->host) != 0)
        return 0;
    if (c->chal.scheme == AUTH_BASIC && c->user != NULL) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, c->user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, c->password);
    } else if (c->chal.scheme == AUTH_BEARER) {
        char *tok = token_for(c, scope ? scope : "", err);
        if (tok == NULL)
            return -1;
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, tok); /* curl keeps a copy */
        free_secret(&tok);
    }
    return 0;
}

/* ---- ping and tokens ----------------------------------------------------- */

static CURLcode perform_simple(struct reg_client *c, const char *url, const char *user,
                               const char *password, struct reg_response *resp, long *status,
                               char *errbuf)
{
    struct xfer x = {.resp = resp, .max_body = 1 << 20, .client = c};
    CURL *e = reg_easy_base(c, url, &x);
    if (user != NULL && password == NULL) { /* a bearer token */
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, user);
    } else if (user != NULL) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, password);
    }
    CURLcode rc;
    for (int attempt = 0;; attempt++) {
        reg_response_release(resp);
        strbuf_init(&resp->body);
        rc = curl_easy_perform(e);
        *status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
        if (attempt >= REG_MAX_RETRIES || !reg_retryable(rc, *status) ||
            rc == CURLE_COULDNT_CONNECT)
            break;
        reg_backoff(attempt);
    }
    resp->status = *status;
    memcpy(errbuf, x.errbuf, CURL_ERROR_SIZE);
    curl_easy_cleanup(e);
    kiln_error_free(x.err);
    return rc;
}

int reg_client_ping(struct reg_client *c, int check_credentials, struct kiln_error **err)
{
    if (c->scheme == NULL) {
        static const char *const schemes[] = {"https", "http"};
        for (int i = 0; i < 2; i++) {
            cleanup_free char *url = xasprintf("%s://%s/v2/", schemes[i], c->host);
            struct reg_response r = {0};
            long status = 0;
            char errbuf[CURL_ERROR_SIZE] = "";
            CURLcode rc = perform_simple(c, url, NULL, NULL, &r, &status, errbuf);
            if (rc != CURLE_OK) {
                reg_response_release(&r);
                /* A plain-HTTP server answers TLS with garbage: fall back when allowed. */
                if (i == 0 && c->insecure_ok &&
                    (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_RECV_ERROR ||
                     rc == CURLE_GOT_NOTHING))
                    continue;
                return reg_curl_error(c, rc, errbuf, NULL, err);
            }
            c->scheme = schemes[i];
            if (status == 401 && r.www_auth != NULL) {
                auth_challenge_release(&c->chal);
                if (auth_challenge_parse(r.www_auth, &c->chal, err) < 0) {
                    reg_response_release(&r);
                    return kiln_error_prefix(err, "registry %s", c->host);
                }
            } else if (status != 200) {
                long st = status;
                reg_response_release(&r);
                return kiln_error_set(err, KILN_E_NET,
                                      "%s does not look like a registry: GET /v2/ answered %ld",
                                      c->host, st);
            }
            reg_response_release(&r);
            break;
        }
    }
    if (!check_credentials || c->chal.scheme == AUTH_NONE)
        return 0;
    /* GET /v2/ with the credentials (Basic) or a token got with them
     * (Bearer) must answer 200. */
    char *token = NULL;
    if (c->chal.scheme == AUTH_BEARER) {
        pthread_mutex_lock(&c->tokens->mu);
        int failed = fetch_token(c, "", &token, err) < 0;
        pthread_mutex_unlock(&c->tokens->mu);
        if (failed)
            return -1;
    }
    cleanup_free char *url = reg_url(c, "/v2/");
    struct reg_response r = {0};
    long status = 0;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode rc = token ? perform_simple(c, url, token, NULL, &r, &status, errbuf)
                        : perform_simple(c, url, c->user, c->password, &r, &status, errbuf);
    int ret = 0;
    if (rc != CURLE_OK)
        ret = reg_curl_error(c, rc, errbuf, NULL, err);
    else if (status != 200)
        ret = reg_status_error(c, &r, "GET /v2/", err);
    reg_response_release(&r);
    free_secret(&token);
    return ret;
}

/* Asks the token server for a token for scope (caller holds tokens->mu),
 * caches it and gives the caller a copy (*tok, for free_secret()): it is
 * used once even when it expires too soon to be cached. */
static int fetch_token(struct reg_client *c, const char *scope, char **tok, struct kiln_error **err)
{
    cleanup_free char *url = auth_token_url(&c->chal, scope);
    struct reg_response r = {0};
    long status = 0;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode rc = perform_simple(c, url, c->user, c->password, &r, &status, errbuf);
    int ret = 0;
    if (rc != CURLE_OK) {
        ret = kiln_error_set(err, KILN_E_NET, "registry %s: its token server %s failed: %s",
                             c->host, c->chal.realm, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    } else if (status == 401 || status == 403) {
        if (c->user == NULL)
            ret = kiln_error_set(err, KILN_E_AUTH,
                                 "registry %s requires authentication; run 'kiln login %s'",
                                 c->host, c->cred_name);
        else
            ret = kiln_error_set(err, KILN_E_AUTH,
                                 "registry %s refused the login of %s: wrong username or "
                                 "password",
                                 c->host, c->user);
    } else if (status != 200) {
        ret = kiln_error_set(err, KILN_E_NET, "token server of %s answered HTTP %ld", c->host,
                             status);
    } else {
        time_t exp = 0;
        ret = auth_token_parse(r.body.buf, r.body.len, time(NULL), tok, &exp, err);
        if (ret == 0)
            token_cache_put(c->tokens->cache, scope, *tok, exp);
    }
    reg_response_release(&r);
    return ret;
}

void reg_client_auth_failed(struct reg_client *c, const char *scope, const char *www_auth)
{
    pthread_mutex_lock(&c->tokens->mu);
    token_cache_drop(c->tokens->cache, scope);
    pthread_mutex_unlock(&c->tokens->mu);
    struct auth_challenge ch;
    if (www_auth != NULL && auth_challenge_parse(www_auth, &ch, NULL) == 0) {
        /* Keep the scheme and realm; the scope we ask for stays ours. */
        auth_challenge_release(&c->chal);
        c->chal = ch;
    }
}
