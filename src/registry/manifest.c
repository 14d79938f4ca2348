/* Manifest and index parsing with media-type checks; platform selection. */
#include "registry/manifest.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "util/cleanup.h"
#include "util/json.h"
#include "util/platform.h"
#include "util/strbuf.h"

int manifest_media_type_known(const char *mt)
{
    return mt != NULL && (strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_OCI_INDEX) == 0 ||
                          strcmp(mt, MT_DOCKER_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0);
}

static int is_schema1(const char *mt)
{
    return mt != NULL &&
           (strcmp(mt, MT_DOCKER_SCHEMA1) == 0 || strcmp(mt, MT_DOCKER_SCHEMA1S) == 0);
}

int manifest_media_type_is_index(const char *mt)
{
    return strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0;
}

int layer_media_type_compression(const char *mt)
{
    if (mt == NULL)
        return -1;
    if (strcmp(mt, MT_OCI_LAYER) == 0 ||
        strcmp(mt, "application/vnd.oci.image.layer.nondistributable.v1.tar") == 0)
        return 0;
    if (strcmp(mt, MT_OCI_LAYER_GZIP) == 0 || strcmp(mt, MT_DOCKER_LAYER) == 0 ||
        strcmp(mt, MT_DOCKER_FOREIGN) == 0 ||
        strcmp(mt, "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip") == 0)
        return 1;
    if (strcmp(mt, MT_OCI_LAYER_ZSTD) == 0)
        return 2;
    return -1;
}

/* Content-Type may carry parameters ("...+json; charset=utf-8"). */
static char *bare_content_type(const char *ct)
{
    if (ct == NULL)
        return NULL;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, "; ");
    return n ? xstrndup(ct, n) : NULL;
}

static int parse_descriptor(json_t *j, const char *what, struct descriptor *d,
                            struct kiln_error **err)
{
    memset(d, 0, sizeof(*d));
    if (!json_is_object(j))
        return kiln_error_set(err, KILN_E_INVALID, "manifest: %s is not an object", what);
    const char *mt = json_get_str(j, "mediaType");
    const char *dg = json_get_str(j, "digest");
    json_t *size = json_object_get(j, "size");
    if (mt == NULL || mt[0] == '\0')
        return kiln_error_set(err, KILN_E_INVALID, "manifest: %s has no mediaType", what);
    if (dg == NULL)
        return kiln_error_set(err, KILN_E_INVALID, "manifest: %s has no digest", what);
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return kiln_error_set(err, KILN_E_INVALID, "manifest: %s has no valid size", what);
    if (digest_parse(dg, &d->digest, NULL) < 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "manifest: %s digest \"%.80s\" is not a sha256 digest", what, dg);
    d->media_type = xstrdup(mt);
    d->size = (uint64_t)json_integer_value(size);
    return 0;
}

static void desc_release(struct descriptor *d)
{
    free(d->media_type);
    memset(d, 0, sizeof(*d));
}

static void entry_release(struct platform_entry *e)
{
    desc_release(&e->d);
    free(e->os);
    free(e->arch);
    free(e->variant);
    memset(e, 0, sizeof(*e));
}

static int parse_layers(json_t *arr, struct manifest *m, struct kiln_error **err)
{
    size_t cnt = json_array_size(arr);
    m->layers = xcalloc(cnt ? cnt : 1, sizeof(*m->layers));
    for (size_t i = 0; i < cnt; i++) {
        char label[64];
        snprintf(label, sizeof(label), "layers[%zu]", i);
        if (parse_descriptor(json_array_get(arr, i), label, &m->layers[i], err) < 0)
            return -1;
        m->n_layers = i + 1;
    }
    return 0;
}

static int parse_entries(json_t *arr, struct manifest *m, struct kiln_error **err)
{
    size_t cnt = json_array_size(arr);
    m->manifests = xcalloc(cnt ? cnt : 1, sizeof(*m->manifests));
    for (size_t i = 0; i < cnt; i++) {
        char label[64];
        snprintf(label, sizeof(label), "manifests[%zu]", i);
        json_t *j = json_array_get(arr, i);
        struct platform_entry *e = &m->manifests[i];
        if (parse_descriptor(j, label, &e->d, err) < 0)
            return -1;
        m->n_manifests = i + 1;
        json_t *p = json_object_get(j, "platform");
        const char *os = json_get_str(p, "os"), *arch = json_get_str(p, "architecture");
        const char *var = json_get_str(p, "variant");
        e->os = os ? xstrdup(os) : NULL;
        e->arch = arch ? xstrdup(arch) : NULL;
        e->variant = var ? xstrdup(var) : NULL;
    }
    return 0;
}

