/* A connection to one registry host over libcurl: scheme choice (HTTPS, HTTP
 * only for localhost or when TLS checks are off), TLS options, the /v2/ ping
 * that learns the auth scheme, credentials, bearer tokens per scope, retries
 * with backoff on 5xx and dropped connections. Credentials are only ever
 * attached to requests for this host (not to redirects or other hosts). */
#ifndef KILN_REGISTRY_CLIENT_H
#define KILN_REGISTRY_CLIENT_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"
#include "util/strbuf.h"

struct reg_client;

/* host is host[:port] as used in URLs ("registry-1.docker.io"); cred_name is
 * the name credentials are stored under ("docker.io"). Loads credentials. */
int reg_client_new(const char *host, const char *cred_name, const struct registry_opts *opts,
                   struct reg_client **out, struct kiln_error **err);
/* A client for another thread that shares c's bearer tokens (one fetch per
 * scope for all of them) and what c's ping learned (pinged here first), with
 * opts of its own. c must outlive it. */
int reg_client_clone(struct reg_client *c, const struct registry_opts *opts,
                     struct reg_client **out, struct kiln_error **err);
void reg_client_free(struct reg_client *c);
const char *reg_client_host(const struct reg_client *c);
/* Overrides the stored credentials (kiln login checks new ones). */
void reg_client_set_credentials(struct reg_client *c, const char *user, const char *password);

/* GET /v2/: picks the scheme and learns the auth challenge; then, when the
 * registry wants auth, fetches a token without scope (login check). */
int reg_client_ping(struct reg_client *c, int check_credentials, struct kiln_error **err);

struct reg_response {
    long status;
    char *content_type;
    char *docker_digest;
    char *location; /* absolute */
    char *www_auth;
    char *content_range;
    struct strbuf body; /* when no sink was given */
};
void reg_response_release(struct reg_response *r);

/* Where a response body goes: a callback (returns 0, or -1 with *err set to
 * abort the transfer). */
struct reg_sink {
    int (*write)(void *ctx, const void *buf, size_t len, struct kiln_error **err);
    void *ctx;
};

struct reg_request {
    const char *method; /* GET HEAD PUT POST PATCH DELETE */
    const char *url;    /* "/v2/..." relative to the registry, or absolute */
    const char *scope;  /* token scope, "repository:NAME:pull" */
    const char *accept;
    const char *content_type;
    const char *range; /* "bytes=N-" or NULL */
    const void *body;  /* in-memory body, or NULL */
    size_t body_len;
    int body_fd; /* > 0: send body_size bytes of body_fd from body_off */
    uint64_t body_off, body_size;
    const char *content_range; /* PATCH chunks: "N-M" */
    struct reg_sink *sink;     /* NULL: into resp->body, at most max_body bytes */
    size_t max_body;
    const char *progress_digest; /* report BLOB_BYTES for this digest (uploads) */
    int no_retry;                /* the body sink cannot be replayed */
};

/* One request with auth (token for scope, re-fetched once on 401) and
 * retries. Any HTTP status is success here; the caller judges it. */
int reg_do(struct reg_client *c, const struct reg_request *rq, struct reg_response *resp,
           struct kiln_error **err);

/* For transfers the caller drives itself (curl multi): an easy handle set up
 * with TLS options, the URL and this client's credentials for scope. Header
 * data lands in resp; body in sink. Free with reg_easy_free(). */
CURL *reg_easy_new(struct reg_client *c, const char *url, const char *scope,
                   struct reg_response *resp, struct reg_sink *sink, struct kiln_error **err);
void reg_easy_free(CURL *e);
/* The error a handle's sink or reader set (caller frees), or NULL. */
struct kiln_error *reg_easy_take_error(CURL *e);
/* curl's error text for the handle's last transfer. */
const char *reg_easy_errbuf(CURL *e);
/* After a 401 from a handle: learn the new challenge and drop the token. */
void reg_client_auth_failed(struct reg_client *c, const char *scope, const char *www_auth);
/* Whether a curl result / HTTP status is worth retrying. */
int reg_retryable(CURLcode rc, long status);
/* One-line error for a failed curl transfer / an HTTP error answer. what
 * names the object ("manifest 127.0.0.1:5000/x:1"). Return -1. */
int reg_curl_error(struct reg_client *c, CURLcode rc, const char *errbuf, const char *what,
                   struct kiln_error **err);
int reg_status_error(struct reg_client *c, const struct reg_response *r, const char *what,
                     struct kiln_error **err);
/* Sleep before retry number attempt (0-based): 250 ms, 500 ms, 1 s, ... */
void reg_backoff(int attempt);
/* Reports a progress event through opts (if a callback is set). */
void reg_progress(struct reg_client *c, enum registry_event ev, const char *digest, uint64_t done,
                  uint64_t total, const char *message);
/* Absolute URL for a registry path; allocated. */
char *reg_url(struct reg_client *c, const char *path);

#define REG_MAX_RETRIES 3

#endif
