/* kiln build --platform A,B: the Dockerfile built once per platform, at
 * once (drawing on one pool of --jobs; a cache mount they share is one
 * directory, the later users getting views of it: build/cache.h), then an
 * OCI image index listing each image with its platform, in the order given. Steps the platforms
 * share (a FROM --platform=$BUILDPLATFORM stage that uses no TARGET* arg)
 * have one cache key: the cache decides what runs once. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/build.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

/* Every platform's checks pass before any of them runs a step. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t n, arrived;
    int failed;
};

static int gate_wait(void *ctx, int ok)
{
    struct gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    if (!ok)
        g->failed = 1;
    if (++g->arrived == g->n)
        pthread_cond_broadcast(&g->cv);
    while (g->arrived < g->n)
        pthread_cond_wait(&g->cv, &g->mu);
    int rc = g->failed ? -1 : 0;
    pthread_mutex_unlock(&g->mu);
    return rc;
}

struct plat_job {
    struct build_opts o;
    struct build_result res;
    struct kiln_error *err;
    int rc;
    int *cancel;
};

static void *plat_thread(void *arg)
{
    struct plat_job *j = arg;
    j->rc = build_run(&j->o, &j->res, &j->err);
    char ps[PLATFORM_STR_MAX];
    platform_format(j->o.platform, ps);
    if (j->rc < 0 && j->err != NULL && strstr(j->err->msg, ps) == NULL)
        kiln_error_prefix(&j->err, "%s", ps);
    return NULL;
}

int build_run_platforms(const struct build_opts *o, const struct platform *plats, size_t n,
                        struct build_result *out, struct kiln_error **err)
{
    memset(out, 0, sizeof(*out));
    if (n == 1) {
        struct build_opts one = *o;
        one.platform = &plats[0];
        return build_run(&one, out, err);
    }
    struct build_pool *pool = build_pool_new(o->jobs);
    struct plat_job *pj = xcalloc(n, sizeof(*pj));
    pthread_t *th = xcalloc(n, sizeof(*th));
    int *started = xcalloc(n, sizeof(int));
    struct gate gate = {.n = n};
    pthread_mutex_init(&gate.mu, NULL);
    pthread_cond_init(&gate.cv, NULL);
    for (size_t i = 0; i < n; i++) {
        pj[i].o = *o;
        pj[i].o.checked = gate_wait;
        pj[i].o.checked_ctx = &gate;
        pj[i].o.platform = &plats[i];
        pj[i].o.label_platform = 1;
        /* one pool of --jobs: a platform whose steps are done (the native one,
         * often far ahead of an emulated one) leaves its jobs to the others */
        pj[i].o.pool = pool;
        started[i] = pthread_create(&th[i], NULL, plat_thread, &pj[i]) == 0;
        if (!started[i]) {
            pj[i].rc = kiln_error_set(&pj[i].err, KILN_E_FAIL, "cannot start a thread");
            gate_wait(&gate, 0);
        }
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (started[i])
            pthread_join(th[i], NULL);
    pthread_mutex_destroy(&gate.mu);
    pthread_cond_destroy(&gate.cv);
    build_pool_free(pool);
    /* the first real failure (not a platform stopped because of another's) */
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (pj[i].rc == 0 || pj[i].err == NULL ||
                (pass == 0 && strstr(pj[i].err->msg, "cancelled") != NULL))
                continue;
            rc = -1;
            *err = pj[i].err;
            pj[i].err = NULL;
        }
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        if (pj[i].rc < 0)
            rc = kiln_error_set(err, KILN_E_FAIL, "the build failed");
    if (rc == 0) {
        struct descriptor *m = xcalloc(n, sizeof(*m));
        for (size_t i = 0; i < n; i++)
            m[i] = pj[i].res.manifest;
        rc = store_image_index_write(o->store, m, plats, n, &out->manifest, err);
        free(m);
    }
    if (rc == 0) {
        out->config = out->manifest.digest; /* the id of a multi-platform image */
        for (size_t i = 0; i < n; i++)
            out->size += pj[i].res.size;
    }
    for (size_t i = 0; i < n; i++) {
        kiln_error_free(pj[i].err);
        if (pj[i].rc == 0)
            build_result_release(&pj[i].res);
    }
    free(pj);
    free(th);
    free(started);
    return rc;
}
