/* kiln load: reads an oci-archive or docker-archive (detected by its
 * index.json or manifest.json; plain, gzip or zstd) into the store. The
 * archive is hostile input: its names are never used as paths, every blob is
 * checked against the digest and size that name it, every layer is checked
 * by the layer codec (names, links, devices, truncation) and must have the
 * diff id the config lists. Tags move only after all blobs are in place. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "cli/load_archive.h"
#include "registry/manifest.h"
#include "store/layer_read.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

/* The layer must pass the codec's checks and hash to the config's diff id. */
static int check_layer(struct loader *l, const struct descriptor *d, const char *want_diffid,
                       size_t idx, struct kiln_error **err)
{
    struct digest want;
    if (want_diffid == NULL || digest_parse(want_diffid, &want, NULL) < 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "load: config lists no valid diff id for layer %zu", idx + 1);
    cleanup_close int fd = store_blob_open(l->s, &d->digest, err);
    if (fd < 0)
        return -1;
    struct digest got;
    struct layer_extract_opts o = {0};
    if (layer_check(fd, &o, &got, NULL, err) < 0)
        return kiln_error_prefix(err, "load: layer %zu (sha256:%s)", idx + 1, d->digest.hex);
    if (!digest_equal(&got, &want))
        return kiln_error_set(err, KILN_E_DIGEST,
                              "load: layer %zu has diff id sha256:%s, the config says sha256:%s",
                              idx + 1, got.hex, want.hex);
    return 0;
}

static const char *layer_media_type(struct loader *l, const struct digest *d)
{
    unsigned char magic[4] = {0};
    cleanup_close int fd = store_blob_open(l->s, d, NULL);
    ssize_t n = fd >= 0 ? read(fd, magic, sizeof(magic)) : 0;
    enum compression c = compression_detect(magic, n > 0 ? (size_t)n : 0);
    return c == COMPRESSION_GZIP   ? MT_OCI_LAYER_GZIP
           : c == COMPRESSION_ZSTD ? MT_OCI_LAYER_ZSTD
                                   : MT_OCI_LAYER;
}

struct loaded {
    struct descriptor manifest;
    char *tag;
};

static void add_loaded(struct loaded **v, size_t *n, const struct descriptor *m, const char *tag)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    descriptor_copy(&(*v)[*n].manifest, m);
    (*v)[*n].tag = tag ? xstrdup(tag) : NULL;
    (*n)++;
}

