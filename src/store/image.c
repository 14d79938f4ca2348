/* The image model: a manifest, its config and its layers, loaded from blobs
 * or written as new blobs (canonical JSON, OCI media types). */
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "store/digest_set.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/platform.h"
#include "util/strbuf.h"

const char *store_host_arch(void)
{
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__i386__)
    return "386";
#elif defined(__arm__)
    return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "ppc64le";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#else
    return "unknown";
#endif
}

static int is_index_type(const char *mt)
{
    return mt != NULL && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0);
}

static int is_manifest_type(const char *mt)
{
    return mt != NULL && (strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0);
}

/* The media type a manifest blob says it has, else what its descriptor said. */
static const char *manifest_kind(const json_t *doc, const struct descriptor *d)
{
    const char *mt = json_string_value(json_object_get(doc, "mediaType"));
    if (mt != NULL)
        return mt;
    if (json_is_array(json_object_get(doc, "manifests")))
        return MT_OCI_INDEX;
    return d->media_type ? d->media_type : MT_OCI_MANIFEST;
}

const json_t *store_index_pick_platform(const json_t *index, const char *what,
                                        const struct platform *want, struct kiln_error **err)
{
    struct platform host;
    if (want == NULL) {
        platform_host(&host);
        want = &host;
    }
    json_t *manifests = json_object_get(index, "manifests");
    const json_t *best = NULL;
    size_t i;
    json_t *m;
    /* the same platform; else (no variant wanted) the same os/architecture */
    for (int pass = 0; pass < 2 && best == NULL; pass++) {
        json_array_foreach(manifests, i, m)
        {
            struct platform p;
            if (platform_from_json(json_object_get(m, "platform"), &p) < 0)
                continue;
            if (pass == 0 ? platform_equal(&p, want)
                          : want->variant[0] == '\0' && strcmp(p.os, want->os) == 0 &&
                                strcmp(p.arch, want->arch) == 0) {
                best = m;
                break;
            }
        }
    }
    if (best == NULL && json_array_size(manifests) == 1 &&
        (want == &host || json_object_get(json_array_get(manifests, 0), "platform") == NULL))
        best = json_array_get(manifests, 0);
    if (best == NULL) {
        char ws[PLATFORM_STR_MAX];
        struct strbuf have = STRBUF_INIT;
        json_array_foreach(manifests, i, m)
        {
            struct platform p;
            char ps[PLATFORM_STR_MAX];
            if (platform_from_json(json_object_get(m, "platform"), &p) == 0)
                strbuf_addf(&have, "%s%s", have.len ? ", " : "", platform_format(&p, ps));
        }
        kiln_error_set(err, KILN_E_PLATFORM, "%s: index has no image for %s (it has %s)", what,
                       platform_format(want, ws), have.len ? have.buf : "none");
        strbuf_release(&have);
    }
    return best;
}

void image_free(struct image *img)
{
    if (img == NULL)
        return;
    descriptor_release(&img->manifest);
    descriptor_release(&img->config);
    json_decref(img->manifest_json);
    json_decref(img->config_json);
    for (size_t i = 0; i < img->n_layers; i++)
        descriptor_release(&img->layers[i].blob);
    free(img->layers);
    free(img);
}

void cleanup_imagep(struct image **img)
{
    image_free(*img);
    *img = NULL;
}

static int load_layers(struct image *img, const char *what, struct kiln_error **err)
{
    json_t *layers = json_object_get(img->manifest_json, "layers");
    json_t *diff_ids = json_object_get(json_object_get(img->config_json, "rootfs"), "diff_ids");
    if (!json_is_array(layers))
        return kiln_error_set(err, KILN_E_INVALID, "%s: manifest has no layers array", what);
    if (!json_is_array(diff_ids) || json_array_size(diff_ids) != json_array_size(layers))
        return kiln_error_set(err, KILN_E_INVALID, "%s: config lists %zu diff_ids for %zu layers",
                              what, json_array_size(diff_ids), json_array_size(layers));
    img->layers = xcalloc(json_array_size(layers) + 1, sizeof(*img->layers));
    for (size_t i = 0; i < json_array_size(layers); i++) {
        struct image_layer *l = &img->layers[i];
        if (descriptor_from_json(json_array_get(layers, i), &l->blob, what, err) < 0)
            return -1;
        img->n_layers = i + 1;
        const char *d = json_string_value(json_array_get(diff_ids, i));
        if (d == NULL || digest_parse(d, &l->diffid, err) < 0)
            return kiln_error_set(err, KILN_E_INVALID, "%s: bad diff_id %zu", what, i);
    }
    return 0;
}

