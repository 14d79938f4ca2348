/* kiln's OCI distribution client: pull images from a registry into the store
 * and push images from the store to a registry, plus login/logout (credentials
 * in ~/.docker/config.json). Everything pulled is verified (size and digest
 * against its descriptor) before it enters the store. Library code never
 * prints: progress and warnings go through the callback in registry_opts. */
#ifndef KILN_REGISTRY_REGISTRY_H
#define KILN_REGISTRY_REGISTRY_H

#include <stdint.h>

#include "util/error.h"

struct store;

enum registry_event {
    REGISTRY_EV_RESOLVED,     /* manifest resolved: digest = manifest digest */
    REGISTRY_EV_BLOB_START,   /* a blob transfer starts: total = size */
    REGISTRY_EV_BLOB_BYTES,   /* bytes moved so far: done/total */
    REGISTRY_EV_BLOB_DONE,    /* a blob is verified and stored (pull) or uploaded (push) */
    REGISTRY_EV_BLOB_EXISTS,  /* already present (store on pull, registry on push) */
    REGISTRY_EV_BLOB_MOUNTED, /* push: mounted from another repository on the registry */
    REGISTRY_EV_RETRY,        /* a transfer is retried: message says why */
    REGISTRY_EV_WARNING,      /* something the user should know: message */
};

struct registry_progress {
    enum registry_event event;
    const char *digest;  /* "sha256:..." of the blob or manifest, or NULL */
    uint64_t done;       /* bytes so far (BLOB_BYTES, BLOB_DONE) */
    uint64_t total;      /* expected size in bytes */
    const char *message; /* RETRY / WARNING text, else NULL */
};

typedef void (*registry_progress_fn)(void *ctx, const struct registry_progress *p);

/* All fields zero is the safe default: TLS verified, HTTPS except for
 * localhost/127.0.0.1, the host's platform, ~/.docker/config.json. */
struct registry_opts {
    const char *platform;  /* "os/arch[/variant]" for indexes; NULL = the host's */
    int all_platforms;     /* pull: keep an index and every image it lists */
    int keep_index;        /* pull: tag the index, fetching only platform's image (an index
                              in the store may be partial; builds for several platforms) */
    int tls_no_verify;     /* 1 = --tls-verify=false: skip certificate checks and allow HTTP */
    const char *cert_dir;  /* directory of *.crt CAs (and client.cert/client.key); NULL = none */
    const char *auth_file; /* credentials file; NULL = $DOCKER_CONFIG/config.json or
                              ~/.docker/config.json */
    registry_progress_fn progress; /* may be NULL */
    void *progress_ctx;
};

struct registry_pull_result {
    char *name; /* the canonical reference tagged in the store ("docker.io/library/debian:12") */
    char *manifest_digest; /* digest of what was tagged: the image manifest (a platform's, for
                              an index), or the index with all_platforms */
    char *index_digest;    /* digest of the index the reference named, or NULL */
    char *config_digest;   /* the image config; NULL when all_platforms kept an index */
};

void registry_pull_result_release(struct registry_pull_result *r);

/* Pulls ref (Docker defaults: "debian" = docker.io/library/debian:latest) into
 * the store and tags it with its canonical name. For an index, the manifest
 * for opts->platform is pulled, or with opts->all_platforms the index itself
 * and every image it lists. Blobs already in the store are not fetched. */
int registry_pull(struct store *store, const char *ref, const struct registry_opts *opts,
                  struct registry_pull_result *result, struct kiln_error **err);

/* Pushes the image local_ref names in the store to dest_ref (NULL = local_ref).
 * Layers are sent gzip-compressed; *digest (allocated) is the pushed manifest's.
 * A tag on an index pushes every image it lists (by digest), then the index
 * (rewritten only when an image had to be: uncompressed layers). */
int registry_push(struct store *store, const char *local_ref, const char *dest_ref,
                  const struct registry_opts *opts, char **digest, struct kiln_error **err);

/* Checks user/password against the registry (GET /v2/ with the registry's auth
 * scheme) and, when accepted, stores them in the credentials file (mode 0600).
 * registry is a host[:port] ("docker.io" for Docker Hub). */
int registry_login(const char *registry, const char *user, const char *password,
                   const struct registry_opts *opts, struct kiln_error **err);

/* Removes the registry's entry from the credentials file; KILN_E_NOTFOUND if
 * there was none. */
int registry_logout(const char *registry, const struct registry_opts *opts,
                    struct kiln_error **err);

#endif