static int parse_structure(json_t *j, const char *mt, struct manifest *out, struct kiln_error **err)
{
    json_t *manifests = json_object_get(j, "manifests");
    json_t *layers = json_object_get(j, "layers");
    json_t *config = json_object_get(j, "config");
    if (manifest_media_type_is_index(mt)) {
        if (!json_is_array(manifests) || layers != NULL || config != NULL)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "manifest declares %s but its content is not an index; "
                                  "refusing it",
                                  mt);
        out->kind = MANIFEST_INDEX;
        return parse_entries(manifests, out, err);
    }
    if (!json_is_object(config) || !json_is_array(layers) || manifests != NULL)
        return kiln_error_set(err, KILN_E_INVALID,
                              "manifest declares %s but its content is not an image manifest; "
                              "refusing it",
                              mt);
    out->kind = MANIFEST_IMAGE;
    if (parse_descriptor(config, "config", &out->config, err) < 0)
        return -1;
    return parse_layers(layers, out, err);
}

int manifest_parse(const char *content_type, const char *body, size_t len, struct manifest *out,
                   struct kiln_error **err)
{
    memset(out, 0, sizeof(*out));
    cleanup_free char *ct = bare_content_type(content_type);
    cleanup_json json_t *j = json_parse_bytes(body, len, "manifest", err);
    if (j == NULL)
        return -1;
    if (!json_is_object(j))
        return kiln_error_set(err, KILN_E_INVALID, "manifest is not a JSON object");
    const char *mt = json_get_str(j, "mediaType");
    json_int_t version = json_get_int(j, "schemaVersion", -1);
    if (version == 1 || is_schema1(ct) || is_schema1(mt))
        return kiln_error_set(err, KILN_E_INVALID,
                              "image uses a Docker schema 1 manifest, which kiln does not "
                              "support; re-push it with a current docker, podman or skopeo");
    if (version != 2)
        return kiln_error_set(err, KILN_E_INVALID, "manifest has schemaVersion %lld, not 2",
                              (long long)version);
    if (mt != NULL && !manifest_media_type_known(mt))
        return kiln_error_set(err, KILN_E_INVALID, "unsupported manifest media type \"%.100s\"",
                              mt);
    if (mt != NULL && manifest_media_type_known(ct) && strcmp(mt, ct) != 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "registry served the manifest as %s but it declares %s; refusing "
                              "it",
                              ct, mt);
    const char *eff = mt;
    if (eff == NULL && manifest_media_type_known(ct))
        eff = ct;
    if (eff == NULL) /* OCI allows omitting mediaType: go by structure */
        eff = json_object_get(j, "manifests") != NULL ? MT_OCI_INDEX : MT_OCI_MANIFEST;
    out->media_type = xstrdup(eff);
    if (parse_structure(j, eff, out, err) < 0) {
        manifest_release(out);
        return -1;
    }
    return 0;
}

void manifest_release(struct manifest *m)
{
    free(m->media_type);
    desc_release(&m->config);
    for (size_t i = 0; i < m->n_layers; i++)
        desc_release(&m->layers[i]);
    free(m->layers);
    for (size_t i = 0; i < m->n_manifests; i++)
        entry_release(&m->manifests[i]);
    free(m->manifests);
    memset(m, 0, sizeof(*m));
}

char *manifest_host_platform(void)
{
    struct platform p;
    char buf[PLATFORM_STR_MAX];
    platform_host(&p);
    return xstrdup(platform_format(&p, buf));
}

const struct platform_entry *manifest_select_platform(const struct manifest *index,
                                                      const char *platform, struct kiln_error **err)
{
    struct platform want;
    if (platform == NULL)
        platform_host(&want);
    else if (platform_parse(platform, &want, err) < 0)
        return NULL;
    char label[PLATFORM_STR_MAX];
    platform_format(&want, label);
    /* the same platform (normalised: arm64/v8 is arm64); else, with no
     * variant asked for, the same os and architecture */
    const struct platform_entry *found = NULL;
    for (int pass = 0; pass < 2 && found == NULL; pass++) {
        for (size_t i = 0; i < index->n_manifests && found == NULL; i++) {
            const struct platform_entry *d = &index->manifests[i];
            if (!manifest_media_type_known(d->d.media_type) || d->os == NULL || d->arch == NULL)
                continue;
            cleanup_json json_t *pj = json_pack("{s:s, s:s, s:s}", "os", d->os, "architecture",
                                                d->arch, "variant", d->variant ? d->variant : "");
            struct platform have;
            if (pj == NULL || platform_from_json(pj, &have) < 0)
                continue;
            if (pass == 0 ? platform_equal(&have, &want)
                          : want.variant[0] == '\0' && strcmp(have.os, want.os) == 0 &&
                                strcmp(have.arch, want.arch) == 0)
                found = d;
        }
    }
    if (found != NULL)
        return found;
    struct strbuf have = STRBUF_INIT;
    strbuf_init(&have);
    for (size_t i = 0; i < index->n_manifests; i++) {
        const struct platform_entry *d = &index->manifests[i];
        if (d->os == NULL || d->arch == NULL)
            continue;
        strbuf_addf(&have, "%s%s/%s%s%s", have.len ? ", " : "", d->os, d->arch,
                    d->variant ? "/" : "", d->variant ? d->variant : "");
    }
    kiln_error_set(err, KILN_E_NOTFOUND, "the image index has no manifest for %s (it offers: %s)",
                   label, have.len ? have.buf : "none");
    strbuf_release(&have);
    return NULL;
}
