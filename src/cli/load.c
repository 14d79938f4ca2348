/* kiln load: reads an oci-archive or docker-archive (detected by its
 * index.json or manifest.json; plain, gzip or zstd) into the store. The
 * archive is hostile input: its names are never used as paths, every blob is
 * checked against the digest and size that name it, every layer is checked
 * by the layer codec (names, links, devices, truncation) and must have the
 * diff id the config lists. Tags move only after all blobs are in place. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/layer_read.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

#define IN_MEMORY_MAX (4u << 20)

struct afile {
    char *name;
    char *link; /* symlink target (normalized), else NULL */
    char *data; /* small files */
    size_t len;
    struct blob_writer *bw; /* large files, uncommitted until referenced */
    uint64_t size;
    int stored; /* committed to the store: digest is valid */
    struct digest digest;
};

struct loader {
    struct store *s;
    struct afile *f;
    size_t n;
};

static void loader_free(struct loader *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->f[i].name);
        free(l->f[i].link);
        free(l->f[i].data);
        blob_writer_free(l->f[i].bw);
    }
    free(l->f);
}

static struct afile *find(struct loader *l, const char *name, int depth)
{
    for (size_t i = l->n; i-- > 0;) {
        if (strcmp(l->f[i].name, name) != 0)
            continue;
        if (l->f[i].link != NULL && depth < 8)
            return find(l, l->f[i].link, depth + 1);
        return l->f[i].link ? NULL : &l->f[i];
    }
    return NULL;
}

static struct afile *add(struct loader *l, const char *name)
{
    l->f = xrealloc(l->f, (l->n + 1) * sizeof(*l->f));
    struct afile *f = &l->f[l->n++];
    memset(f, 0, sizeof(*f));
    f->name = xstrdup(name);
    return f;
}

static int read_entry(struct loader *l, struct layer_reader *r, struct afile *f,
                      struct kiln_error **err)
{
    f->size = 0;
    char *buf = xmalloc(1 << 17);
    int rc = -1;
    struct strbuf mem = STRBUF_INIT;
    strbuf_init(&mem);
    for (;;) {
        ssize_t n = layer_reader_data(r, buf, 1 << 17, err);
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        if (f->bw == NULL && mem.len + (size_t)n > IN_MEMORY_MAX) {
            if (blob_writer_new(l->s, &f->bw, err) < 0 ||
                blob_writer_write(f->bw, mem.buf, mem.len, err) < 0)
                goto out;
            strbuf_reset(&mem);
        }
        if (f->bw != NULL) {
            if (blob_writer_write(f->bw, buf, (size_t)n, err) < 0)
                goto out;
        } else {
            strbuf_add(&mem, buf, (size_t)n);
        }
        f->size += (uint64_t)n;
    }
    if (f->bw == NULL) {
        f->len = mem.len;
        f->data = strbuf_detach(&mem);
    }
    rc = 0;
out:
    strbuf_release(&mem);
    free(buf);
    return rc;
}

/* "a/./b/../c" -> "a/c", ".." stopping at the top: names only, no file system. */
static char *lexical_clean(const char *p)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    while (*p != '\0') {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            char *slash = strrchr(sb.buf, '/');
            strbuf_setlen(&sb, slash ? (size_t)(slash - sb.buf) : 0);
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (sb.len > 0)
                strbuf_addc(&sb, '/');
            strbuf_add(&sb, p, n);
        }
        p += n;
        p += strspn(p, "/");
    }
    return strbuf_detach(&sb);
}

static int read_archive(struct loader *l, int fd, struct kiln_error **err)
{
    struct layer_extract_opts o = {0};
    struct layer_reader *r = layer_reader_open(fd, &o);
    struct layer_entry e;
    int n;
    while ((n = layer_reader_next(r, &e, err)) > 0) {
        if (e.kind == LK_SYMLINK) {
            struct afile *f = add(l, e.path);
            const char *slash = strrchr(e.path, '/');
            cleanup_free char *joined =
                e.link[0] == '/' ? xstrdup(e.link)
                : slash          ? xasprintf("%.*s/%s", (int)(slash - e.path), e.path, e.link)
                                 : xstrdup(e.link);
            f->link = lexical_clean(joined);
            continue;
        }
        if (e.kind != LK_FILE)
            continue;
        if (read_entry(l, r, add(l, e.path), err) < 0) {
            n = -1;
            break;
        }
    }
    int rc = n < 0 ? -1 : layer_reader_finish(r, NULL, NULL, err);
    layer_reader_free(r);
    if (rc < 0)
        return kiln_error_prefix(err, "load: archive rejected");
    return 0;
}