static int load_manifest(struct store *s, const struct descriptor *d, int depth,
                         const struct platform *want, struct image **out, struct kiln_error **err)
{
    char what[DIGEST_STR_LEN + 16];
    snprintf(what, sizeof(what), "manifest sha256:%s", d->digest.hex);
    cleanup_json json_t *doc = store_blob_read_json(s, &d->digest, err);
    if (doc == NULL)
        return -1;
    const char *kind = manifest_kind(doc, d);
    if (is_index_type(kind)) {
        if (depth > 2)
            return kiln_error_set(err, KILN_E_INVALID, "%s: indexes nested too deep", what);
        const json_t *m = store_index_pick_platform(doc, what, want, err);
        struct descriptor child;
        if (m == NULL || descriptor_from_json(m, &child, what, err) < 0)
            return -1;
        int rc = load_manifest(s, &child, depth + 1, want, out, err);
        descriptor_release(&child);
        return rc;
    }
    if (!is_manifest_type(kind))
        return kiln_error_set(err, KILN_E_INVALID, "%s: unsupported media type %s", what, kind);
    cleanup_image struct image *img = xcalloc(1, sizeof(*img));
    descriptor_copy(&img->manifest, d);
    free(img->manifest.media_type);
    img->manifest.media_type = xstrdup(kind);
    img->manifest_json = steal_pointer(&doc);
    if (descriptor_from_json(json_object_get(img->manifest_json, "config"), &img->config, what,
                             err) < 0)
        return -1;
    img->config_json = store_blob_read_json(s, &img->config.digest, err);
    if (img->config_json == NULL)
        return kiln_error_prefix(err, "%s: config", what);
    if (load_layers(img, what, err) < 0)
        return -1;
    struct platform have;
    if (want != NULL && platform_from_json(img->config_json, &have) == 0 &&
        (strcmp(have.os, want->os) != 0 || strcmp(have.arch, want->arch) != 0)) {
        char hs[PLATFORM_STR_MAX], ws[PLATFORM_STR_MAX];
        return kiln_error_set(err, KILN_E_PLATFORM, "%s: the image is for %s only, not %s", what,
                              platform_format(&have, hs), platform_format(want, ws));
    }
    *out = steal_pointer(&img);
    return 0;
}

int store_image_load_manifest(struct store *s, const struct digest *d, struct image **out,
                              struct kiln_error **err)
{
    return store_image_load_manifest_platform(s, d, NULL, out, err);
}

int store_image_load_manifest_platform(struct store *s, const struct digest *d,
                                       const struct platform *want, struct image **out,
                                       struct kiln_error **err)
{
    struct descriptor desc = {.digest = *d};
    if (store_blob_size(s, d, &desc.size, NULL) < 0)
        return kiln_error_set(err, KILN_E_NOTFOUND, "manifest sha256:%s is not in the store %s",
                              d->hex, s->root);
    return load_manifest(s, &desc, 0, want, out, err);
}

