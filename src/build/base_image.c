/* The images FROM and COPY --from name: loaded from the store, pulled from
 * their registry when --pull says so (missing: when the store lacks them;
 * always: once per build, even when the store has them; never: not at all). */
#include <stdlib.h>
#include <string.h>

#include "build/internal.h"
#include "registry/registry.h"
#include "store/reference.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

/* Registry events as build progress lines: what was resolved, each blob
 * that arrived, retries and warnings (no byte counts). */
static void pull_progress(void *ctx, const struct registry_progress *p)
{
    struct build_ctx *b = ctx;
    const char *hex = p->digest ? p->digest + strlen("sha256:") : "";
    switch (p->event) {
    case REGISTRY_EV_RESOLVED:
        progress_message(b->o->progress, "=> resolved %s", p->digest);
        break;
    case REGISTRY_EV_BLOB_DONE:
        progress_message(b->o->progress, "=> %.12s pulled (%llu bytes)", hex,
                         (unsigned long long)p->total);
        break;
    case REGISTRY_EV_RETRY:
    case REGISTRY_EV_WARNING:
        progress_message(b->o->progress, "warning: %s", p->message);
        break;
    default:
        break;
    }
}

/* The normalized name when ref is a registry reference; NULL for what only
 * the store can resolve (image ids, digests). */
static char *pullable(const char *ref)
{
    struct reference r;
    cleanup_error struct kiln_error *err = NULL;
    if (reference_parse(ref, &r, &err) < 0)
        return NULL;
    char *n = reference_normalized(&r);
    reference_release(&r);
    return n;
}

static int pulled_before(struct build_ctx *b, const char *name, const struct platform *plat)
{
    char ps[PLATFORM_STR_MAX];
    cleanup_free char *k = xasprintf("%s@%s", name, platform_format(plat, ps));
    for (size_t i = 0; i < b->n_pulled; i++)
        if (strcmp(b->pulled[i], k) == 0)
            return 1;
    return 0;
}

static int pull(struct build_ctx *b, const char *ref, char *name, const struct platform *plat,
                struct kiln_error **err)
{
    struct registry_opts ro = {0};
    if (b->o->registry != NULL)
        ro = *b->o->registry;
    /* the index is kept (tagged), holding the platforms fetched so far */
    char ps[PLATFORM_STR_MAX];
    ro.platform = platform_format(plat, ps);
    ro.keep_index = 1;
    ro.all_platforms = 0;
    ro.progress = pull_progress;
    ro.progress_ctx = b;
    progress_message(b->o->progress, "=> pulling %s", ref);
    struct registry_pull_result r = {0};
    if (registry_pull(b->store, ref, &ro, &r, err) < 0)
        return -1;
    progress_message(b->o->progress, "=> pulled %s %s", r.name, r.manifest_digest);
    registry_pull_result_release(&r);
    b->pulled = xrealloc(b->pulled, (b->n_pulled + 1) * sizeof(char *));
    b->pulled[b->n_pulled++] = xasprintf("%s@%s", name, ps);
    return 0;
}

static int load_locked(struct build_ctx *b, const char *ref, const struct platform *plat,
                       struct image **out, struct kiln_error **err)
{
    cleanup_free char *name = pullable(ref);
    enum build_pull policy = b->o->pull;
    if (name == NULL || pulled_before(b, name, plat))
        policy = BUILD_PULL_NEVER;
    if (policy == BUILD_PULL_ALWAYS && pull(b, ref, name, plat, err) < 0)
        return -1;
    if (store_image_load_platform(b->store, ref, plat, out, err) == 0)
        return 0;
    /* An image in the store without this platform is not missing: only
     * --pull=always asks its registry again. */
    if ((*err)->code != KILN_E_NOTFOUND || policy == BUILD_PULL_ALWAYS)
        return -1;
    if (policy == BUILD_PULL_NEVER) {
        if (name == NULL || b->o->pull != BUILD_PULL_NEVER)
            return -1;
        kiln_error_freep(err);
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "image \"%s\" is not in the store and --pull=never; pull, load or "
                              "import it first",
                              ref);
    }
    kiln_error_freep(err);
    if (pull(b, ref, name, plat, err) < 0)
        return -1;
    return store_image_load_platform(b->store, ref, plat, out, err);
}

int build_load_image(struct build_ctx *b, const char *ref, const struct platform *plat,
                     struct image **out, struct kiln_error **err)
{
    pthread_mutex_lock(&b->mu);
    int rc = load_locked(b, ref, plat, out, err);
    pthread_mutex_unlock(&b->mu);
    return rc;
}

void build_pulled_release(struct build_ctx *b)
{
    for (size_t i = 0; i < b->n_pulled; i++)
        free(b->pulled[i]);
    free(b->pulled);
    b->pulled = NULL;
    b->n_pulled = 0;
}
