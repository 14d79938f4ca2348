/* Registry requests: curl handles with kiln's options and callbacks, and
 * reg_do (ping, credentials, one re-authentication, retries). See client.h. */
#include "registry/client.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "registry/client_internal.h"
#include "util/cleanup.h"

#define USER_AGENT "kiln/0.1.0"

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

CURL *reg_easy_base(struct reg_client *c, const char *url, struct xfer *x)
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

CURL *reg_easy_new(struct reg_client *c, const char *url, const char *scope,
                   struct reg_response *resp, struct reg_sink *sink, struct kiln_error **err)
{
    struct xfer *x = xcalloc(1, sizeof(*x));
    x->resp = resp;
    x->sink = sink;
    x->max_body = 4 << 20;
    x->client = c;
    cleanup_free char *abs = reg_url(c, url);
    CURL *e = reg_easy_base(c, abs, x);
    if (reg_attach_auth(c, e, abs, scope, err) < 0) {
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
