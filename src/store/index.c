/* index.json: the layout's list of manifests, and kiln's tags as
 * org.opencontainers.image.ref.name annotations in familiar form. Readers
 * need no lock (the file is replaced atomically); writers hold the store lock
 * across read-modify-write. */
#include "store/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/digest_set.h"
#include "store/reference.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

json_t *store_index_read(struct store *s, struct kiln_error **err)
{
    cleanup_free char *data = NULL;
    size_t len = 0;
    struct kiln_error *rerr = NULL;
    if (read_file_at(s->root_fd, "index.json", STORE_JSON_MAX, &data, &len, &rerr) < 0) {
        if (rerr->errnum != ENOENT) {
            kiln_error_prefix(&rerr, "store %s", s->root);
            *err = rerr;
            return NULL;
        }
        kiln_error_free(rerr);
        return json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX,
                         "manifests");
    }
    cleanup_free char *what = path_join(s->root, "index.json");
    json_t *index = json_parse_bytes(data, len, what, err);
    if (index == NULL)
        return NULL;
    if (!json_is_object(index) || !json_is_array(json_object_get(index, "manifests"))) {
        json_decref(index);
        kiln_error_set(err, KILN_E_INVALID, "%s: not an OCI image index (no manifests array)",
                       what);
        return NULL;
    }
    return index;
}

int store_write_root_file(struct store *s, const char *name, const char *data, size_t len,
                          struct kiln_error **err)
{
    if (store_session(s, err) < 0)
        return -1;
    cleanup_free char *tmp = path_join(s->scratch, name);
    cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return kiln_error_errno(err, errno, "create %s", tmp);
    if (write_all(fd, data, len) < 0 || fsync(fd) < 0)
        return kiln_error_errno(err, errno, "write %s", tmp);
    if (renameat(AT_FDCWD, tmp, s->root_fd, name) < 0)
        return kiln_error_errno(err, errno, "replace %s/%s", s->root, name);
    if (fsync(s->root_fd) < 0)
        return kiln_error_errno(err, errno, "sync %s", s->root);
    return 0;
}

int store_index_write(struct store *s, const json_t *index, struct kiln_error **err)
{
    cleanup_free char *data = json_dump_canonical(index);
    return store_write_root_file(s, "index.json", data, strlen(data), err);
}

static const char *entry_name(const json_t *entry)
{
    return json_string_value(
        json_object_get(json_object_get(entry, "annotations"), ANNOTATION_REF_NAME));
}

/* 1 if the entry's tag names the same image as normalized. */
static int entry_matches(const json_t *entry, const char *normalized)
{
    const char *name = entry_name(entry);
    if (name == NULL)
        return 0;
    cleanup_free char *n = reference_normalize_str(name, NULL);
    return n != NULL && strcmp(n, normalized) == 0;
}

/* The normalized and familiar "name:tag" of a user's ref, which must have a tag. */
static int tag_forms(const char *ref, char **normalized, char **familiar, struct kiln_error **err)
{
    struct reference r;
    if (reference_parse(ref, &r, err) < 0)
        return -1;
    if (r.tag == NULL) {
        reference_release(&r);
        return kiln_error_set(err, KILN_E_INVALID,
                              "\"%s\" names a digest, not a tag: give NAME[:TAG]", ref);
    }
    r.has_digest = 0;
    *normalized = reference_normalized(&r);
    *familiar = reference_familiar(&r);
    reference_release(&r);
    return 0;
}

static int check_present(struct store *s, const char *ref, const struct descriptor *manifest,
                         struct kiln_error **err)
{
    uint64_t size = 0;
    if (store_blob_size(s, &manifest->digest, &size, NULL) < 0)
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "cannot tag %s: manifest sha256:%s is not in the store", ref,
                              manifest->digest.hex);
    if (size != manifest->size)
        return kiln_error_set(
            err, KILN_E_DIGEST, "cannot tag %s: manifest sha256:%s has %llu bytes, not %llu", ref,
            manifest->digest.hex, (unsigned long long)size, (unsigned long long)manifest->size);
    cleanup_digest_set struct digest_set *blobs = digest_set_new();
    if (store_manifest_walk(s, manifest, 1, blobs, NULL, err) < 0)
        return kiln_error_prefix(err, "cannot tag %s", ref);
    return 0;
}

