/* registry_pull(): reference -> host(s) (mirrors first) -> manifest (platform
 * from an index) -> blobs -> store, tag last. */
#include <stdlib.h>
#include <string.h>

#include "registry/client.h"
#include "registry/manifest.h"
#include "registry/mirrors.h"
#include "registry/pull.h"
#include "registry/records.h"
#include "registry/registry.h"
#include "store/reference.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

static int config_type_ok(const char *mt)
{
    return strcmp(mt, MT_OCI_CONFIG) == 0 || strcmp(mt, MT_DOCKER_CONFIG) == 0;
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
    cleanup_free char *body = NULL, *ctype = NULL;
    size_t len = 0;
    struct digest dg;
    if (pull_fetch_manifest(c, ref->path, tag_or_digest, expected, what, &body, &len, &ctype, &dg,
                            err) < 0)
        return -1;
    struct manifest m;
    if (manifest_parse(ctype, body, len, &m, err) < 0)
        return kiln_error_prefix(err, "%s", what);
    cleanup_free char *index_digest = NULL;
    if (m.kind == MANIFEST_INDEX) {
        index_digest = digest_strdup(&dg);
        const struct platform_entry *pe = manifest_select_platform(&m, opts->platform, err);
        if (pe == NULL) {
            manifest_release(&m);
            return kiln_error_prefix(err, "%s", what);
        }
        struct descriptor want = pe->d;
        char wstr[DIGEST_STR_LEN + 1];
        digest_str(&want.digest, wstr);
        free(body), body = NULL;
        free(ctype), ctype = NULL;
        int r = pull_fetch_manifest(c, ref->path, wstr, &want, what, &body, &len, &ctype, &dg, err);
        manifest_release(&m);
        if (r < 0)
            return -1;
        if (manifest_parse(ctype, body, len, &m, err) < 0)
            return kiln_error_prefix(err, "%s", what);
        if (m.kind != MANIFEST_IMAGE) {
            manifest_release(&m);
            return kiln_error_set(err, KILN_E_INVALID,
                                  "%s: index entry %s is itself an index; refusing it", what, wstr);
        }
    }
    cleanup_free char *mdigest = digest_strdup(&dg);
    reg_progress(c, REGISTRY_EV_RESOLVED, mdigest, 0, len, NULL);
    int ret = 0;
    if (!config_type_ok(m.config.media_type))
        ret = kiln_error_set(err, KILN_E_INVALID,
                             "%s is not a container image (its config is %.100s)", what,
                             m.config.media_type);
    for (size_t i = 0; ret == 0 && i < m.n_layers; i++)
        if (layer_media_type_compression(m.layers[i].media_type) < 0)
            ret = kiln_error_set(err, KILN_E_INVALID,
                                 "%s: layer %zu has a media type kiln cannot unpack (%.100s)", what,
                                 i, m.layers[i].media_type);
    if (ret < 0) {
        manifest_release(&m);
        return -1;
    }
    const struct descriptor **want = xcalloc(m.n_layers + 1, sizeof(*want));
    want[0] = &m.config;
    for (size_t i = 0; i < m.n_layers; i++)
        want[i + 1] = &m.layers[i];
    ret = pull_blobs(c, s, ref->path, want, m.n_layers + 1, err);
    free(want);
    if (ret == 0)
        ret = store_blob_put(s, body, len, &dg, NULL, err);
    struct descriptor md = {m.media_type, dg, len};
    /* A tag moves to what was pulled; a digest-only reference needs no tag
     * (the store finds name@digest by the manifest). */
    cleanup_free char *repo = reference_name(ref);
    cleanup_free char *name = ref->tag ? xasprintf("%s:%s", repo, ref->tag) : NULL;
    if (ret == 0 && name != NULL)
        ret = store_tag(s, name, &md, err);
    /* Remembered for cross-repository mounts on a later push. */
    for (size_t i = 0; ret == 0 && i <= m.n_layers; i++)
        records_source_add(s, i == 0 ? &m.config.digest : &m.layers[i - 1].digest,
                           reg_client_host(c), ref->path, NULL);
    if (ret == 0) {
        res->name = steal_pointer(&familiar);
        res->manifest_digest = steal_pointer(&mdigest);
        res->index_digest = steal_pointer(&index_digest);
        res->config_digest = digest_strdup(&m.config.digest);
    }
    manifest_release(&m);
    return ret;
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
