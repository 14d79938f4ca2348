/* The images FROM and COPY --from name: loaded from the store, pulled from
 * their registry when --pull says so (missing: when the store lacks them;
 * always: once per build, even when the store has them; never: not at all).
 * A reference pinned by digest (name:tag@sha256:...) is checked before any
 * step runs: the store's name:tag must be that manifest when the store lacks it. */
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

/* One pinned reference: 0 when it is not pinned, when the store has the
 * pinned manifest, or when the store does not have name:tag at all (then it
 * is pulled by digest as usual); -1 when the store's name:tag is another
 * manifest. `what` says where the reference was written. */
static int check_pin(struct build_ctx *b, const char *ref, const char *what,
                     struct kiln_error **err)
{
    struct reference r;
    cleanup_error struct kiln_error *perr = NULL;
    if (reference_parse(ref, &r, &perr) < 0)
        return 0; /* not a reference: the load says what is wrong with it */
    int rc = 0;
    if (r.has_digest && r.tag != NULL && !store_blob_has(b->store, &r.digest) &&
        b->o->pull != BUILD_PULL_ALWAYS) {
        struct digest pinned = r.digest;
        r.has_digest = 0;
        cleanup_free char *name = reference_familiar(&r);
        struct descriptor have;
        cleanup_error struct kiln_error *terr = NULL;
        if (store_resolve_tag(b->store, name, &have, &terr) == 0) {
            char ps[DIGEST_STR_LEN + 1], hs[DIGEST_STR_LEN + 1];
            digest_str(&pinned, ps);
            digest_str(&have.digest, hs);
            rc = kiln_error_set(err, KILN_E_INVALID,
                                "%s: the image is pinned to %s but the store's %s is %s; "
                                "refresh the pin (the command that records it, e.g. make "
                                "ml-base for dataenv/) or get the pinned image (kiln pull "
                                "%s@%s)",
                                what, ps, name, hs, name, ps);
            descriptor_release(&have);
        }
    }
    reference_release(&r);
    return rc;
}

int build_check_pins(struct build_ctx *b, struct kiln_error **err)
{
    for (size_t o = 0; o < b->g->n_order; o++) {
        size_t i = b->g->order[o];
        const struct df_graph_stage *gs = &b->g->stages[i];
        const struct df_stage *st = &b->df->stages[i];
        if (gs->base.kind == DF_REF_IMAGE) {
            cleanup_free char *what = xasprintf("%s:%d: FROM %s", b->df->file,
                                                st->from ? st->from->pos.line : 0, gs->base.image);
            if (check_pin(b, gs->base.image, what, err) < 0)
                return -1;
        }
        for (size_t k = 0; k < gs->n_images; k++) {
            cleanup_free char *what =
                xasprintf("%s: stage %zu: COPY --from=%s", b->df->file, i, gs->images[k]);
            if (check_pin(b, gs->images[k], what, err) < 0)
                return -1;
        }
    }
    return 0;
}
