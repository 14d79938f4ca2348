/* registry_pull(): reference -> host(s) (mirrors first) -> manifest (platform
 * from an index) -> blobs -> store, tag last. */
#include <stdlib.h>
#include <string.h>

#include "registry/client.h"
#include "registry/manifest.h"
#include "registry/mirrors.h"
#include "registry/pull.h"
#include "registry/records.h"
#include "registry/referrers.h"
#include "registry/registry.h"
#include "store/reference.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

static int config_type_ok(const char *mt)
{
    return strcmp(mt, MT_OCI_CONFIG) == 0 || strcmp(mt, MT_DOCKER_CONFIG) == 0;
}

/* An image manifest fetched and checked: its bytes, digest and parse. */
struct fetched {
    char *body;
    size_t len;
    struct digest dg;
    struct manifest m;
};

static void fetched_release(struct fetched *f)
{
    free(f->body);
    if (f->m.kind != 0)
        manifest_release(&f->m);
    memset(f, 0, sizeof(*f));
}

/* Checks that an image manifest describes a container image kiln can unpack. */
static int image_check(const struct manifest *m, const char *what, struct kiln_error **err)
{
    if (!config_type_ok(m->config.media_type))
        return kiln_error_set(err, KILN_E_INVALID,
                              "%s is not a container image (its config is %.100s)", what,
                              m->config.media_type);
    for (size_t i = 0; i < m->n_layers; i++)
        if (layer_media_type_compression(m->layers[i].media_type) < 0)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "%s: layer %zu has a media type kiln cannot unpack (%.100s)",
                                  what, i, m->layers[i].media_type);
    return 0;
}

/* Fetches an index entry: it must be an image manifest. */
static int fetch_child(struct reg_client *c, const struct reference *ref,
                       const struct descriptor *want, const char *what, struct fetched *out,
                       struct kiln_error **err)
{
    char wstr[DIGEST_STR_LEN + 1];
    digest_str(&want->digest, wstr);
    cleanup_free char *ctype = NULL;
    if (pull_fetch_manifest(c, ref->path, wstr, want, what, &out->body, &out->len, &ctype, &out->dg,
                            err) < 0)
        return -1;
    if (manifest_parse(ctype, out->body, out->len, &out->m, err) < 0)
        return kiln_error_prefix(err, "%s", what);
    if (out->m.kind != MANIFEST_IMAGE)
        return kiln_error_set(err, KILN_E_INVALID,
                              "%s: index entry %s is itself an index; refusing it", what, wstr);
    return image_check(&out->m, what, err);
}

static int pull_one(struct reg_client *c, struct store *s, const struct reference *ref,
                    const struct registry_opts *opts, struct registry_pull_result *res,
                    struct kiln_error **err)
{
    cleanup_free char *familiar = reference_familiar(ref);
    cleanup_free char *what = xasprintf("image %s", familiar);
    char dstr[DIGEST_STR_LEN + 1];
    struct descriptor pinned = {0};
    const struct descriptor *expected = NULL;
    if (ref->has_digest) {
        pinned.digest = ref->digest;
        expected = &pinned;
    }
    const char *tag_or_digest = ref->has_digest ? digest_str(&ref->digest, dstr) : ref->tag;
    struct fetched top = {0};
    cleanup_free char *ctype = NULL;
    if (pull_fetch_manifest(c, ref->path, tag_or_digest, expected, what, &top.body, &top.len,
                            &ctype, &top.dg, err) < 0)
        return -1;
    if (manifest_parse(ctype, top.body, top.len, &top.m, err) < 0) {
        fetched_release(&top);
        return kiln_error_prefix(err, "%s", what);
    }
    /* The image manifests to store: the one named, one platform of an
     * index, or (all_platforms) every entry of the index. */
    size_t n = 1;
    struct fetched *imgs =
        xcalloc(top.m.kind == MANIFEST_INDEX ? top.m.n_manifests + 1 : 1, sizeof(*imgs));
    int ret = 0, keep_index = 0;
    if (top.m.kind == MANIFEST_IMAGE) {
        ret = image_check(&top.m, what, err);
        imgs[0] = top;
        memset(&top, 0, sizeof(top));
    } else if (opts->all_platforms) {
        keep_index = 1;
        n = top.m.n_manifests;
        for (size_t i = 0; ret == 0 && i < n; i++)
            ret = fetch_child(c, ref, &top.m.manifests[i].d, what, &imgs[i], err);
    } else {
        const struct platform_entry *pe = manifest_select_platform(&top.m, opts->platform, err);
        ret = pe == NULL ? kiln_error_prefix(err, "%s", what)
                         : fetch_child(c, ref, &pe->d, what, &imgs[0], err);
        keep_index = opts->keep_index;
    }
    struct descriptor tagged = {0};
    cleanup_free char *mdigest = NULL;
    if (ret == 0) {
        tagged = keep_index ? (struct descriptor){top.m.media_type, top.dg, top.len}
                            : (struct descriptor){imgs[0].m.media_type, imgs[0].dg, imgs[0].len};
        mdigest = digest_strdup(&tagged.digest);
        reg_progress(c, REGISTRY_EV_RESOLVED, mdigest, 0, tagged.size, NULL);
    }
    size_t n_want = 0;
    for (size_t i = 0; ret == 0 && i < n; i++)
        n_want += imgs[i].m.n_layers + 1;
    const struct descriptor **want = xcalloc(n_want + 1, sizeof(*want));
    n_want = 0;
    for (size_t i = 0; ret == 0 && i < n; i++) {
        want[n_want++] = &imgs[i].m.config;
        for (size_t k = 0; k < imgs[i].m.n_layers; k++)
            want[n_want++] = &imgs[i].m.layers[k];
    }
    if (ret == 0)
        ret = pull_blobs(c, s, ref->path, want, n_want, err);
    /* Then the manifests, the index last. */
    for (size_t i = 0; ret == 0 && i < n; i++)
        ret = store_blob_put(s, imgs[i].body, imgs[i].len, &imgs[i].dg, NULL, err);
    if (ret == 0 && keep_index)
        ret = store_blob_put(s, top.body, top.len, &top.dg, NULL, err);
    /* A tag moves to what was pulled; a digest-only reference needs no tag
     * (the store finds name@digest by the manifest). */
    cleanup_free char *repo = reference_name(ref);
    cleanup_free char *name = ref->tag ? xasprintf("%s:%s", repo, ref->tag) : NULL;
    if (ret == 0 && name != NULL)
        ret = store_tag(s, name, &tagged, err);
    /* Remembered for cross-repository mounts on a later push. */
    for (size_t i = 0; ret == 0 && i < n_want; i++)
        records_source_add(s, &want[i]->digest, reg_client_host(c), ref->path, NULL);
    if (ret == 0) {
        res->name = steal_pointer(&familiar);
        res->manifest_digest = steal_pointer(&mdigest);
        if (top.m.kind == MANIFEST_INDEX)
            res->index_digest = digest_strdup(&top.dg);
        if (!keep_index || !opts->all_platforms)
            res->config_digest = digest_strdup(&imgs[0].m.config.digest);
    }
    free(want);
    for (size_t i = 0; i < n; i++)
        fetched_release(&imgs[i]);
    free(imgs);
    fetched_release(&top);
    return ret;
}