int store_manifest_walk(struct store *s, const struct descriptor *manifest, int strict,
                        struct digest_set *blobs, struct digest_set *diffids,
                        struct kiln_error **err)
{
    char what[DIGEST_STR_LEN + 16];
    snprintf(what, sizeof(what), "manifest sha256:%s", manifest->digest.hex);
    if (blobs != NULL)
        digest_set_add(blobs, &manifest->digest);
    struct kiln_error *lerr = NULL;
    cleanup_json json_t *doc = store_blob_read_json(s, &manifest->digest, &lerr);
    if (doc == NULL) {
        if (!strict) {
            kiln_error_free(lerr);
            return 0;
        }
        if (err != NULL && *err == NULL)
            *err = lerr;
        else
            kiln_error_free(lerr);
        return -1;
    }
    const char *kind = manifest_kind(doc, manifest);
    json_t *children = is_index_type(kind) ? json_object_get(doc, "manifests") : NULL;
    /* An index may be partial (a pull or a build fetches the platforms it
     * needs): every entry whose manifest is here must be complete, and at
     * least one must be here. */
    size_t n_present = 0;
    for (size_t i = 0; i < json_array_size(children); i++) {
        struct descriptor c = {0};
        uint64_t size;
        if (descriptor_from_json(json_array_get(children, i), &c, what, NULL) == 0 &&
            store_blob_size(s, &c.digest, &size, NULL) == 0)
            n_present++;
        descriptor_release(&c);
    }
    if (strict && children != NULL && json_array_size(children) > 0 && n_present == 0) {
        struct strbuf sb = STRBUF_INIT;
        for (size_t i = 0; i < json_array_size(children) && i < 4; i++)
            strbuf_addf(&sb, "%s%s", i ? ", " : "",
                        json_string_value(json_object_get(json_array_get(children, i), "digest")));
        if (err != NULL && *err == NULL)
            kiln_error_set(err, KILN_E_NOTFOUND,
                           "%s: none of the images it lists is in the store (%s)", what, sb.buf);
        strbuf_release(&sb);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(children); i++) {
        struct descriptor c;
        struct kiln_error *derr = NULL;
        if (descriptor_from_json(json_array_get(children, i), &c, what, &derr) < 0) {
            if (strict) {
                if (err != NULL && *err == NULL)
                    *err = derr;
                else
                    kiln_error_free(derr);
                return -1;
            }
            kiln_error_free(derr);
            continue;
        }
        uint64_t size;
        int required = strict && store_blob_size(s, &c.digest, &size, NULL) == 0;
        int rc = 0;
        if (required || store_blob_size(s, &c.digest, &size, NULL) == 0)
            rc = store_manifest_walk(s, &c, required, blobs, diffids, err);
        descriptor_release(&c);
        if (rc < 0)
            return -1;
    }
    if (children != NULL)
        return 0;
    /* An image manifest: its config and layers must be present. */
    json_t *config = json_object_get(doc, "config");
    json_t *layers = json_object_get(doc, "layers");
    for (size_t i = 0; i <= json_array_size(layers); i++) {
        json_t *dj = i == 0 ? config : json_array_get(layers, i - 1);
        struct descriptor c;
        struct kiln_error *derr = NULL;
        int rc = descriptor_from_json(dj, &c, what, &derr);
        uint64_t size = 0;
        if (rc == 0 && blobs != NULL)
            digest_set_add(blobs, &c.digest);
        if (rc == 0 && store_blob_size(s, &c.digest, &size, NULL) < 0)
            rc = kiln_error_set(&derr, KILN_E_NOTFOUND, "%s: %s sha256:%s is missing", what,
                                i == 0 ? "config" : "layer", c.digest.hex);
        else if (rc == 0 && size != c.size)
            rc = kiln_error_set(&derr, KILN_E_DIGEST, "%s: %s sha256:%s has %llu bytes, not %llu",
                                what, i == 0 ? "config" : "layer", c.digest.hex,
                                (unsigned long long)size, (unsigned long long)c.size);
        descriptor_release(&c);
        if (rc < 0 && strict) {
            if (err != NULL && *err == NULL)
                *err = derr;
            else
                kiln_error_free(derr);
            return -1;
        }
        kiln_error_free(derr);
    }
    if (diffids != NULL) {
        struct descriptor cd;
        if (descriptor_from_json(config, &cd, what, NULL) == 0) {
            cleanup_json json_t *cj = store_blob_read_json(s, &cd.digest, NULL);
            json_t *ids = json_object_get(json_object_get(cj, "rootfs"), "diff_ids");
            for (size_t i = 0; i < json_array_size(ids); i++) {
                struct digest d;
                const char *str = json_string_value(json_array_get(ids, i));
                if (str && digest_parse(str, &d, NULL) == 0)
                    digest_set_add(diffids, &d);
            }
            descriptor_release(&cd);
        }
    }
    return 0;
}