int store_tag(struct store *s, const char *ref, const struct descriptor *manifest,
              struct kiln_error **err)
{
    cleanup_free char *normalized = NULL, *familiar = NULL;
    if (tag_forms(ref, &normalized, &familiar, err) < 0)
        return -1;
    if (store_lock(s, err) < 0)
        return -1;
    int rc = -1;
    json_t *index = NULL;
    if (check_present(s, familiar, manifest, err) < 0 || (index = store_index_read(s, err)) == NULL)
        goto out;
    json_t *entry = descriptor_to_json(manifest);
    if (manifest->media_type == NULL || manifest->media_type[0] == '\0') {
        cleanup_json json_t *doc = store_blob_read_json(s, &manifest->digest, NULL);
        const char *mt = json_string_value(json_object_get(doc, "mediaType"));
        json_object_set_new(entry, "mediaType", json_string(mt ? mt : MT_OCI_MANIFEST));
    }
    json_object_set_new(entry, "annotations", json_pack("{s:s}", ANNOTATION_REF_NAME, familiar));
    json_t *manifests = json_object_get(index, "manifests");
    int placed = 0, changed = 0;
    for (size_t i = 0; i < json_array_size(manifests);) {
        json_t *old = json_array_get(manifests, i);
        if (!entry_matches(old, normalized)) {
            i++;
        } else if (!placed) {
            changed |= !json_equal(old, entry);
            json_array_set(manifests, i++, entry);
            placed = 1;
        } else {
            json_array_remove(manifests, i);
            changed = 1;
        }
    }
    if (!placed) {
        json_array_append(manifests, entry);
        changed = 1;
    }
    json_decref(entry);
    /* A rebuild that gives the same image leaves index.json (and its fsyncs) alone. */
    rc = changed ? store_index_write(s, index, err) : 0;
out:
    json_decref(index);
    store_unlock(s);
    return rc;
}

int store_untag(struct store *s, const char *ref, struct kiln_error **err)
{
    cleanup_free char *normalized = NULL, *familiar = NULL;
    if (tag_forms(ref, &normalized, &familiar, err) < 0)
        return -1;
    if (store_lock(s, err) < 0)
        return -1;
    int rc = -1, removed = 0;
    json_t *index = store_index_read(s, err);
    if (index == NULL)
        goto out;
    json_t *manifests = json_object_get(index, "manifests");
    for (size_t i = 0; i < json_array_size(manifests);) {
        if (entry_matches(json_array_get(manifests, i), normalized)) {
            json_array_remove(manifests, i);
            removed++;
        } else {
            i++;
        }
    }
    if (removed == 0)
        kiln_error_set(err, KILN_E_NOTFOUND, "no image is tagged %s", familiar);
    else
        rc = store_index_write(s, index, err);
out:
    json_decref(index);
    store_unlock(s);
    return rc;
}

void store_tag_entries_free(struct store_tag_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].name);
        descriptor_release(&e[i].manifest);
    }
    free(e);
}

int store_list_tags(struct store *s, struct store_tag_entry **out, size_t *n,
                    struct kiln_error **err)
{
    *out = NULL;
    *n = 0;
    cleanup_json json_t *index = store_index_read(s, err);
    if (index == NULL)
        return -1;
    json_t *manifests = json_object_get(index, "manifests");
    size_t count = json_array_size(manifests);
    struct store_tag_entry *e = xcalloc(count + 1, sizeof(*e));
    for (size_t i = 0; i < count; i++) {
        json_t *m = json_array_get(manifests, i);
        if (descriptor_from_json(m, &e[i].manifest, "index.json", err) < 0) {
            store_tag_entries_free(e, i);
            return kiln_error_prefix(err, "store %s", s->root);
        }
        const char *name = entry_name(m);
        e[i].name = name ? xstrdup(name) : NULL;
        e[i].referrer = json_object_get(m, "artifactType") != NULL;
    }
    *out = e;
    *n = count;
    return 0;
}

int store_resolve_tag(struct store *s, const char *ref, struct descriptor *out,
                      struct kiln_error **err)
{
    struct reference r;
    if (reference_parse(ref, &r, err) < 0)
        return -1;
    int has_digest = r.has_digest;
    struct digest want = r.digest;
    r.has_digest = 0;
    cleanup_free char *normalized = r.tag ? reference_normalized(&r) : NULL;
    reference_release(&r);

    struct store_tag_entry *e = NULL;
    size_t n = 0;
    if (store_list_tags(s, &e, &n, err) < 0)
        return -1;
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) {
        if (has_digest && !digest_equal(&e[i].manifest.digest, &want))
            continue;
        if (normalized != NULL) {
            cleanup_free char *en = e[i].name ? reference_normalize_str(e[i].name, NULL) : NULL;
            if (en == NULL || strcmp(en, normalized) != 0)
                continue;
        }
        descriptor_copy(out, &e[i].manifest);
        found = 1;
    }
    store_tag_entries_free(e, n);
    if (!found)
        return kiln_error_set(err, KILN_E_NOTFOUND, "image \"%s\" not found in store %s", ref,
                              s->root);
    return 0;
}
