/* Referrers kept as untagged index.json entries (see store/referrers.h).
 * Writers hold the store lock across the read-modify-write of index.json. */
#include "store/referrers.h"

#include <stdlib.h>
#include <string.h>

#include "store/digest_set.h"
#include "store/store_internal.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

#define ARTIFACT_MAX (64u << 20)

void referrers_free(struct referrer *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        descriptor_release(&r[i].manifest);
        free(r[i].artifact_type);
        free(r[i].created);
    }
    free(r);
}

char *referrers_manifest_json(const struct descriptor *subject, const char *artifact_type,
                              const char *created, const struct descriptor *layer)
{
    struct descriptor empty = {.media_type = (char *)MT_OCI_EMPTY, .size = 2};
    digest_bytes("{}", 2, &empty.digest);
    json_t *m = json_object();
    json_object_set_new(m, "schemaVersion", json_integer(2));
    json_object_set_new(m, "mediaType", json_string(MT_OCI_MANIFEST));
    json_object_set_new(m, "artifactType", json_string(artifact_type));
    json_object_set_new(m, "config", descriptor_to_json(&empty));
    json_object_set_new(m, "layers", json_pack("[o]", descriptor_to_json(layer)));
    json_t *sub = descriptor_to_json(subject);
    if (subject->media_type == NULL || subject->media_type[0] == '\0')
        json_object_set_new(sub, "mediaType", json_string(MT_OCI_MANIFEST));
    json_object_set_new(m, "subject", sub);
    if (created)
        json_object_set_new(m, "annotations",
                            json_pack("{s:s}", ANNOTATION_IMAGE_CREATED, created));
    char *out = json_dump_canonical(m);
    json_decref(m);
    return out;
}

/* The index.json entry for an artifact manifest doc with descriptor d. */
static json_t *entry_for(const struct descriptor *d, const json_t *doc, struct kiln_error **err)
{
    const char *type = json_get_str(doc, "artifactType");
    json_t *layers = json_object_get(doc, "layers");
    if (type == NULL) /* image-spec: else the config's media type says it */
        type = json_get_str(json_object_get(doc, "config"), "mediaType");
    const char *subject = json_get_str(json_object_get(doc, "subject"), "digest");
    struct digest sd;
    if (type == NULL || subject == NULL || digest_parse(subject, &sd, NULL) < 0 ||
        !json_is_array(layers))
        return kiln_error_set(err, KILN_E_INVALID,
                              "manifest sha256:%s: not an artifact with a subject", d->digest.hex),
               NULL;
    json_t *e = json_object();
    json_object_set_new(e, "mediaType", json_string(MT_OCI_MANIFEST));
    json_object_set_new(e, "digest", json_sprintf("sha256:%s", d->digest.hex));
    json_object_set_new(e, "size", json_integer((json_int_t)d->size));
    json_object_set_new(e, "artifactType", json_string(type));
    json_t *ann = json_pack("{s:s}", ANNOTATION_KILN_SUBJECT, subject);
    const char *created =
        json_get_str(json_object_get(doc, "annotations"), ANNOTATION_IMAGE_CREATED);
    if (created)
        json_object_set_new(ann, ANNOTATION_IMAGE_CREATED, json_string(created));
    json_object_set_new(e, "annotations", ann);
    return e;
}

/* Puts entry into index.json; drops entries of the same subject and type
 * when replace is set (an artifact made again), or of the same digest. */
static int index_put(struct store *s, json_t *entry, int replace, struct kiln_error **err)
{
    if (store_lock(s, err) < 0)
        return -1;
    int rc = -1;
    json_t *index = store_index_read(s, err);
    if (index == NULL)
        goto out;
    json_t *ms = json_object_get(index, "manifests");
    const char *type = json_get_str(entry, "artifactType");
    const char *subj = json_get_str(json_object_get(entry, "annotations"), ANNOTATION_KILN_SUBJECT);
    const char *dg = json_get_str(entry, "digest");
    int changed = 1;
    for (size_t i = 0; i < json_array_size(ms);) {
        json_t *m = json_array_get(ms, i);
        const char *t = json_get_str(m, "artifactType");
        const char *sj = json_get_str(json_object_get(m, "annotations"), ANNOTATION_KILN_SUBJECT);
        const char *d = json_get_str(m, "digest");
        if (t && d && strcmp(d, dg) == 0 && json_equal(m, entry)) {
            changed = 0; /* the same entry: keep index.json as it is */
            i++;
        } else if (t && sj && d &&
                   (strcmp(d, dg) == 0 ||
                    (replace && strcmp(t, type) == 0 && strcmp(sj, subj) == 0))) {
            json_array_remove(ms, i);
        } else {
            i++;
        }
    }
    if (changed) {
        json_array_append(ms, entry);
        rc = store_index_write(s, index, err);
    } else {
        rc = 0;
    }
out:
    json_decref(index);
    store_unlock(s);
    return rc;
}

int referrers_attach(struct store *s, const struct descriptor *subject, const char *artifact_type,
                     const char *created, const void *data, size_t len, struct descriptor *out,
                     struct kiln_error **err)
{
    struct descriptor layer = {.media_type = (char *)artifact_type, .size = len};
    if (store_blob_put(s, data, len, NULL, &layer.digest, err) < 0 ||
        store_blob_put(s, "{}", 2, NULL, NULL, err) < 0)
        return kiln_error_prefix(err, "attach %s", artifact_type);
    cleanup_free char *body = referrers_manifest_json(subject, artifact_type, created, &layer);
    struct descriptor d = {0};
    if (store_blob_put(s, body, strlen(body), NULL, &d.digest, err) < 0)
        return kiln_error_prefix(err, "attach %s", artifact_type);
    d.size = strlen(body);
    cleanup_json json_t *doc = json_loads(body, 0, NULL);
    cleanup_json json_t *entry = entry_for(&d, doc, err);
    if (entry == NULL || index_put(s, entry, 1, err) < 0)
        return -1;
    if (out) {
        *out = d;
        out->media_type = xstrdup(MT_OCI_MANIFEST);
    }
    return 0;
}

