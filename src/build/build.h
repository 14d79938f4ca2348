/* kiln build: execute a Dockerfile into an image in the store. Stages the
 * target needs run in dependency order (independent ones in parallel, up to
 * jobs); every RUN/COPY/ADD step is looked up in the build cache first. The
 * image is written to the store but not tagged: the caller tags it. */
#ifndef KILN_BUILD_BUILD_H
#define KILN_BUILD_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "build/progress.h"
#include "registry/registry.h"
#include "store/store.h"
#include "util/error.h"
#include "util/platform.h"

enum build_pull { BUILD_PULL_MISSING = 0, BUILD_PULL_NEVER, BUILD_PULL_ALWAYS };

struct build_secret {
    const char *id;
    const char *src; /* host file */
};

struct build_ssh {
    const char *id;     /* "default" unless named */
    const char *socket; /* host path of the agent's socket */
};

struct build_opts {
    struct store *store;
    const char *context_dir;       /* a directory (a tar on stdin is unpacked first) */
    const char *dockerfile;        /* path; NULL = CONTEXT/Dockerfile */
    const char *target;            /* stage name or index; NULL = the last */
    const char *const *build_args; /* "K=V" */
    size_t n_build_args;
    const char *const *labels; /* "K=V", added to the final image */
    size_t n_labels;
    const struct build_secret *secrets;
    size_t n_secrets;
    const struct build_ssh *ssh;
    size_t n_ssh;
    int no_cache;
    const char *const *cache_from; /* --cache-from specs (build/cache_io.h), tried in order */
    size_t n_cache_from;
    const char *const *cache_to; /* --cache-to specs */
    size_t n_cache_to;
    enum build_pull pull;
    const struct registry_opts *registry; /* TLS, certs, credentials for pulls; NULL = defaults
                                             (its progress callback is not used) */
    int network_none;        /* default network of RUN steps: 0 host, 1 none, 2 private */
    int jobs;                /* stages at once; <= 0: number of CPUs */
    struct build_pool *pool; /* the jobs, shared with builds running at once
                                (build_run_platforms); NULL: the build's own */
    int64_t epoch;
    const struct platform *platform; /* the target platform; NULL: this machine's */
    int label_platform;              /* progress names the platform ("[linux/arm64 app 2/5]") */
    /* Called once the platforms and base images are checked (ok 1) or not
     * (0), before any step; -1 stops this build (another failed its check).
     * NULL: none. */
    int (*checked)(void *ctx, int ok);
    void *checked_ctx;
    struct progress *progress; /* required */
};

struct build_result {
    struct descriptor manifest; /* the image manifest written */
    struct digest config;       /* the image id */
    uint64_t size;              /* config + layer blobs */
};

int build_run(const struct build_opts *o, struct build_result *out, struct kiln_error **err);
/* The build for each of plats (o->platform is ignored): one platform gives
 * that platform's image; several build at once (o->jobs shared among them,
 * progress naming the platform) and give an OCI image index (out->manifest,
 * out->config its digest too) listing each image with its platform. The
 * first failure is returned, prefixed with its platform. */
int build_run_platforms(const struct build_opts *o, const struct platform *plats, size_t n,
                        struct build_result *out, struct kiln_error **err);
void build_result_release(struct build_result *r);

/* --jobs N steps at once (<= 0: the number of CPUs), for builds that run at
 * once and must not run more together. */
struct build_pool;
struct build_pool *build_pool_new(int jobs);
void build_pool_free(struct build_pool *p);

/* For `kiln prune`: adds every blob the build cache refers to. */
struct digest_set;
int build_cache_add_roots(void *ctx, struct store *s, struct digest_set *roots,
                          struct kiln_error **err);

#endif
