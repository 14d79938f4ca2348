/* --cache-to: the record of a build's steps to a registry or an OCI layout
 * directory, and the type=inline annotation (format: build/cache_io.h). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/cache_io.h"
#include "registry/cache_xfer.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

static json_t *entry_to_json(const struct cache_step *s)
{
    char k[DIGEST_STR_LEN + 1], d[DIGEST_STR_LEN + 1], di[DIGEST_STR_LEN + 1];
    json_t *layer = json_null();
    if (s->e.has_layer)
        layer = json_pack("{s:s, s:s, s:s, s:I}", "mediaType", s->e.media_type, "digest",
                          digest_str(&s->e.digest, d), "diffID", digest_str(&s->e.diff_id, di),
                          "size", (json_int_t)s->e.size);
    return json_pack("{s:s, s:o}", "key", digest_str(&s->key, k), "layer", layer);
}

/* ---- export ------------------------------------------------------------------ */

/* Record config and manifest for steps; blobs[] (allocated) lists the
 * config then each distinct layer. */
static int make_record(struct store *s, const struct cache_step *steps, size_t n, char **manifest,
                       struct descriptor **blobs, size_t *n_blobs, struct kiln_error **err)
{
    cleanup_json json_t *arr = json_array();
    cleanup_json json_t *layers = json_array();
    struct descriptor *b = xcalloc(n + 1, sizeof(*b));
    size_t nb = 1;
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = digest_equal(&steps[j].key, &steps[i].key);
        if (dup || (steps[i].e.has_layer && !store_blob_has(s, &steps[i].e.digest)))
            continue; /* a lazily imported layer nothing needed: not ours to give */
        json_array_append_new(arr, entry_to_json(&steps[i]));
        if (!steps[i].e.has_layer)
            continue;
        int have = 0;
        for (size_t j = 1; j < nb && !have; j++)
            have = digest_equal(&b[j].digest, &steps[i].e.digest);
        if (have)
            continue;
        b[nb] = (struct descriptor){.media_type = xstrdup(steps[i].e.media_type),
                                    .digest = steps[i].e.digest,
                                    .size = steps[i].e.size};
        json_array_append_new(layers, descriptor_to_json(&b[nb]));
        nb++;
    }
    cleanup_json json_t *cfg =
        json_pack("{s:s, s:i, s:O}", "kind", "kiln-build-cache", "version", 1, "steps", arr);
    cleanup_free char *ctext = json_dump_canonical(cfg);
    b[0].media_type = xstrdup(CACHE_CONFIG_MT);
    b[0].size = strlen(ctext);
    if (store_blob_put(s, ctext, strlen(ctext), NULL, &b[0].digest, err) < 0) {
        for (size_t j = 0; j < nb; j++)
            descriptor_release(&b[j]);
        free(b);
        return -1;
    }
    cleanup_json json_t *m = json_pack("{s:i, s:s, s:s, s:o, s:O}", "schemaVersion", 2, "mediaType",
                                       MT_OCI_MANIFEST, "artifactType", CACHE_ARTIFACT_TYPE,
                                       "config", descriptor_to_json(&b[0]), "layers", layers);
    *manifest = json_dump_canonical(m);
    *blobs = b;
    *n_blobs = nb;
    return 0;
}

static int copy_blob(struct store *s, const char *dir, const struct descriptor *d,
                     struct kiln_error **err)
{
    cleanup_free char *dst = xasprintf("%s/blobs/sha256/%s", dir, d->digest.hex);
    if (path_exists(dst))
        return 0;
    cleanup_free char *src = store_blob_path(s, &d->digest);
    if (link(src, dst) == 0)
        return 0;
    cleanup_close int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return kiln_error_errno(err, errno, "open %s", src);
    cleanup_free char *tmp = xasprintf("%s.tmp", dst);
    cleanup_close int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0)
        return kiln_error_errno(err, errno, "create %s", tmp);
    char buf[1 << 16];
    ssize_t r;
    while ((r = read(in, buf, sizeof(buf))) > 0) {
        if (write_all(out, buf, (size_t)r) < 0)
            return kiln_error_errno(err, errno, "write %s", tmp);
    }
    if (r < 0 || fsync(out) < 0 || rename(tmp, dst) < 0) {
        int e = errno;
        unlink(tmp);
        return kiln_error_errno(err, e, "copy %s to %s", src, dst);
    }
    return 0;
}