int referrers_record(struct store *s, const struct descriptor *manifest, struct kiln_error **err)
{
    cleanup_json json_t *doc = store_blob_read_json(s, &manifest->digest, err);
    if (doc == NULL)
        return -1;
    cleanup_digest_set struct digest_set *blobs = digest_set_new();
    if (store_manifest_walk(s, manifest, 1, blobs, NULL, err) < 0)
        return -1;
    cleanup_json json_t *entry = entry_for(manifest, doc, err);
    if (entry == NULL)
        return -1;
    return index_put(s, entry, 0, err);
}

int referrers_list(struct store *s, const struct digest *subject, struct referrer **out, size_t *n,
                   struct kiln_error **err)
{
    *out = NULL;
    *n = 0;
    cleanup_json json_t *index = store_index_read(s, err);
    if (index == NULL)
        return -1;
    json_t *ms = json_object_get(index, "manifests");
    struct referrer *v = xcalloc(json_array_size(ms) + 1, sizeof(*v));
    size_t k = 0, i;
    json_t *m;
    json_array_foreach(ms, i, m)
    {
        const char *t = json_get_str(m, "artifactType");
        json_t *ann = json_object_get(m, "annotations");
        const char *sj = json_get_str(ann, ANNOTATION_KILN_SUBJECT);
        struct digest sd;
        if (t == NULL || sj == NULL || digest_parse(sj, &sd, NULL) < 0 ||
            (subject && !digest_equal(&sd, subject)))
            continue;
        if (descriptor_from_json(m, &v[k].manifest, "index.json", NULL) < 0)
            continue;
        v[k].artifact_type = xstrdup(t);
        v[k].subject = sd;
        const char *c = json_get_str(ann, ANNOTATION_IMAGE_CREATED);
        v[k].created = c ? xstrdup(c) : NULL;
        k++;
    }
    *out = v;
    *n = k;
    return 0;
}

int referrers_read_artifact(struct store *s, const char *what, const struct platform *want,
                            const char *artifact_type, char **doc, size_t *len,
                            struct kiln_error **err)
{
    cleanup_image struct image *img = NULL;
    if ((want ? store_image_load_platform(s, what, want, &img, err)
              : store_image_load(s, what, &img, err)) < 0)
        return -1;
    struct referrer *r = NULL;
    size_t n = 0;
    if (referrers_list(s, &img->manifest.digest, &r, &n, err) < 0)
        return -1;
    int rc = 1;                               /* 1: none found yet */
    for (size_t i = n; i-- > 0 && rc == 1;) { /* the newest first */
        if (strcmp(r[i].artifact_type, artifact_type) != 0)
            continue;
        cleanup_json json_t *m = store_blob_read_json(s, &r[i].manifest.digest, err);
        struct descriptor layer;
        if (m == NULL || descriptor_from_json(json_array_get(json_object_get(m, "layers"), 0),
                                              &layer, "artifact manifest", err) < 0) {
            rc = -1;
            break;
        }
        rc = store_blob_read(s, &layer.digest, ARTIFACT_MAX, doc, len, err);
        descriptor_release(&layer);
    }
    if (rc == 1)
        rc = kiln_error_set(err, KILN_E_NOTFOUND,
                            "%s (manifest sha256:%s) has no attached %s (kiln build --sbom "
                            "attaches one; kiln pull brings it from the registry)",
                            what, img->manifest.digest.hex, artifact_type);
    referrers_free(r, n);
    return rc;
}

int referrers_drop_orphans(struct store *s, int dry_run, size_t *dropped, struct kiln_error **err)
{
    *dropped = 0;
    if (store_lock(s, err) < 0)
        return -1;
    int rc = -1;
    cleanup_digest_set struct digest_set *live = digest_set_new();
    json_t *index = store_index_read(s, err);
    if (index == NULL)
        goto out;
    json_t *ms = json_object_get(index, "manifests");
    size_t i;
    json_t *m;
    /* every manifest the other entries reach (an index's images too) */
    json_array_foreach(ms, i, m)
    {
        struct descriptor d;
        if (json_object_get(m, "artifactType") == NULL &&
            descriptor_from_json(m, &d, "index.json", NULL) == 0) {
            store_manifest_walk(s, &d, 0, live, NULL, NULL);
            descriptor_release(&d);
        }
    }
    for (i = 0; i < json_array_size(ms);) {
        m = json_array_get(ms, i);
        const char *sj = json_get_str(json_object_get(m, "annotations"), ANNOTATION_KILN_SUBJECT);
        struct digest sd;
        if (json_object_get(m, "artifactType") && sj && digest_parse(sj, &sd, NULL) == 0 &&
            !digest_set_has(live, &sd)) {
            json_array_remove(ms, i);
            (*dropped)++;
        } else {
            i++;
        }
    }
    rc = *dropped > 0 && !dry_run ? store_index_write(s, index, err) : 0;
out:
    json_decref(index);
    store_unlock(s);
    return rc;
}