/* The image's referrers (attached SBOMs) come along; a registry that fails
 * to list them costs a warning, not the pull. */
static void pull_referrers(struct reg_client *c, struct store *s, const struct reference *ref,
                           const struct registry_opts *opts, const char *manifest_digest)
{
    struct digest d;
    struct kiln_error *e = NULL;
    size_t n = 0;
    if (digest_parse(manifest_digest, &d, NULL) < 0 ||
        registry_pull_referrers(c, s, &d, ref, opts, &n, &e) == 0 || opts->progress == NULL) {
        kiln_error_free(e);
        return;
    }
    cleanup_free char *msg =
        xasprintf("referrers of %s not pulled: %s", manifest_digest, e ? e->msg : "unknown error");
    struct registry_progress p = {REGISTRY_EV_WARNING, NULL, 0, 0, msg};
    opts->progress(opts->progress_ctx, &p);
    kiln_error_free(e);
}

/* An index kept whole (--all-platforms): the referrers of each of its images
 * (kiln build --sbom attaches one SBOM per platform). */
static void pull_index_referrers(struct reg_client *c, struct store *s, const struct reference *ref,
                                 const struct registry_opts *opts, const char *index_digest)
{
    struct digest d;
    struct kiln_error *e = NULL;
    cleanup_json json_t *doc = NULL;
    if (digest_parse(index_digest, &d, NULL) == 0)
        doc = store_blob_read_json(s, &d, &e);
    kiln_error_free(e);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(doc, "manifests"), i, m)
    {
        const char *md = json_string_value(json_object_get(m, "digest"));
        if (md != NULL)
            pull_referrers(c, s, ref, opts, md);
    }
}

int registry_pull(struct store *store, const char *refstr, const struct registry_opts *opts,
                  struct registry_pull_result *result, struct kiln_error **err)
{
    static const struct registry_opts defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    memset(result, 0, sizeof(*result));
    struct reference ref;
    if (reference_parse(refstr, &ref, err) < 0)
        return -1;
    char **mirrors = NULL;
    size_t n_mirrors = 0;
    if (mirrors_for(ref.domain, &mirrors, &n_mirrors, err) < 0) {
        reference_release(&ref);
        return -1;
    }
    int ret = -1;
    for (size_t i = 0; i <= n_mirrors; i++) {
        int is_mirror = i < n_mirrors;
        const char *host = is_mirror ? mirrors[i] : reference_registry_host(&ref);
        struct reg_client *c = NULL;
        struct kiln_error *e = NULL;
        ret = reg_client_new(host, is_mirror ? host : ref.domain, opts, &c, &e);
        if (ret == 0)
            ret = pull_one(c, store, &ref, opts, result, &e);
        if (ret == 0 && result->config_digest != NULL)
            pull_referrers(c, store, &ref, opts, result->manifest_digest);
        else if (ret == 0 && result->index_digest != NULL)
            pull_index_referrers(c, store, &ref, opts, result->index_digest);
        reg_client_free(c);
        if (ret == 0)
            break;
        /* A mirror that is down or lacks the image is skipped; one that
         * serves bad content is an error like any other. */
        if (is_mirror && e != NULL && e->code != KILN_E_DIGEST && e->code != KILN_E_INVALID) {
            if (opts->progress != NULL) {
                cleanup_free char *msg = xasprintf("mirror %s: %s; trying the next", host, e->msg);
                struct registry_progress p = {REGISTRY_EV_WARNING, NULL, 0, 0, msg};
                opts->progress(opts->progress_ctx, &p);
            }
            kiln_error_free(e);
            continue;
        }
        if (err != NULL && *err == NULL)
            *err = e;
        else
            kiln_error_free(e);
        break;
    }
    mirrors_free(mirrors, n_mirrors);
    reference_release(&ref);
    return ret;
}
