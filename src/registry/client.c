/* The registry connection: curl handles, TLS, ping, credentials, tokens,
 * retries. See client.h. */
#include "registry/client.h"

#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <unistd.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "registry/auth.h"
#include "registry/creds.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define USER_AGENT "kiln/0.1.0"
#define SYSTEM_CA  "/etc/ssl/certs/ca-certificates.crt"

struct reg_client {
    char *host;
    char *cred_name;
    struct registry_opts opts;
    const char *scheme; /* "https" or "http"; NULL before the ping */
    int insecure_ok;    /* HTTP fallback allowed: localhost or TLS checks off */
    struct auth_challenge chal;
    char *user, *password;
    struct tokens *tokens; /* shared with clones; owned by the first client */
    int owns_tokens;
    CURLSH *share;
    char *ca_pem; /* system CAs + cert_dir's *.crt, or NULL for curl's default */
    size_t ca_len;
    char *client_cert, *client_key;
};

/* Bearer tokens by scope for a client and its clones (other threads): one
 * fetch per scope until it expires, whichever thread needs it first. */
struct tokens {
    pthread_mutex_t mu;
    struct token_cache *cache;
};

/* Per-handle state, reachable through CURLOPT_PRIVATE. */
struct xfer {
    CURL *easy;
    struct reg_response *resp;
    struct reg_sink *sink;
    size_t max_body;
    struct kiln_error *err;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    /* upload body */
    const char *mem;
    size_t mem_len, mem_pos;
    int fd;
    uint64_t fd_off, fd_size, fd_pos;
    /* upload progress */
    struct reg_client *client;
    const char *progress_digest;
    uint64_t progress_total;
    curl_off_t last_reported;
};

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

void reg_response_release(struct reg_response *r)
{
    free(r->content_type);
    free(r->docker_digest);
    free(r->location);
    free(r->www_auth);
    free(r->content_range);
    strbuf_release(&r->body);
    memset(r, 0, sizeof(*r));
}

/* ---- curl callbacks ------------------------------------------------------ */

static void set_header(char **slot, const char *v, size_t n)
{
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    free(*slot);
    *slot = xstrndup(v, n);
}

static size_t on_header(char *buf, size_t size, size_t n, void *ctx)
{
    struct xfer *x = ctx;
    struct reg_response *r = x->resp;
    size_t len = size * n;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* A new response (after a redirect or 100-continue): forget the last. */
        free(r->content_type), r->content_type = NULL;
        free(r->docker_digest), r->docker_digest = NULL;
        free(r->location), r->location = NULL;
        free(r->www_auth), r->www_auth = NULL;
        free(r->content_range), r->content_range = NULL;
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (colon == NULL)
        return len;
    size_t klen = (size_t)(colon - buf);
    const char *v = colon + 1;
    while (v < buf + len && (*v == ' ' || *v == '\t'))
        v++;
    size_t vlen = (size_t)(buf + len - v);
    static const struct {
        const char *name;
        size_t off;
    } known[] = {
        {"content-type", offsetof(struct reg_response, content_type)},
        {"docker-content-digest", offsetof(struct reg_response, docker_digest)},
        {"location", offsetof(struct reg_response, location)},
        {"www-authenticate", offsetof(struct reg_response, www_auth)},
        {"content-range", offsetof(struct reg_response, content_range)},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strlen(known[i].name) == klen && strncasecmp(buf, known[i].name, klen) == 0) {
            char **slot = (char **)((char *)r + known[i].off);
            /* Keep the first WWW-Authenticate (registries send one). */
            if (known[i].off == offsetof(struct reg_response, www_auth) && *slot != NULL)
                break;
            set_header(slot, v, vlen);
        }
    }
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ctx)
{
    struct xfer *x = ctx;
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    /* Error answers are read into resp->body, never into the caller's sink. */
    if (x->sink != NULL && status >= 200 && status < 300) {
        if (x->sink->write(x->sink->ctx, buf, len, &x->err) < 0)
            return 0; /* aborts with CURLE_WRITE_ERROR */
        return len;
    }
    size_t max = x->sink != NULL ? (64 << 10) : x->max_body;
    if (x->resp->body.len + len > max) {
        kiln_error_set(&x->err, KILN_E_INVALID, "registry answer is larger than %zu bytes", max);
        return 0;
    }
    strbuf_add(&x->resp->body, buf, len);
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ctx)
{
    struct xfer *x = ctx;
    size_t want = size * n;
    if (x->fd > 0) {
        uint64_t left = x->fd_size - x->fd_pos;
        if (want > left)
            want = (size_t)left;
        if (want == 0)
            return 0;
        ssize_t got;
        do
            got = pread(x->fd, buf, want, (off_t)(x->fd_off + x->fd_pos));
        while (got < 0 && errno == EINTR);
        if (got <= 0) {
            kiln_error_errno(&x->err, got < 0 ? errno : EIO, "read blob for upload");
            return CURL_READFUNC_ABORT;
        }
        x->fd_pos += (uint64_t)got;
        return (size_t)got;
    }
    size_t left = x->mem_len - x->mem_pos;
    if (want > left)
        want = left;
    memcpy(buf, x->mem + x->mem_pos, want);
    x->mem_pos += want;
    return want;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal;
    struct xfer *x = ctx;
    if (x->progress_digest != NULL && ulnow - x->last_reported >= (1 << 20)) {
        x->last_reported = ulnow;
        reg_progress(x->client, REGISTRY_EV_BLOB_BYTES, x->progress_digest,
                     x->fd_off + (uint64_t)ulnow, x->progress_total, NULL);
    }
    return 0;
}