/* An OCI image manifest's config and layers into the store, checked. */
static int load_oci_manifest(struct loader *l, const json_t *m, const char *what,
                             struct kiln_error **err)
{
    struct descriptor cd;
    if (descriptor_from_json(json_object_get(m, "config"), &cd, what, err) < 0)
        return -1;
    cleanup_free char *cname = xasprintf("blobs/sha256/%s", cd.digest.hex);
    int rc = loader_store(l, cname, &cd, NULL, err);
    descriptor_release(&cd);
    if (rc < 0)
        return -1;
    cleanup_json json_t *config = loader_json(l, cname, err);
    if (config == NULL)
        return -1;
    json_t *ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    json_t *layers = json_object_get(m, "layers");
    if (!json_is_array(layers) || !json_is_array(ids) ||
        json_array_size(ids) != json_array_size(layers))
        return kiln_error_set(err, KILN_E_INVALID,
                              "load: %s: layers and the config's diff_ids do not match", what);
    size_t i;
    json_t *lj;
    json_array_foreach(layers, i, lj)
    {
        struct descriptor ld;
        if (descriptor_from_json(lj, &ld, what, err) < 0)
            return -1;
        cleanup_free char *lname = xasprintf("blobs/sha256/%s", ld.digest.hex);
        rc = loader_store(l, lname, &ld, NULL, err);
        if (rc == 0)
            rc = check_layer(l, &ld, json_string_value(json_array_get(ids, i)), i, err);
        descriptor_release(&ld);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int is_index_type(const char *mt)
{
    return strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0;
}

static int is_image_type(const char *mt)
{
    return strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0;
}

/* An image manifest or an index (and, through it, every image it lists that
 * the archive holds: an index may be partial, as `docker save` of one
 * platform writes it) into the store, checked. An image that is not there is
 * an error only when required (what index.json names directly). */
static int load_entry(struct loader *l, const struct descriptor *d, int depth, int required,
                      struct kiln_error **err)
{
    cleanup_free char *name = xasprintf("blobs/sha256/%s", d->digest.hex);
    if (!required && loader_find(l, name) == NULL)
        return 0;
    if (!is_index_type(d->media_type) && !is_image_type(d->media_type))
        return kiln_error_set(err, KILN_E_INVALID,
                              "load: %s is a %s; only images and image indexes are loaded", name,
                              d->media_type);
    if (loader_store(l, name, d, NULL, err) < 0)
        return -1;
    cleanup_json json_t *m = loader_json(l, name, err);
    if (m == NULL)
        return -1;
    const char *mt = json_string_value(json_object_get(m, "mediaType"));
    if (mt != NULL && strcmp(mt, d->media_type) != 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "load: %s says it is a %s, its descriptor says %s; refusing it", name,
                              mt, d->media_type);
    if (is_image_type(d->media_type))
        return load_oci_manifest(l, m, name, err);
    if (depth >= 2)
        return kiln_error_set(err, KILN_E_INVALID, "load: %s: indexes nested too deep", name);
    json_t *list = json_object_get(m, "manifests");
    if (!json_is_array(list))
        return kiln_error_set(err, KILN_E_INVALID, "load: index %s lists no manifests", name);
    size_t i;
    json_t *cj;
    json_array_foreach(list, i, cj)
    {
        struct descriptor cd;
        if (descriptor_from_json(cj, &cd, name, err) < 0)
            return -1;
        int rc = load_entry(l, &cd, depth + 1, 0, err);
        descriptor_release(&cd);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* A tag on an index needs the image for this machine (the store checks that
 * it is complete): an archive without it fails before anything is tagged. */
static int check_host_image(struct loader *l, const struct descriptor *d, const char *tag,
                            struct kiln_error **err)
{
    if (tag == NULL || !is_index_type(d->media_type))
        return 0;
    cleanup_free char *name = xasprintf("blobs/sha256/%s", d->digest.hex);
    struct afile *f = loader_find(l, name);
    struct manifest m;
    if (f == NULL || f->data == NULL || manifest_parse(d->media_type, f->data, f->len, &m, err) < 0)
        return kiln_error_prefix(err, "load: %s", tag);
    const struct platform_entry *pe = manifest_select_platform(&m, NULL, err);
    int rc = 0;
    if (pe == NULL) {
        rc = kiln_error_prefix(err, "load: %s", tag);
    } else {
        cleanup_free char *child = xasprintf("blobs/sha256/%s", pe->d.digest.hex);
        if (loader_find(l, child) == NULL) {
            cleanup_free char *host = manifest_host_platform();
            rc = kiln_error_set(err, KILN_E_NOTFOUND,
                                "load: %s: the archive does not hold its image for %s (%s); "
                                "nothing was tagged",
                                tag, host, child);
        }
    }
    manifest_release(&m);
    return rc;
}

static int load_oci(struct loader *l, struct loaded **out, size_t *nout, struct kiln_error **err)
{
    cleanup_json json_t *index = loader_json(l, "index.json", err);
    if (index == NULL)
        return -1;
    json_t *list = json_object_get(index, "manifests");
    if (!json_is_array(list))
        return kiln_error_set(err, KILN_E_INVALID, "load: index.json has no manifests");
    size_t i;
    json_t *mj;
    json_array_foreach(list, i, mj)
    {
        struct descriptor md;
        if (descriptor_from_json(mj, &md, "index.json", err) < 0)
            return -1;
        int rc = load_entry(l, &md, 0, 1, err);
        json_t *ann = json_object_get(mj, "annotations");
        const char *tag = json_string_value(json_object_get(ann, "io.containerd.image.name"));
        if (tag == NULL)
            tag = json_string_value(json_object_get(ann, ANNOTATION_REF_NAME));
        if (rc == 0)
            rc = check_host_image(l, &md, tag, err);
        if (rc == 0)
            add_loaded(out, nout, &md, tag);
        descriptor_release(&md);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int load_docker(struct loader *l, struct loaded **out, size_t *nout, struct kiln_error **err)
{
    cleanup_json json_t *list = loader_json(l, "manifest.json", err);
    if (list == NULL)
        return -1;
    if (!json_is_array(list))
        return kiln_error_set(err, KILN_E_INVALID, "load: manifest.json is not a list");
    size_t i;
    json_t *ej;
    json_array_foreach(list, i, ej)
    {
        const char *cpath = json_string_value(json_object_get(ej, "Config"));
        json_t *paths = json_object_get(ej, "Layers");
        if (cpath == NULL || !json_is_array(paths))
            return kiln_error_set(err, KILN_E_INVALID,
                                  "load: manifest.json entry %zu lacks Config or Layers", i + 1);
        struct descriptor cd = {.media_type = (char *)MT_OCI_CONFIG};
        if (loader_store(l, cpath, NULL, &cd, err) < 0)
            return -1;
        cleanup_json json_t *config = loader_json(l, cpath, err);
        if (config == NULL)
            return -1;
        json_t *ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
        if (!json_is_array(ids) || json_array_size(ids) != json_array_size(paths))
            return kiln_error_set(err, KILN_E_INVALID,
                                  "load: %s: Layers and the config's diff_ids do not match", cpath);
        json_t *layers = json_array();
        cleanup_json json_t *manifest =
            json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2, "mediaType", MT_OCI_MANIFEST,
                      "config", descriptor_to_json(&cd), "layers", layers);
        size_t k;
        json_t *pj;
        json_array_foreach(paths, k, pj)
        {
            const char *lp = json_string_value(pj);
            struct descriptor ld = {0};
            if (lp == NULL || loader_store(l, lp, NULL, &ld, err) < 0)
                return lp ? -1
                          : kiln_error_set(err, KILN_E_INVALID, "load: bad layer path in entry %zu",
                                           i + 1);
            if (check_layer(l, &ld, json_string_value(json_array_get(ids, k)), k, err) < 0)
                return -1;
            ld.media_type = (char *)layer_media_type(l, &ld.digest);
            json_array_append_new(layers, descriptor_to_json(&ld));
        }
        cleanup_free char *text = json_dump_canonical(manifest);
        struct descriptor md = {.media_type = (char *)MT_OCI_MANIFEST, .size = strlen(text)};
        if (store_blob_put(l->s, text, md.size, NULL, &md.digest, err) < 0)
            return -1;
        json_t *tags = json_object_get(ej, "RepoTags");
        size_t t;
        json_t *tj;
        if (json_array_size(tags) == 0)
            add_loaded(out, nout, &md, NULL);
        json_array_foreach(tags, t, tj) add_loaded(out, nout, &md, json_string_value(tj));
    }
    return 0;
}

static const char *input = "-";
static int quiet; /* accepted as docker load does; load prints only what it tagged */

static const struct cli_opt load_opts[] = {
    {'i', "input", CLI_OPT_STRING, &input, "FILE", "the archive; - for stdin (default)", NULL},
    {'q', NULL, CLI_OPT_FLAG, &quiet, NULL, "accepted for docker compatibility", NULL},
    CLI_OPT_END,
};

static const struct cli_spec load_spec = {
    .name = "load",
    .summary = "load images from an oci-archive or docker-archive tar",
    .text = "Loads images from an oci-archive or docker-archive tar (detected; may be gzip\n"
            "or zstd compressed), as written by `kiln save`, `docker save`, `podman save`\n"
            "or `skopeo copy` (also `--all`: an image index is kept as it is, with every\n"
            "platform the archive holds; this machine's must be there). Tags come from the\n"
            "archive (io.containerd.image.name or org.opencontainers.image.ref.name\n"
            "annotations, RepoTags). Every blob's digest and size and every layer's\n"
            "content are verified before any tag moves.\n",
    .opts = load_opts,
    .max_args = 0,
};

static int cmd_load(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&load_spec, argc, argv);
    if (first <= 0)
        return -first;
    struct kiln_error *err = NULL;
    cleanup_close int fd =
        strcmp(input, "-") == 0 ? fcntl(0, F_DUPFD_CLOEXEC, 0) : open(input, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        kiln_error_errno(&err, errno, "load: cannot open %s", input);
        return cli_fail(err);
    }
    cleanup_free char *root = cli_store_root(g);
    cleanup_store struct store *s = NULL;
    if (store_open(root, &s, &err) < 0)
        return cli_fail(err);
    struct loader l = {.s = s};
    struct loaded *v = NULL;
    size_t n = 0;
    int rc = loader_read(&l, fd, &err);
    if (rc == 0) {
        if (loader_find(&l, "index.json") != NULL)
            rc = load_oci(&l, &v, &n, &err);
        else if (loader_find(&l, "manifest.json") != NULL)
            rc = load_docker(&l, &v, &n, &err);
        else
            rc = kiln_error_set(&err, KILN_E_INVALID,
                                "load: %s is neither an oci-archive (index.json) nor a "
                                "docker-archive (manifest.json)",
                                input);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (v[i].tag != NULL && store_tag(s, v[i].tag, &v[i].manifest, &err) < 0)
            rc = -1;
        else if (v[i].tag != NULL)
            printf("Loaded image: %s\n", v[i].tag);
        else
            printf("Loaded image: sha256:%s (untagged)\n", v[i].manifest.digest.hex);
    }
    for (size_t i = 0; i < n; i++) {
        descriptor_release(&v[i].manifest);
        free(v[i].tag);
    }
    free(v);
    loader_free(&l);
    return rc < 0 ? cli_fail(err) : EXIT_OK;
}

const struct cli_command cli_cmd_load = {
    .name = "load",
    .run = cmd_load,
    .spec = &load_spec,
};
