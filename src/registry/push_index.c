/* push_index(): a multi-platform image. Every image the index lists goes up
 * by digest (blobs first, as push_image() does) with its referrers (the
 * per-platform SBOMs of kiln build --sbom), then the index under the tag. The index keeps its
 * bytes, and so its digest, unless an image had to be rewritten (uncompressed layers sent as gzip):
 * then the index names the new manifests and is written as canonical JSON. */
#include <stdlib.h>
#include <string.h>

#include "registry/client.h"
#include "registry/manifest.h"
#include "registry/push.h"
#include "registry/referrers.h"
#include "registry/registry.h"
#include "store/reference.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

/* "linux/arm64" for an index entry, else its position. Allocated. */
static char *entry_name(const json_t *entry, size_t i)
{
    json_t *p = json_object_get(entry, "platform");
    const char *os = json_string_value(json_object_get(p, "os"));
    const char *arch = json_string_value(json_object_get(p, "architecture"));
    const char *variant = json_string_value(json_object_get(p, "variant"));
    if (os == NULL || arch == NULL)
        return xasprintf("entry %zu", i);
    return variant ? xasprintf("%s/%s/%s", os, arch, variant) : xasprintf("%s/%s", os, arch);
}

/* Pushes entry i; updates out_entry when the manifest had to change. */
static int push_entry(struct store *s, const json_t *entry, json_t *out_entry, size_t i,
                      const char *index_what, const struct reference *ref,
                      const struct registry_opts *opts, int *changed, struct kiln_error **err)
{
    cleanup_free char *name = entry_name(entry, i);
    cleanup_free char *what = xasprintf("%s, image for %s", index_what, name);
    struct descriptor d;
    if (descriptor_from_json(entry, &d, what, err) < 0)
        return -1;
    char ds[DIGEST_STR_LEN + 1];
    digest_str(&d.digest, ds);
    int ret = 0;
    cleanup_image struct image *img = NULL;
    if (manifest_media_type_is_index(d.media_type))
        ret = kiln_error_set(err, KILN_E_INVALID,
                             "%s: %s is itself an index; kiln pushes one level", what, ds);
    else if (!store_blob_has(s, &d.digest))
        ret = kiln_error_set(err, KILN_E_NOTFOUND,
                             "%s: manifest %s is not in the store; pull the image with "
                             "--all-platforms first",
                             what, ds);
    else
        ret = store_image_load_manifest(s, &d.digest, &img, err);
    struct descriptor pushed = {0};
    if (ret == 0)
        ret = push_image(s, img, ref, 1, opts, &pushed, err);
    /* then what is attached to this platform's image (kiln build --sbom) */
    if (ret == 0)
        ret = registry_push_referrers(s, &d.digest, &pushed, ref, opts, err);
    if (ret == 0 && !digest_equal(&pushed.digest, &d.digest)) {
        char ps[DIGEST_STR_LEN + 1];
        json_object_set_new(out_entry, "mediaType", json_string(pushed.media_type));
        json_object_set_new(out_entry, "digest", json_string(digest_str(&pushed.digest, ps)));
        json_object_set_new(out_entry, "size", json_integer((json_int_t)pushed.size));
        *changed = 1;
    }
    descriptor_release(&pushed);
    descriptor_release(&d);
    return ret;
}

int push_index(struct store *s, const struct descriptor *local, const json_t *doc,
               const struct reference *ref, const struct registry_opts *opts,
               struct descriptor *pushed, struct kiln_error **err)
{
    char lds[DIGEST_STR_LEN + 1];
    digest_str(&local->digest, lds);
    cleanup_free char *what = xasprintf("index %s", lds);
    const json_t *list = json_object_get(doc, "manifests");
    if (json_array_size(list) == 0)
        return kiln_error_set(err, KILN_E_INVALID, "%s lists no images; nothing to push", what);
    cleanup_json json_t *out = json_deep_copy(doc);
    json_t *out_list = json_object_get(out, "manifests");
    int changed = 0;
    for (size_t i = 0; i < json_array_size(list); i++)
        if (push_entry(s, json_array_get(list, i), json_array_get(out_list, i), i, what, ref, opts,
                       &changed, err) < 0)
            return -1;
    cleanup_free char *body = NULL;
    size_t len = 0;
    if (!changed) {
        if (store_blob_read(s, &local->digest, STORE_JSON_MAX, &body, &len, err) < 0)
            return -1;
    } else {
        body = json_dump_canonical(out);
        len = strlen(body);
    }
    const char *mt = json_string_value(json_object_get(doc, "mediaType"));
    if (mt == NULL)
        mt = local->media_type ? local->media_type : MT_OCI_INDEX;
    struct digest md;
    digest_bytes(body, len, &md);
    char mds[DIGEST_STR_LEN + 1];
    digest_str(&md, mds);
    struct reg_client *c = NULL;
    int ret = reg_client_new(reference_registry_host(ref), ref->domain, opts, &c, err);
    if (ret == 0)
        ret = put_manifest(c, ref, 0, mt, body, len, mds, err);
    reg_client_free(c);
    if (ret == 0) {
        pushed->media_type = xstrdup(mt);
        pushed->digest = md;
        pushed->size = len;
    }
    return ret;
}
