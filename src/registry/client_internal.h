/* What client.c (the connection: lifecycle, TLS files, ping, tokens),
 * xfer.c (curl handles and requests) and errors.c share inside
 * src/registry/. Not a contract for anyone else: see client.h. */
#ifndef KILN_REGISTRY_CLIENT_INTERNAL_H
#define KILN_REGISTRY_CLIENT_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>

#include "registry/auth.h"
#include "registry/client.h"

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

/* A handle for url with kiln's options, callbacks into x and the client's
 * TLS settings; no credentials. */
CURL *reg_easy_base(struct reg_client *c, const char *url, struct xfer *x);

/* Credentials for a request to url on handle e: only if url is on this
 * registry (Basic, or a Bearer token for scope, fetched when not cached). */
int reg_attach_auth(struct reg_client *c, CURL *e, const char *url, const char *scope,
                    struct kiln_error **err);

#endif
