/* Referrers over the distribution API (distribution-spec 1.1): an image's
 * attached artifacts (store/referrers.h) go up after the image and come down
 * after it. Where the registry answers GET /v2/<name>/referrers/<digest>, that
 * list is used; where it does not (Debian's docker-registry 2.8), the
 * referrers tag schema: the tag sha256-<hex> of the subject holds an OCI
 * index of the artifacts, which the pusher updates. */
#include <stdlib.h>
#include <string.h>

#include "registry/pull.h"
#include "registry/push.h"
#include "registry/referrers.h"
#include "store/reference.h"
#include "store/referrers.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

#define LIST_MAX (4u << 20)

/* GETs url (a referrers list or the tag schema's index): the parsed index,
 * or NULL with *absent = 1 on 404 (or an API answer that is not an index). */
static json_t *get_index(struct reg_client *c, const char *path, const char *url, int *absent,
                         struct kiln_error **err)
{
    cleanup_free char *scope = xasprintf("repository:%s:pull", path);
    struct reg_request rq = {
        .method = "GET", .url = url, .scope = scope, .accept = MT_OCI_INDEX, .max_body = LIST_MAX};
    struct reg_response r = {0};
    *absent = 0;
    if (reg_do(c, &rq, &r, err) < 0)
        return NULL;
    json_t *doc = NULL;
    if (r.status == 404 || r.status == 400 || r.status == 405) {
        *absent = 1;
    } else if (r.status != 200) {
        reg_status_error(c, &r, url, err);
    } else {
        doc = json_loadb(r.body.buf, r.body.len, 0, NULL);
        if (!json_is_array(json_object_get(doc, "manifests"))) {
            json_decref(doc);
            doc = NULL;
            *absent = 1;
        }
    }
    reg_response_release(&r);
    return doc;
}

/* The registry's list of referrers of subject: API first, else the tag. */
static json_t *remote_list(struct reg_client *c, const char *path, const struct digest *subject,
                           int *via_api, struct kiln_error **err)
{
    int absent = 0;
    cleanup_free char *api = xasprintf("/v2/%s/referrers/sha256:%s", path, subject->hex);
    json_t *doc = get_index(c, path, api, &absent, err);
    *via_api = doc != NULL;
    if (doc != NULL || !absent)
        return doc;
    cleanup_free char *tag = xasprintf("/v2/%s/manifests/sha256-%s", path, subject->hex);
    doc = get_index(c, path, tag, &absent, err);
    if (doc == NULL && absent)
        doc = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX,
                        "manifests");
    return doc;
}

static int listed(const json_t *index, const char *digest)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(index, "manifests"), i, m)
    {
        const char *d = json_get_str(m, "digest");
        if (d && strcmp(d, digest) == 0)
            return 1;
    }
    return 0;
}

/* Pushes one artifact (its blobs and manifest, re-pointed at the pushed
 * subject) and makes the registry list it. */
static int push_one(struct reg_client *c, struct store *s, const struct reference *ref,
                    const struct referrer *rf, const struct descriptor *subject,
                    struct kiln_error **err)
{
    cleanup_json json_t *m = store_blob_read_json(s, &rf->manifest.digest, err);
    if (m == NULL)
        return -1;
    json_t *layers = json_object_get(m, "layers");
    struct descriptor cfg = {0}, layer = {0};
    int rc = descriptor_from_json(json_object_get(m, "config"), &cfg, "artifact", err);
    if (rc == 0)
        rc = descriptor_from_json(json_array_get(layers, 0), &layer, "artifact", err);
    if (rc == 0 && json_array_size(layers) != 1)
        rc = kiln_error_set(err, KILN_E_INVALID, "artifact sha256:%s: one layer expected",
                            rf->manifest.digest.hex);
    if (rc == 0)
        rc = push_blob(c, s, ref->path, &cfg, err);
    if (rc == 0)
        rc = push_blob(c, s, ref->path, &layer, err);
    /* The stored bytes when the subject kept its digest, else re-pointed. */
    cleanup_free char *body = NULL;
    size_t blen = 0;
    if (rc == 0 && digest_equal(&rf->subject, &subject->digest))
        rc = store_blob_read(s, &rf->manifest.digest, STORE_JSON_MAX, &body, &blen, err);
    else if (rc == 0)
        body = referrers_manifest_json(subject, rf->artifact_type, rf->created, &layer);
    struct descriptor pushed = {.media_type = (char *)MT_OCI_MANIFEST};
    char mds[DIGEST_STR_LEN + 1];
    if (rc == 0) {
        pushed.size = strlen(body);
        digest_bytes(body, pushed.size, &pushed.digest);
        digest_str(&pushed.digest, mds);
        rc = put_manifest(c, ref, 1, MT_OCI_MANIFEST, body, pushed.size, mds, err);
    }
    descriptor_release(&cfg);
    descriptor_release(&layer);
    if (rc < 0)
        return kiln_error_prefix(err, "push of the %s attached to %s", rf->artifact_type,
                                 ref->path);
    int via_api = 0;
    cleanup_json json_t *list = remote_list(c, ref->path, &subject->digest, &via_api, err);
    if (list == NULL)
        return -1;
    if (listed(list, mds))
        return 0; /* the API lists it (or the tag has it already) */
    /* The referrers tag schema: add the artifact to the index under sha256-<hex>. */
    json_t *e = json_object();
    json_object_set_new(e, "mediaType", json_string(MT_OCI_MANIFEST));
    json_object_set_new(e, "digest", json_string(mds));
    json_object_set_new(e, "size", json_integer((json_int_t)pushed.size));
    json_object_set_new(e, "artifactType", json_string(rf->artifact_type));
    if (rf->created)
        json_object_set_new(e, "annotations",
                            json_pack("{s:s}", ANNOTATION_IMAGE_CREATED, rf->created));
    json_t *ms = json_object_get(list, "manifests");
    /* an older artifact of the same type for this subject is replaced */
    for (size_t i = 0; i < json_array_size(ms);) {
        const char *t = json_get_str(json_array_get(ms, i), "artifactType");
        if (t && strcmp(t, rf->artifact_type) == 0)
            json_array_remove(ms, i);
        else
            i++;
    }
    json_array_append_new(ms, e);
    cleanup_free char *ibody = json_dump_canonical(list);
    struct digest idg;
    digest_bytes(ibody, strlen(ibody), &idg);
    char ids[DIGEST_STR_LEN + 1];
    digest_str(&idg, ids);
    struct reference tagref = *ref;
    cleanup_free char *tag = xasprintf("sha256-%s", subject->digest.hex);
    tagref.tag = tag;
    tagref.has_digest = 0;
    return put_manifest(c, &tagref, 0, MT_OCI_INDEX, ibody, strlen(ibody), ids, err);
}