static int export_local(struct store *s, const char *dir, const char *manifest,
                        const struct descriptor *blobs, size_t nb, struct kiln_error **err)
{
    cleanup_free char *bd = xasprintf("%s/blobs/sha256", dir);
    if (mkdir_p(bd, 0755, err) < 0)
        return -1;
    for (size_t i = 0; i < nb; i++)
        if (copy_blob(s, dir, &blobs[i], err) < 0)
            return -1;
    struct descriptor md = {.media_type = MT_OCI_MANIFEST, .size = strlen(manifest)};
    digest_bytes(manifest, md.size, &md.digest);
    cleanup_free char *mp = xasprintf("%s/%s", bd, md.digest.hex);
    if (write_file_atomic(mp, manifest, md.size, 0644, err) < 0)
        return -1;
    cleanup_free char *lp = path_join(dir, "oci-layout");
    const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
    if (write_file_atomic(lp, layout, strlen(layout), 0644, err) < 0)
        return -1;
    /* index.json: this record replaces an earlier one, other entries stay */
    cleanup_free char *ip = path_join(dir, "index.json");
    cleanup_json json_t *idx = NULL;
    if (path_exists(ip)) {
        cleanup_error struct kiln_error *e = NULL;
        idx = json_load_path(ip, 1 << 20, &e);
    }
    if (!json_is_array(json_object_get(idx, "manifests"))) {
        json_decref(idx);
        idx = json_pack("{s:i, s:[]}", "schemaVersion", 2, "manifests");
    }
    json_t *ms = json_object_get(idx, "manifests");
    for (size_t i = json_array_size(ms); i-- > 0;) {
        const char *at = json_get_str(json_array_get(ms, i), "artifactType");
        if (at != NULL && strcmp(at, CACHE_ARTIFACT_TYPE) == 0)
            json_array_remove(ms, i);
    }
    json_t *d = descriptor_to_json(&md);
    json_object_set_new(d, "artifactType", json_string(CACHE_ARTIFACT_TYPE));
    json_object_set_new(d, "annotations",
                        json_pack("{s:s}", "org.opencontainers.image.ref.name", CACHE_LAYOUT_REF));
    json_array_append_new(ms, d);
    cleanup_free char *text = json_dump_canonical(idx);
    return write_file_atomic(ip, text, strlen(text), 0644, err);
}

int cache_export(struct store *s, const struct cache_io_spec *spec, const struct cache_step *steps,
                 size_t n, const struct registry_opts *ro, struct kiln_error **err)
{
    cleanup_free char *manifest = NULL;
    struct descriptor *blobs = NULL;
    size_t nb = 0;
    if (make_record(s, steps, n, &manifest, &blobs, &nb, err) < 0)
        return -1;
    int rc;
    if (spec->kind == CACHE_IO_LOCAL) {
        rc = export_local(s, spec->dir, manifest, blobs, nb, err);
    } else {
        struct reg_cache_repo *r = NULL;
        rc = reg_cache_open(spec->ref, ro, &r, err);
        if (rc == 0)
            rc = reg_cache_put(r, s, blobs, nb, manifest, strlen(manifest), err);
        reg_cache_close(r);
    }
    for (size_t i = 0; i < nb; i++)
        descriptor_release(&blobs[i]);
    free(blobs);
    if (rc < 0)
        return kiln_error_prefix(err, "--cache-to %s",
                                 spec->kind == CACHE_IO_LOCAL ? spec->dir : spec->ref);
    return 0;
}

char *cache_inline_value(const struct cache_step *steps, size_t n, const struct image_layer *layers,
                         size_t n_layers)
{
    cleanup_json json_t *map = json_object();
    for (size_t i = 0; i < n; i++) {
        json_int_t idx = -1;
        if (steps[i].e.has_layer) {
            for (size_t j = 0; j < n_layers && idx < 0; j++)
                if (digest_equal(&layers[j].blob.digest, &steps[i].e.digest))
                    idx = (json_int_t)j;
            if (idx < 0)
                continue;
        }
        char k[DIGEST_STR_LEN + 1];
        json_object_set_new(map, digest_str(&steps[i].key, k), json_integer(idx));
    }
    return json_dump_canonical(map);
}
