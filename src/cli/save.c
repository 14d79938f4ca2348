/* kiln save: images out of the store as one tar, either an OCI image layout
 * (oci-archive: oci-layout, index.json with ref.name annotations, blobs/) or
 * Docker's `docker save` shape (docker-archive: manifest.json, <id>.json,
 * <diffid>/layer.tar). Blobs go out byte for byte, so a save/load round trip
 * keeps every digest. Entries are in a fixed order: the same images give the
 * same archive. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "store/layer_tar.h"
#include "store/reference.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

struct saved {
    struct image *img;
    char *tag; /* familiar name:tag, or NULL when saved by id */
    /* a tag on an index (oci-archive): the index and each of its images here */
    struct descriptor index;
    struct image **all;
    size_t n_all;
};

/* When what is a tag on an index: the index and every image it lists that the
 * store holds (a multi-platform image is saved whole). */
static int load_index_images(struct store *s, const char *what, struct saved *v,
                             struct kiln_error **err)
{
    struct descriptor td;
    if (store_resolve_tag(s, what, &td, NULL) < 0)
        return 0;
    cleanup_json json_t *doc = store_blob_read_json(s, &td.digest, err);
    json_t *entries = json_object_get(doc, "manifests");
    if (doc == NULL || !json_is_array(entries)) {
        descriptor_release(&td);
        return doc == NULL ? -1 : 0;
    }
    v->index = td;
    size_t i;
    json_t *m;
    json_array_foreach(entries, i, m)
    {
        struct descriptor d;
        uint64_t size;
        if (descriptor_from_json(m, &d, what, err) < 0)
            return -1;
        struct image *img = NULL;
        int rc = 0;
        if (store_blob_size(s, &d.digest, &size, NULL) == 0)
            rc = store_image_load_manifest_platform(s, &d.digest, NULL, &img, err);
        descriptor_release(&d);
        if (rc < 0)
            return -1;
        if (img != NULL) {
            v->all = xrealloc(v->all, (v->n_all + 1) * sizeof(*v->all));
            v->all[v->n_all++] = img;
        }
    }
    return 0;
}

static int put_bytes(struct tar_writer *w, const char *name, const void *data, size_t len,
                     struct kiln_error **err)
{
    struct tar_header h = {.name = name, .type = '0', .mode = 0644, .size = len};
    if (tar_write_header(w, &h, err) < 0)
        return -1;
    size_t done = 0;
    while (done < len) {
        size_t room = len - done;
        void *p = tar_data_buffer(w, &room, err);
        if (p == NULL)
            return -1;
        memcpy(p, (const char *)data + done, room);
        tar_data_commit(w, room, err);
        done += room;
    }
    return tar_data_end(w, len, err);
}

static int put_dir(struct tar_writer *w, const char *name, struct kiln_error **err)
{
    struct tar_header h = {.name = name, .type = '5', .mode = 0755};
    return tar_write_header(w, &h, err);
}