/* ---- handles ------------------------------------------------------------- */

#define REG_BUFFER_SIZE (512L << 10)

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

static void setup_tls(struct reg_client *c, CURL *e)
{
    if (c->opts.tls_no_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->ca_pem != NULL) {
        struct curl_blob blob = {c->ca_pem, c->ca_len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (c->client_cert != NULL) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, c->client_cert);
        curl_easy_setopt(e, CURLOPT_SSLKEY, c->client_key);
    }
}

static CURL *easy_base(struct reg_client *c, const char *url, struct xfer *x)
{
    CURL *e = curl_easy_init();
    if (e == NULL)
        abort();
    x->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_SHARE, c->share);
    curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* Blobs are large: fewer, bigger reads and writes per transfer. */
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, REG_BUFFER_SIZE);
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, REG_BUFFER_SIZE);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    setup_tls(c, e);
    return e;
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
static int attach_auth(struct reg_client *c, CURL *e, const char *url, const char *scope,
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

CURL *reg_easy_new(struct reg_client *c, const char *url, const char *scope,
                   struct reg_response *resp, struct reg_sink *sink, struct kiln_error **err)
{
    struct xfer *x = xcalloc(1, sizeof(*x));
    x->resp = resp;
    x->sink = sink;
    x->max_body = 4 << 20;
    x->client = c;
    cleanup_free char *abs = reg_url(c, url);
    CURL *e = easy_base(c, abs, x);
    if (attach_auth(c, e, abs, scope, err) < 0) {
        reg_easy_free(e);
        return NULL;
    }
    return e;
}

void reg_easy_free(CURL *e)
{
    if (e == NULL)
        return;
    struct xfer *x = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
    curl_easy_cleanup(e);
    if (x != NULL) {
        curl_slist_free_all(x->headers);
        kiln_error_free(x->err);
        free(x);
    }
}

struct kiln_error *reg_easy_take_error(CURL *e)
{
    struct xfer *x = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
    return x ? steal_pointer(&x->err) : NULL;
}

const char *reg_easy_errbuf(CURL *e)
{
    struct xfer *x = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
    return x ? x->errbuf : "";
}

/* ---- errors and retries -------------------------------------------------- */

int reg_retryable(CURLcode rc, long status)
{
    switch (rc) {
    case CURLE_OK:
        return status >= 500 || status == 429;
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

void reg_backoff(int attempt)
{
    long ms = 250L << (attempt < 5 ? attempt : 5);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int reg_curl_error(struct reg_client *c, CURLcode rc, const char *errbuf, const char *what,
                   struct kiln_error **err)
{
    const char *detail = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc);
    const char *sep = what ? ": " : "";
    what = what ? what : "";
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        return kiln_error_set(err, KILN_E_NET, "%s%scannot connect to registry %s (is it running?)",
                              what, sep, c->host);
    case CURLE_COULDNT_RESOLVE_HOST:
        return kiln_error_set(err, KILN_E_NET, "%s%scannot resolve registry host %s", what, sep,
                              c->host);
    case CURLE_PEER_FAILED_VERIFICATION:
        return kiln_error_set(err, KILN_E_NET,
                              "%s%sTLS certificate of %s is not trusted (%s); pass --cert-dir "
                              "with its CA, or --tls-verify=false",
                              what, sep, c->host, detail);
    case CURLE_OPERATION_TIMEDOUT:
        return kiln_error_set(err, KILN_E_NET, "%s%sregistry %s timed out", what, sep, c->host);
    default:
        return kiln_error_set(err, KILN_E_NET, "%s%stalking to registry %s failed: %s", what, sep,
                              c->host, detail);
    }
}

/* The registry's own error code ("MANIFEST_UNKNOWN") from a JSON body. */
static char *registry_error_text(const struct reg_response *r)
{
    json_error_t je;
    json_t *j = r->body.len ? json_loadb(r->body.buf, r->body.len, 0, &je) : NULL;
    json_t *first = json_array_get(json_object_get(j, "errors"), 0);
    const char *code = json_string_value(json_object_get(first, "code"));
    const char *msg = json_string_value(json_object_get(first, "message"));
    char *out = NULL;
    if (code != NULL)
        out = xasprintf(" (%s%s%.200s)", code, msg ? ": " : "", msg ? msg : "");
    json_decref(j);
    return out ? out : xstrdup("");
}

int reg_status_error(struct reg_client *c, const struct reg_response *r, const char *what,
                     struct kiln_error **err)
{
    cleanup_free char *why = registry_error_text(r);
    switch (r->status) {
    case 401:
        if (c->user == NULL)
            return kiln_error_set(err, KILN_E_AUTH,
                                  "%s: registry %s requires authentication; run 'kiln login %s'",
                                  what, c->host, c->cred_name);
        if (c->chal.scheme == AUTH_BASIC)
            return kiln_error_set(err, KILN_E_AUTH,
                                  "%s: registry %s refused the login of %s: wrong username or "
                                  "password",
                                  what, c->host, c->user);
        return kiln_error_set(err, KILN_E_AUTH,
                              "%s: registry %s refused the access token it was given (expired or "
                              "not valid for this repository)%s",
                              what, c->host, why);
    case 403:
        return kiln_error_set(err, KILN_E_AUTH, "%s: access denied by registry %s%s", what, c->host,
                              why);
    case 404:
        return kiln_error_set(err, KILN_E_NOTFOUND, "%s: not found on registry %s%s", what, c->host,
                              why);
    default:
        return kiln_error_set(err, KILN_E_NET, "%s: registry %s answered HTTP %ld%s", what, c->host,
                              r->status, why);
    }
}

/* ---- ping and tokens ----------------------------------------------------- */

static CURLcode perform_simple(struct reg_client *c, const char *url, const char *user,
                               const char *password, struct reg_response *resp, long *status,
                               char *errbuf)
{
    struct xfer x = {.resp = resp, .max_body = 1 << 20, .client = c};
    CURL *e = easy_base(c, url, &x);
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

/* ---- requests ------------------------------------------------------------ */

static void apply_request(CURL *e, struct xfer *x, const struct reg_request *rq)
{
    const char *m = rq->method;
    int has_body = rq->body != NULL || rq->body_fd > 0;
    if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(m, "GET") != 0) {
        if (has_body) {
            x->mem = rq->body;
            x->mem_len = rq->body_len;
            x->fd = rq->body_fd;
            x->fd_off = rq->body_off;
            x->fd_size = rq->body_size;
            curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(e, CURLOPT_READDATA, x);
            curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
                             (curl_off_t)(rq->body_fd > 0 ? rq->body_size : rq->body_len));
        } else if (strcmp(m, "POST") == 0) {
            curl_easy_setopt(e, CURLOPT_POST, 1L);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        } else {
            curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(e, CURLOPT_READDATA, x);
            curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
        }
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    }
    struct curl_slist *h = NULL;
    cleanup_free char *accept = rq->accept ? xasprintf("Accept: %s", rq->accept) : NULL;
    cleanup_free char *ctype =
        rq->content_type ? xasprintf("Content-Type: %s", rq->content_type) : NULL;
    cleanup_free char *range = rq->range ? xasprintf("Range: %s", rq->range) : NULL;
    cleanup_free char *crange =
        rq->content_range ? xasprintf("Content-Range: %s", rq->content_range) : NULL;
    if (accept)
        h = curl_slist_append(h, accept);
    if (ctype)
        h = curl_slist_append(h, ctype);
    else if (has_body)
        h = curl_slist_append(h, "Content-Type: application/octet-stream");
    if (range)
        h = curl_slist_append(h, range);
    if (crange)
        h = curl_slist_append(h, crange);
    h = curl_slist_append(h, "Expect:");
    x->headers = h;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    if (rq->progress_digest != NULL) {
        x->progress_digest = rq->progress_digest;
        x->progress_total = rq->body_size;
        curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
    }
}

/* Resolves a Location header against the URL that produced it. */
static void absolutize_location(CURL *e, struct reg_response *resp)
{
    if (resp->location == NULL)
        return;
    char *eff = NULL;
    curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &eff);
    CURLU *u = curl_url();
    char *out = NULL;
    if (eff != NULL && curl_url_set(u, CURLUPART_URL, eff, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, resp->location, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK) {
        free(resp->location);
        resp->location = xstrdup(out);
    }
    curl_free(out);
    curl_url_cleanup(u);
}

int reg_do(struct reg_client *c, const struct reg_request *rq, struct reg_response *resp,
           struct kiln_error **err)
{
    if (reg_client_ping(c, 0, err) < 0)
        return -1;
    int reauthed = 0;
    for (int attempt = 0;;) {
        reg_response_release(resp);
        strbuf_init(&resp->body);
        CURL *e = reg_easy_new(c, rq->url, rq->scope, resp, rq->sink, err);
        if (e == NULL)
            return -1;
        struct xfer *x = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
        if (rq->max_body)
            x->max_body = rq->max_body;
        apply_request(e, x, rq);
        CURLcode rc = curl_easy_perform(e);
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        resp->status = status;
        absolutize_location(e, resp);
        if (rc == CURLE_OK && status == 401 && !reauthed && c->chal.scheme != AUTH_NONE) {
            reauthed = 1;
            reg_client_auth_failed(c, rq->scope, resp->www_auth);
            reg_easy_free(e);
            continue;
        }
        if (attempt < REG_MAX_RETRIES && !rq->no_retry && reg_retryable(rc, status) &&
            x->err == NULL) {
            char msg[160];
            snprintf(msg, sizeof(msg), "%s %s: %s, retrying", rq->method, rq->url,
                     rc != CURLE_OK ? curl_easy_strerror(rc) : "server error");
            reg_progress(c, REGISTRY_EV_RETRY, rq->progress_digest, 0, 0, msg);
            reg_easy_free(e);
            reg_backoff(attempt++);
            continue;
        }
        int ret = 0;
        if (x->err != NULL) {
            if (err != NULL && *err == NULL)
                *err = steal_pointer(&x->err);
            ret = -1;
        } else if (rc != CURLE_OK) {
            ret = reg_curl_error(c, rc, x->errbuf, rq->url, err);
        }
        reg_easy_free(e);
        return ret;
    }
}