/* Serializes doc canonically into a blob and describes it. */
static int put_json(struct store *s, const json_t *doc, const char *media_type,
                    struct descriptor *out, struct kiln_error **err)
{
    cleanup_free char *data = json_dump_canonical(doc);
    size_t len = strlen(data);
    memset(out, 0, sizeof(*out));
    if (store_blob_put(s, data, len, NULL, &out->digest, err) < 0)
        return -1;
    out->size = len;
    out->media_type = xstrdup(media_type);
    return 0;
}

int store_image_write(struct store *s, const json_t *config, const struct image_layer *layers,
                      size_t n_layers, const json_t *annotations, struct descriptor *manifest_out,
                      struct kiln_error **err)
{
    memset(manifest_out, 0, sizeof(*manifest_out));
    if (!json_is_object(config))
        return kiln_error_set(err, KILN_E_INVALID, "image config must be a JSON object");
    cleanup_json json_t *cfg = json_deep_copy(config);
    cleanup_json json_t *mlayers = json_array();
    json_t *ids = json_array();
    for (size_t i = 0; i < n_layers; i++) {
        uint64_t size = 0;
        if (store_blob_size(s, &layers[i].blob.digest, &size, NULL) < 0 ||
            size != layers[i].blob.size) {
            json_decref(ids);
            return kiln_error_set(err, KILN_E_NOTFOUND,
                                  "cannot write image: layer sha256:%s (%llu bytes) is not in the "
                                  "store",
                                  layers[i].blob.digest.hex,
                                  (unsigned long long)layers[i].blob.size);
        }
        char buf[DIGEST_STR_LEN + 1];
        json_array_append_new(ids, json_string(digest_str(&layers[i].diffid, buf)));
        json_array_append_new(mlayers, descriptor_to_json(&layers[i].blob));
    }
    json_object_set_new(cfg, "rootfs", json_pack("{s:s, s:o}", "type", "layers", "diff_ids", ids));
    if (json_object_get(cfg, "architecture") == NULL)
        json_object_set_new(cfg, "architecture", json_string(store_host_arch()));
    if (json_object_get(cfg, "os") == NULL)
        json_object_set_new(cfg, "os", json_string("linux"));
    struct descriptor cdesc;
    if (put_json(s, cfg, MT_OCI_CONFIG, &cdesc, err) < 0)
        return -1;
    cleanup_json json_t *manifest =
        json_pack("{s:i, s:s, s:o, s:O}", "schemaVersion", 2, "mediaType", MT_OCI_MANIFEST,
                  "config", descriptor_to_json(&cdesc), "layers", mlayers);
    descriptor_release(&cdesc);
    if (annotations != NULL && json_object_size(annotations) > 0)
        json_object_set_new(manifest, "annotations", json_deep_copy(annotations));
    return put_json(s, manifest, MT_OCI_MANIFEST, manifest_out, err);
}

int store_image_index_write(struct store *s, const struct descriptor *manifests,
                            const struct platform *plats, size_t n, struct descriptor *out,
                            struct kiln_error **err)
{
    memset(out, 0, sizeof(*out));
    cleanup_json json_t *idx =
        json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests");
    json_t *arr = json_object_get(idx, "manifests");
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < i; k++) {
            if (platform_equal(&plats[k], &plats[i])) {
                char ps[PLATFORM_STR_MAX];
                return kiln_error_set(err, KILN_E_INVALID,
                                      "an index lists one image per platform: %s is there twice",
                                      platform_format(&plats[i], ps));
            }
        }
        json_t *d = descriptor_to_json(&manifests[i]);
        json_object_set_new(d, "platform", platform_to_json(&plats[i]));
        json_array_append_new(arr, d);
    }
    return put_json(s, idx, MT_OCI_INDEX, out, err);
}