static int put_blob(struct store *s, struct tar_writer *w, const char *name,
                    const struct descriptor *d, struct kiln_error **err)
{
    cleanup_close int fd = store_blob_open(s, &d->digest, err);
    if (fd < 0)
        return -1;
    struct tar_header h = {.name = name, .type = '0', .mode = 0644, .size = d->size};
    if (tar_write_header(w, &h, err) < 0)
        return -1;
    uint64_t left = d->size;
    while (left > 0) {
        size_t room = left > (1u << 20) ? (1u << 20) : (size_t)left;
        void *p = tar_data_buffer(w, &room, err);
        if (p == NULL)
            return -1;
        ssize_t n = read(fd, p, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return kiln_error_set(err, KILN_E_DIGEST,
                                  "blob sha256:%s is shorter than its descriptor; run 'kiln fsck'",
                                  d->digest.hex);
        tar_data_commit(w, (size_t)n, err);
        left -= (uint64_t)n;
    }
    return tar_data_end(w, d->size, err);
}

static int put_json(struct tar_writer *w, const char *name, const json_t *v,
                    struct kiln_error **err)
{
    cleanup_free char *text = json_dump_canonical(v);
    return put_bytes(w, name, text, strlen(text), err);
}

static int blob_seen(json_t *seen, const struct digest *d)
{
    if (json_object_get(seen, d->hex) != NULL)
        return 1;
    json_object_set_new(seen, d->hex, json_true());
    return 0;
}

static int save_image_blobs(struct store *s, struct tar_writer *w, struct image *img, json_t *seen,
                            struct kiln_error **err);

static int save_oci(struct store *s, struct saved *v, size_t n, struct tar_writer *w,
                    struct kiln_error **err)
{
    cleanup_json json_t *index =
        json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests");
    json_t *list = json_object_get(index, "manifests");
    for (size_t i = 0; i < n; i++) {
        json_t *d = descriptor_to_json(v[i].n_all ? &v[i].index : &v[i].img->manifest);
        if (v[i].tag != NULL)
            json_object_set_new(d, "annotations",
                                json_pack("{s:s}", ANNOTATION_REF_NAME, v[i].tag));
        json_array_append_new(list, d);
    }
    if (put_bytes(w, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30, err) < 0 ||
        put_json(w, "index.json", index, err) < 0 || put_dir(w, "blobs/", err) < 0 ||
        put_dir(w, "blobs/sha256/", err) < 0)
        return -1;
    cleanup_json json_t *seen = json_object();
    for (size_t i = 0; i < n; i++) {
        if (v[i].n_all > 0 && !blob_seen(seen, &v[i].index.digest)) {
            cleanup_free char *name = xasprintf("blobs/sha256/%s", v[i].index.digest.hex);
            if (put_blob(s, w, name, &v[i].index, err) < 0)
                return -1;
        }
        for (size_t j = 0; j < v[i].n_all; j++)
            if (save_image_blobs(s, w, v[i].all[j], seen, err) < 0)
                return -1;
        if (save_image_blobs(s, w, v[i].img, seen, err) < 0)
            return -1;
    }
    return 0;
}

static int save_image_blobs(struct store *s, struct tar_writer *w, struct image *img, json_t *seen,
                            struct kiln_error **err)
{
    {
        size_t nd = img->n_layers + 2;
        const struct descriptor **ds = xcalloc(nd, sizeof(*ds));
        ds[0] = &img->manifest;
        ds[1] = &img->config;
        for (size_t k = 0; k < img->n_layers; k++)
            ds[k + 2] = &img->layers[k].blob;
        int rc = 0;
        for (size_t k = 0; k < nd && rc == 0; k++) {
            if (blob_seen(seen, &ds[k]->digest))
                continue;
            cleanup_free char *name = xasprintf("blobs/sha256/%s", ds[k]->digest.hex);
            rc = put_blob(s, w, name, ds[k], err);
        }
        free(ds);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int save_docker(struct store *s, struct saved *v, size_t n, struct tar_writer *w,
                       struct kiln_error **err)
{
    cleanup_json json_t *manifest = json_array();
    cleanup_json json_t *seen = json_object();
    for (size_t i = 0; i < n; i++) {
        struct image *img = v[i].img;
        cleanup_free char *cfg = xasprintf("%s.json", img->config.digest.hex);
        json_t *layers = json_array();
        for (size_t k = 0; k < img->n_layers; k++) {
            cleanup_free char *path = xasprintf("%s/layer.tar", img->layers[k].diffid.hex);
            json_array_append_new(layers, json_string(path));
        }
        json_t *tags = json_array();
        if (v[i].tag != NULL)
            json_array_append_new(tags, json_string(v[i].tag));
        json_array_append_new(manifest, json_pack("{s:s, s:o, s:o}", "Config", cfg, "RepoTags",
                                                  tags, "Layers", layers));
    }
    if (put_json(w, "manifest.json", manifest, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct image *img = v[i].img;
        if (!blob_seen(seen, &img->config.digest)) {
            cleanup_free char *cfg = xasprintf("%s.json", img->config.digest.hex);
            if (put_blob(s, w, cfg, &img->config, err) < 0)
                return -1;
        }
        for (size_t k = 0; k < img->n_layers; k++) {
            if (blob_seen(seen, &img->layers[k].blob.digest))
                continue;
            cleanup_free char *dir = xasprintf("%s/", img->layers[k].diffid.hex);
            cleanup_free char *file = xasprintf("%s/layer.tar", img->layers[k].diffid.hex);
            if (put_dir(w, dir, err) < 0 || put_blob(s, w, file, &img->layers[k].blob, err) < 0)
                return -1;
        }
    }
    return 0;
}

/* The familiar "name:tag" when what names a tag in the store. */
static char *tag_of(struct store *s, const char *what)
{
    struct descriptor d;
    if (store_resolve_tag(s, what, &d, NULL) < 0)
        return NULL;
    descriptor_release(&d);
    struct reference r;
    if (reference_parse(what, &r, NULL) < 0)
        return NULL;
    char *f = r.tag ? reference_familiar(&r) : NULL;
    reference_release(&r);
    return f;
}

static int sink_to_fd(void *ctx, const void *buf, size_t len, struct kiln_error **err)
{
    struct byte_sink fdsink = byte_sink_fd(*(int *)ctx);
    return fdsink.write(fdsink.ctx, buf, len, err);
}

static const char *output, *format = "oci-archive";

static const struct cli_opt save_opts[] = {
    {'o', "output", CLI_OPT_STRING, &output, "FILE", "where to write; - for stdout", NULL},
    {'f', "format", CLI_OPT_STRING, &format, "F", "oci-archive (default) or docker-archive", NULL},
    CLI_OPT_END,
};

static const struct cli_spec save_spec = {
    .name = "save",
    .args = "-o FILE IMAGE...",
    .summary = "write images to an oci-archive or docker-archive tar",
    .text = "Writes the images (with their tags) into one tar archive that `kiln load`,\n"
            "`podman load` (docker-archive) and `skopeo copy oci-archive:FILE` read.\n"
            "Layers are written as stored, so digests survive a save/load round trip.\n",
    .opts = save_opts,
    .min_args = 1,
    .max_args = -1,
};

static int cmd_save(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&save_spec, argc, argv);
    if (first <= 0)
        return -first;
    int docker = strcmp(format, "docker-archive") == 0;
    if (!docker && strcmp(format, "oci-archive") != 0)
        return cli_usage_error("save", "unknown --format \"%s\" (oci-archive or docker-archive)",
                               format);
    if (output == NULL)
        return cli_usage_error("save", "needs -o FILE (or -o - for stdout)");
    if (strcmp(output, "-") == 0 && isatty(1))
        return cli_usage_error("save", "refusing to write a tar to a terminal");

    struct kiln_error *err = NULL;
    cleanup_free char *root = cli_store_root(g);
    cleanup_store struct store *s = NULL;
    if (store_open(root, &s, &err) < 0)
        return cli_fail(err);
    size_t n = (size_t)(argc - first);
    struct saved *v = xcalloc(n, sizeof(*v));
    int rc = -1;
    cleanup_free char *partial = NULL;
    cleanup_close int out = -1;
    struct tar_writer *w = NULL;
    for (size_t i = 0; i < n; i++) {
        if (store_image_load(s, argv[first + (int)i], &v[i].img, &err) < 0)
            goto done;
        if (!docker && load_index_images(s, argv[first + (int)i], &v[i], &err) < 0)
            goto done;
        v[i].tag = tag_of(s, argv[first + (int)i]);
    }
    if (strcmp(output, "-") == 0) {
        out = fcntl(1, F_DUPFD_CLOEXEC, 0);
    } else {
        out = output_open(output, 0644, &partial, &err);
        if (out < 0)
            goto done;
    }
    w = tar_writer_new((struct byte_sink){sink_to_fd, &out});
    if ((docker ? save_docker(s, v, n, w, &err) : save_oci(s, v, n, w, &err)) < 0 ||
        tar_writer_finish(w, NULL, NULL, &err) < 0)
        goto done;
    if (strcmp(output, "-") != 0 && output_commit(out, partial, output, &err) < 0)
        goto done;
    rc = 0;
done:
    tar_writer_free(w);
    if (rc < 0)
        output_abort(partial);
    for (size_t i = 0; i < n; i++) {
        image_free(v[i].img);
        free(v[i].tag);
        for (size_t j = 0; j < v[i].n_all; j++)
            image_free(v[i].all[j]);
        free(v[i].all);
        descriptor_release(&v[i].index);
    }
    free(v);
    return rc < 0 ? cli_fail(err) : EXIT_OK;
}

const struct cli_command cli_cmd_save = {
    .name = "save",
    .run = cmd_save,
    .spec = &save_spec,
};
