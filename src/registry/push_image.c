/* registry_push(): load the image, gzip its plain layers (once), push blobs,
 * then the manifest: the stored bytes when nothing changed (so the digest
 * stays the same across registries), else a rewritten manifest. */
#include <stdlib.h>
#include <string.h>

#include "registry/client.h"
#include "registry/manifest.h"
#include "registry/push.h"
#include "registry/records.h"
#include "registry/registry.h"
#include "store/reference.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

/* Descriptors to push and the manifest bytes that name them. */
struct push_plan {
    struct descriptor *blobs; /* config, then layers */
    size_t n;
    char *manifest;
    size_t manifest_len;
    const char *media_type;
};

static void plan_release(struct push_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->blobs[i].media_type);
    free(p->blobs);
    free(p->manifest);
}

static int make_plan(struct store *s, const struct image *img, struct push_plan *p,
                     struct kiln_error **err)
{
    memset(p, 0, sizeof(*p));
    p->media_type = img->manifest.media_type;
    int docker = strcmp(p->media_type, MT_DOCKER_MANIFEST) == 0;
    p->blobs = xcalloc(img->n_layers + 1, sizeof(*p->blobs));
    descriptor_copy(&p->blobs[0], &img->config);
    p->n = 1;
    int changed = 0;
    json_t *layers = json_object_get(img->manifest_json, "layers");
    cleanup_json json_t *new_layers = json_array();
    for (size_t i = 0; i < img->n_layers; i++) {
        const struct descriptor *d = &img->layers[i].blob;
        struct descriptor *out = &p->blobs[p->n++];
        json_t *orig = json_array_get(layers, i);
        json_t *entry = orig ? json_deep_copy(orig) : descriptor_to_json(d);
        if (layer_media_type_compression(d->media_type) == 0) {
            if (push_gzip_layer(s, d, out, err) < 0) {
                json_decref(entry);
                return -1;
            }
            out->media_type = xstrdup(docker ? MT_DOCKER_LAYER : MT_OCI_LAYER_GZIP);
            char ds[DIGEST_STR_LEN + 1];
            json_object_set_new(entry, "mediaType", json_string(out->media_type));
            json_object_set_new(entry, "digest", json_string(digest_str(&out->digest, ds)));
            json_object_set_new(entry, "size", json_integer((json_int_t)out->size));
            changed = 1;
        } else {
            descriptor_copy(out, d);
        }
        json_array_append_new(new_layers, entry);
    }
    if (!changed) {
        return store_blob_read(s, &img->manifest.digest, STORE_JSON_MAX, &p->manifest,
                               &p->manifest_len, err);
    }
    cleanup_json json_t *m = json_deep_copy(img->manifest_json);
    json_object_set(m, "layers", new_layers);
    p->manifest = json_dump_canonical(m);
    p->manifest_len = strlen(p->manifest);
    return 0;
}

int registry_push(struct store *store, const char *local_ref, const char *dest_ref,
                  const struct registry_opts *opts, char **digest_out, struct kiln_error **err)
{
    static const struct registry_opts defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    cleanup_image struct image *img = NULL;
    if (store_image_load(store, local_ref, &img, err) < 0)
        return -1;
    struct reference ref;
    if (reference_parse(dest_ref ? dest_ref : local_ref, &ref, err) < 0)
        return -1;
    cleanup_free char *familiar = reference_familiar(&ref);
    struct reg_client *c = NULL;
    struct push_plan plan;
    int ret = reg_client_new(reference_registry_host(&ref), ref.domain, opts, &c, err);
    if (ret == 0)
        ret = make_plan(store, img, &plan, err);
    else
        memset(&plan, 0, sizeof(plan));
    for (size_t i = 0; ret == 0 && i < plan.n; i++)
        ret = push_blob(c, store, ref.path, &plan.blobs[i], err);
    struct digest md;
    char mds[DIGEST_STR_LEN + 1] = "";
    if (ret == 0) {
        digest_bytes(plan.manifest, plan.manifest_len, &md);
        digest_str(&md, mds);
        cleanup_free char *url =
            xasprintf("/v2/%s/manifests/%s", ref.path, ref.tag && !ref.has_digest ? ref.tag : mds);
        cleanup_free char *scope = xasprintf("repository:%s:pull,push", ref.path);
        struct reg_request rq = {.method = "PUT",
                                 .url = url,
                                 .scope = scope,
                                 .content_type = plan.media_type,
                                 .body = plan.manifest,
                                 .body_len = plan.manifest_len};
        struct reg_response r = {0};
        ret = reg_do(c, &rq, &r, err);
        cleanup_free char *what = xasprintf("push of manifest %s to %s", mds, familiar);
        if (ret == 0 && r.status != 201)
            ret = reg_status_error(c, &r, what, err);
        if (ret == 0 && r.docker_digest != NULL && strcmp(r.docker_digest, mds) != 0)
            ret = kiln_error_set(err, KILN_E_DIGEST,
                                 "%s: registry stored it as %.80s; the registry changed it", what,
                                 r.docker_digest);
        reg_response_release(&r);
    }
    if (ret == 0) {
        for (size_t i = 0; i < plan.n; i++)
            records_source_add(store, &plan.blobs[i].digest, reg_client_host(c), ref.path, NULL);
        if (ref.has_digest && !digest_equal(&ref.digest, &md))
            ret = kiln_error_set(err, KILN_E_DIGEST,
                                 "pushed manifest is %s, not the digest %s names", mds, familiar);
    }
    if (ret == 0 && digest_out != NULL)
        *digest_out = xstrdup(mds);
    plan_release(&plan);
    reg_client_free(c);
    reference_release(&ref);
    return ret;
}