/* Puts archive file `name` into the store, checked against want when given. */
static int store_file(struct loader *l, const char *name, const struct descriptor *want,
                      struct descriptor *out, struct kiln_error **err)
{
    struct afile *f = find(l, name, 0);
    if (f == NULL)
        return kiln_error_set(err, KILN_E_INVALID, "load: the archive has no file \"%s\"", name);
    if (want != NULL && want->size != f->size)
        return kiln_error_set(err, KILN_E_DIGEST,
                              "load: \"%s\" is %llu bytes, its descriptor says %llu", name,
                              (unsigned long long)f->size, (unsigned long long)want->size);
    const struct digest *exp = want ? &want->digest : NULL;
    if (f->stored) {
        if (exp != NULL && !digest_equal(exp, &f->digest))
            return kiln_error_set(err, KILN_E_DIGEST, "load: \"%s\" is sha256:%s, not sha256:%s",
                                  name, f->digest.hex, exp->hex);
    } else if (f->bw == NULL) {
        if (store_blob_put(l->s, f->data ? f->data : "", f->len, exp, &f->digest, err) < 0)
            return kiln_error_prefix(err, "load: \"%s\"", name);
    } else {
        int rc = blob_writer_commit(f->bw, exp, (int64_t)f->size, &f->digest, err);
        blob_writer_free(f->bw);
        f->bw = NULL;
        if (rc < 0)
            return kiln_error_prefix(err, "load: \"%s\"", name);
    }
    f->stored = 1;
    if (out != NULL) {
        out->digest = f->digest;
        out->size = f->size;
    }
    return 0;
}

static json_t *file_json(struct loader *l, const char *name, struct kiln_error **err)
{
    struct afile *f = find(l, name, 0);
    if (f == NULL)
        return kiln_error_set(err, KILN_E_INVALID, "load: the archive has no \"%s\"", name), NULL;
    if (f->data == NULL)
        return kiln_error_set(err, KILN_E_INVALID, "load: \"%s\" is too large for JSON", name),
               NULL;
    return json_parse_bytes(f->data, f->len, name, err);
}

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
    int rc = store_file(l, cname, &cd, NULL, err);
    descriptor_release(&cd);
    if (rc < 0)
        return -1;
    cleanup_json json_t *config = file_json(l, cname, err);
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
        rc = store_file(l, lname, &ld, NULL, err);
        if (rc == 0)
            rc = check_layer(l, &ld, json_string_value(json_array_get(ids, i)), i, err);
        descriptor_release(&ld);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int load_oci(struct loader *l, struct loaded **out, size_t *nout, struct kiln_error **err)
{
    cleanup_json json_t *index = file_json(l, "index.json", err);
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
        if (strcmp(md.media_type, MT_OCI_MANIFEST) != 0 &&
            strcmp(md.media_type, MT_DOCKER_MANIFEST) != 0) {
            kiln_error_set(err, KILN_E_INVALID,
                           "load: index.json entry %zu is a %s; only image manifests are loaded",
                           i + 1, md.media_type);
            descriptor_release(&md);
            return -1;
        }
        cleanup_free char *name = xasprintf("blobs/sha256/%s", md.digest.hex);
        cleanup_json json_t *m = NULL;
        int rc = store_file(l, name, &md, NULL, err);
        if (rc == 0 && (m = file_json(l, name, err)) == NULL)
            rc = -1;
        if (rc == 0)
            rc = load_oci_manifest(l, m, name, err);
        json_t *ann = json_object_get(mj, "annotations");
        const char *tag = json_string_value(json_object_get(ann, "io.containerd.image.name"));
        if (tag == NULL)
            tag = json_string_value(json_object_get(ann, ANNOTATION_REF_NAME));
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
    cleanup_json json_t *list = file_json(l, "manifest.json", err);
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
        if (store_file(l, cpath, NULL, &cd, err) < 0)
            return -1;
        cleanup_json json_t *config = file_json(l, cpath, err);
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
            if (lp == NULL || store_file(l, lp, NULL, &ld, err) < 0)
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

static const char usage[] =
    "Usage: kiln load -i FILE\n"
    "\n"
    "Loads images from an oci-archive or docker-archive tar (detected; may be gzip\n"
    "or zstd compressed), as written by `kiln save`, `docker save`, `podman save`\n"
    "or `skopeo copy`. Every blob's digest and size and every layer's content are\n"
    "verified before any tag moves.\n"
    "\n"
    "  -i, --input FILE   the archive; - for stdin (default)\n";

static int cmd_load(struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {{"input", required_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *input = "-";
    int c;
    while ((c = getopt_long(argc, argv, "i:qh", opts, NULL)) != -1) {
        if (c == 'i')
            input = optarg;
        else if (c == 'h')
            return fputs(usage, stdout), EXIT_OK;
        else if (c != 'q')
            return cli_usage_error("load", "unknown option");
    }
    if (optind != argc)
        return cli_usage_error("load", "unexpected argument \"%s\" (use -i FILE)", argv[optind]);
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
    int rc = read_archive(&l, fd, &err);
    if (rc == 0) {
        if (find(&l, "index.json", 0) != NULL)
            rc = load_oci(&l, &v, &n, &err);
        else if (find(&l, "manifest.json", 0) != NULL)
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
    .summary = "load images from an oci-archive or docker-archive tar",
    .usage = usage,
};