int registry_push_referrers(struct store *s, const struct digest *local_subject,
                            const struct descriptor *pushed_subject, const struct reference *ref,
                            const struct registry_opts *opts, struct kiln_error **err)
{
    struct referrer *r = NULL;
    size_t n = 0;
    if (referrers_list(s, local_subject, &r, &n, err) < 0)
        return -1;
    if (n == 0) {
        referrers_free(r, n);
        return 0;
    }
    struct reg_client *c = NULL;
    int rc = reg_client_new(reference_registry_host(ref), ref->domain, opts, &c, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = push_one(c, s, ref, &r[i], pushed_subject, err);
    reg_client_free(c);
    referrers_free(r, n);
    return rc;
}

/* Fetches one listed artifact of subject into the store and records it. */
static int pull_one_artifact(struct reg_client *c, struct store *s, const char *path,
                             const json_t *entry, const struct digest *subject,
                             struct kiln_error **err)
{
    struct descriptor want;
    if (descriptor_from_json(entry, &want, "referrers list", err) < 0)
        return -1;
    char ws[DIGEST_STR_LEN + 1];
    digest_str(&want.digest, ws);
    cleanup_free char *what = xasprintf("artifact %s", ws);
    char *body = NULL, *ctype = NULL;
    size_t len = 0;
    struct digest dg;
    int rc = pull_fetch_manifest(c, path, ws, &want, what, &body, &len, &ctype, &dg, err);
    json_t *m = rc == 0 ? json_parse_bytes(body, len, what, err) : NULL;
    const char *sd = json_get_str(json_object_get(m, "subject"), "digest");
    char ss[DIGEST_STR_LEN + 1];
    if (rc == 0 && m == NULL)
        rc = -1;
    else if (rc == 0 && (sd == NULL || strcmp(sd, digest_str(subject, ss)) != 0))
        rc = kiln_error_set(err, KILN_E_INVALID, "%s: its subject is not %s", what, ss);
    struct descriptor parts[2] = {0};
    const struct descriptor *wantv[2] = {&parts[0], &parts[1]};
    size_t np = 0;
    if (rc == 0) {
        json_t *layers = json_object_get(m, "layers");
        rc = descriptor_from_json(json_object_get(m, "config"), &parts[0], what, err);
        if (rc == 0 && json_array_size(layers) != 1)
            rc = kiln_error_set(err, KILN_E_INVALID, "%s: one layer expected", what);
        if (rc == 0)
            rc = descriptor_from_json(json_array_get(layers, 0), &parts[1], what, err);
        np = rc == 0 ? 2 : 0;
    }
    if (rc == 0)
        rc = pull_blobs(c, s, path, wantv, np, err);
    if (rc == 0)
        rc = store_blob_put(s, body, len, &dg, NULL, err);
    if (rc == 0) {
        struct descriptor d = {.media_type = (char *)MT_OCI_MANIFEST, .digest = dg, .size = len};
        rc = referrers_record(s, &d, err);
    }
    descriptor_release(&parts[0]);
    descriptor_release(&parts[1]);
    descriptor_release(&want);
    json_decref(m);
    free(body);
    free(ctype);
    return rc;
}

int registry_pull_referrers(struct reg_client *given, struct store *s, const struct digest *subject,
                            const struct reference *ref, const struct registry_opts *opts,
                            size_t *count, struct kiln_error **err)
{
    *count = 0;
    struct reg_client *c = given;
    if (c == NULL && reg_client_new(reference_registry_host(ref), ref->domain, opts, &c, err) < 0)
        return -1;
    int via_api = 0;
    json_t *list = remote_list(c, ref->path, subject, &via_api, err);
    int rc = list == NULL ? -1 : 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(list, "manifests"), i, e)
    {
        if (rc < 0)
            break;
        rc = pull_one_artifact(c, s, ref->path, e, subject, err);
        if (rc == 0)
            (*count)++;
    }
    json_decref(list);
    if (given == NULL)
        reg_client_free(c);
    return rc;
}
