/* --cache-to / --cache-from: see cache_io.h for the record's format. */
#include "build/cache_io.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry/cache_xfer.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

/* ---- specs -------------------------------------------------------------- */

static int spec_error(struct cache_io_spec *s, const char *opt, const char *text, const char *why,
                      struct kiln_error **err)
{
    cache_io_spec_release(s);
    return kiln_error_set(err, KILN_E_USAGE, "%s %s: %s", opt, text, why);
}

int cache_io_spec_parse(const char *text, int to, struct cache_io_spec *out,
                        struct kiln_error **err)
{
    const char *opt = to ? "--cache-to" : "--cache-from";
    memset(out, 0, sizeof(*out));
    if (strchr(text, '=') == NULL) { /* a bare image name */
        if (to)
            return spec_error(out, opt, text,
                              "want type=registry,ref=REF, type=local,dest=DIR "
                              "or type=inline",
                              err);
        out->kind = CACHE_IO_IMAGE;
        out->ref = xstrdup(text);
        return 0;
    }
    cleanup_free char *copy = xstrdup(text);
    const char *type = NULL;
    char *save = NULL;
    for (char *f = strtok_r(copy, ",", &save); f != NULL; f = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(f, '=');
        if (eq == NULL)
            return spec_error(out, opt, text, "each field is KEY=VALUE", err);
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(f, "type") == 0)
            type = v;
        else if (strcmp(f, "ref") == 0) {
            free(out->ref);
            out->ref = xstrdup(v);
        } else if (strcmp(f, to ? "dest" : "src") == 0) {
            free(out->dir);
            out->dir = xstrdup(v);
        } else if (strcmp(f, "mode") == 0 && to) {
            if (strcmp(v, "max") != 0 && strcmp(v, "min") != 0)
                return spec_error(out, opt, text, "mode is min or max", err);
            out->max = strcmp(v, "max") == 0;
        } else if (strcmp(f, "ignore-error") == 0 || strcmp(f, "compression") == 0 ||
                   strcmp(f, "oci-mediatypes") == 0) {
            /* BuildKit's; kiln's behaviour is fixed (warn, uncompressed, OCI) */
        } else {
            cleanup_free char *why = xasprintf("unknown field %s", f);
            return spec_error(out, opt, text, why, err);
        }
    }
    if (type == NULL || strcmp(type, "registry") == 0) {
        out->kind = CACHE_IO_REGISTRY;
        if (out->ref == NULL || out->ref[0] == '\0')
            return spec_error(out, opt, text, "type=registry needs ref=REGISTRY/NAME:TAG", err);
    } else if (strcmp(type, "local") == 0) {
        out->kind = CACHE_IO_LOCAL;
        if (out->dir == NULL || out->dir[0] == '\0')
            return spec_error(out, opt, text,
                              to ? "type=local needs dest=DIR" : "type=local needs src=DIR", err);
    } else if (strcmp(type, "inline") == 0 && to) {
        out->kind = CACHE_IO_INLINE;
    } else {
        return spec_error(out, opt, text,
                          to ? "type is registry, local or inline"
                             : "type is registry or local (an inline cache: give the image name)",
                          err);
    }
    return 0;
}

void cache_io_spec_release(struct cache_io_spec *s)
{
    free(s->ref);
    free(s->dir);
    memset(s, 0, sizeof(*s));
}

/* ---- entries as JSON -------------------------------------------------------- */

static int layer_media_type_ok(const char *mt)
{
    return strcmp(mt, MT_OCI_LAYER) == 0 || strcmp(mt, MT_OCI_LAYER_GZIP) == 0 ||
           strcmp(mt, MT_OCI_LAYER_ZSTD) == 0 || strcmp(mt, MT_DOCKER_LAYER) == 0;
}

/* ---- import ------------------------------------------------------------------ */

struct ci_source {
    char *name;                 /* for messages */
    struct reg_cache_repo *rep; /* registry */
    char *dir;                  /* local layout */
};

struct ci_entry {
    struct digest key;
    struct cache_entry e;
    size_t src;
    int refused;
};

struct cache_import {
    struct ci_source *src;
    size_t n_src;
    struct ci_entry *ent;
    size_t n_ent;
    pthread_mutex_t mu;
    unsigned refused;
    cache_io_warn_fn warn;
    void *warn_ctx;
};

static void ci_warn(struct cache_import *ci, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void ci_warn(struct cache_import *ci, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (msg != NULL && ci->warn != NULL)
        ci->warn(ci->warn_ctx, msg);
    free(msg);
}

static void add_entry(struct cache_import *ci, size_t src, const struct digest *key,
                      const struct cache_entry *e)
{
    ci->ent = xrealloc(ci->ent, (ci->n_ent + 1) * sizeof(*ci->ent));
    ci->ent[ci->n_ent++] = (struct ci_entry){.key = *key, .e = *e, .src = src};
}

/* A layer descriptor ({mediaType,digest,size}) with its diff id. */
static int entry_layer(struct cache_import *ci, const char *what, const json_t *l,
                       const char *diffid, struct cache_entry *e)
{
    memset(e, 0, sizeof(*e));
    if (l == NULL || json_is_null(l))
        return 1;
    const char *mt = json_get_str(l, "mediaType");
    const char *dg = json_get_str(l, "digest");
    json_int_t size = json_get_int(l, "size", -1);
    if (diffid == NULL)
        diffid = json_get_str(l, "diffID");
    cleanup_error struct kiln_error *perr = NULL;
    if (mt == NULL || dg == NULL || diffid == NULL || size < 0 ||
        digest_parse(dg, &e->digest, &perr) < 0 || digest_parse(diffid, &e->diff_id, &perr) < 0 ||
        strlen(mt) >= sizeof(e->media_type)) {
        ci_warn(ci, "cache %s: a malformed entry, refused", what);
        return 0;
    }
    if (!layer_media_type_ok(mt)) {
        ci_warn(ci, "cache %s: layer %s has media type %.100s, not a layer's: refused", what, dg,
                mt);
        return 0;
    }
    snprintf(e->media_type, sizeof(e->media_type), "%s", mt);
    e->size = (uint64_t)size;
    e->has_layer = 1;
    return 1;
}

static void add_record_steps(struct cache_import *ci, size_t src, const json_t *cfg)
{
    const char *what = ci->src[src].name;
    json_t *steps = json_object_get(cfg, "steps");
    if (!json_is_array(steps) || json_integer_value(json_object_get(cfg, "version")) != 1) {
        ci_warn(ci, "cache %s: not a kiln build cache record (version 1): ignored", what);
        return;
    }
    size_t i;
    json_t *s;
    json_array_foreach(steps, i, s)
    {
        struct digest key;
        struct cache_entry e;
        cleanup_error struct kiln_error *perr = NULL;
        const char *k = json_get_str(s, "key");
        if (k == NULL || digest_parse(k, &key, &perr) < 0) {
            ci_warn(ci, "cache %s: step %zu has no valid key, refused", what, i);
            continue;
        }
        if (entry_layer(ci, what, json_object_get(s, "layer"), NULL, &e))
            add_entry(ci, src, &key, &e);
    }
}

/* An image manifest with the inline annotation: key -> layer index. */
static void add_inline_steps(struct cache_import *ci, size_t src, const json_t *manifest,
                             const json_t *config)
{
    const char *what = ci->src[src].name;
    const char *v = json_get_str(json_object_get(manifest, "annotations"), CACHE_INLINE_ANNOTATION);
    json_t *layers = json_object_get(manifest, "layers");
    json_t *diffids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    if (v == NULL) {
        ci_warn(ci,
                "cache %s: the image holds no inline cache (build it with --cache-to "
                "type=inline): ignored",
                what);
        return;
    }
    cleanup_error struct kiln_error *perr = NULL;
    cleanup_json json_t *map = json_parse_bytes(v, strlen(v), what, &perr);
    if (!json_is_object(map) || !json_is_array(layers) || !json_is_array(diffids) ||
        json_array_size(layers) != json_array_size(diffids)) {
        ci_warn(ci, "cache %s: a malformed inline cache: ignored", what);
        return;
    }
    const char *k;
    json_t *idx;
    json_object_foreach(map, k, idx)
    {
        struct digest key;
        struct cache_entry e = {0};
        cleanup_error struct kiln_error *kerr = NULL;
        json_int_t n = json_integer_value(idx);
        if (digest_parse(k, &key, &kerr) < 0 || !json_is_integer(idx) || n < -1 ||
            n >= (json_int_t)json_array_size(layers)) {
            ci_warn(ci, "cache %s: a malformed inline entry, refused", what);
            continue;
        }
        if (n >= 0 && !entry_layer(ci, what, json_array_get(layers, (size_t)n),
                                   json_string_value(json_array_get(diffids, (size_t)n)), &e))
            continue;
        add_entry(ci, src, &key, &e);
    }
}

static int is_record(const json_t *m)
{
    const char *at = json_get_str(m, "artifactType");
    const char *cmt = json_get_str(json_object_get(m, "config"), "mediaType");
    return (at != NULL && strcmp(at, CACHE_ARTIFACT_TYPE) == 0) ||
           (cmt != NULL && strcmp(cmt, CACHE_CONFIG_MT) == 0);
}

static int is_image_manifest(const json_t *m)
{
    const char *mt = json_get_str(m, "mediaType");
    return mt != NULL && (strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0);
}

/* From a registry: a record, or an image with an inline cache. */
static void load_registry(struct cache_import *ci, size_t src, struct store *s, const char *ref,
                          const struct registry_opts *ro)
{
    const char *what = ci->src[src].name;
    cleanup_error struct kiln_error *e = NULL;
    cleanup_free char *body = NULL;
    size_t len = 0;
    if (reg_cache_open(ref, ro, &ci->src[src].rep, &e) < 0 ||
        reg_cache_get_manifest(ci->src[src].rep, &body, &len, &e) < 0) {
        ci_warn(ci, "cache %s: %s; building without it", what, e ? e->msg : "unreachable");
        return;
    }
    cleanup_json json_t *m = json_parse_bytes(body, len, what, &e);
    if (m == NULL) {
        ci_warn(ci, "cache %s: %s: refused", what, e->msg);
        return;
    }
    struct descriptor cd = {0};
    if (!is_record(m) && !is_image_manifest(m)) {
        const char *mt = json_get_str(m, "mediaType");
        ci_warn(ci,
                "cache %s: media type %.100s is neither a kiln cache record nor an image: "
                "refused",
                what, mt ? mt : "(none)");
        return;
    }
    if (descriptor_from_json(json_object_get(m, "config"), &cd, what, &e) < 0 ||
        reg_cache_get_blob(ci->src[src].rep, s, &cd, &e) < 0) {
        ci_warn(ci, "cache %s: %s: refused", what, e->msg);
        descriptor_release(&cd);
        return;
    }
    cleanup_json json_t *cfg = store_blob_read_json(s, &cd.digest, &e);
    descriptor_release(&cd);
    if (cfg == NULL) {
        ci_warn(ci, "cache %s: %s: refused", what, e->msg);
        return;
    }
    if (is_record(m))
        add_record_steps(ci, src, cfg);
    else
        add_inline_steps(ci, src, m, cfg);
}

/* From an OCI layout directory: the last manifest that is a record. */
static void load_local(struct cache_import *ci, size_t src, const char *dir)
{
    const char *what = ci->src[src].name;
    cleanup_error struct kiln_error *e = NULL;
    cleanup_free char *ip = path_join(dir, "index.json");
    if (!path_exists(ip)) {
        ci_warn(ci, "cache %s: no %s; building without it", what, ip);
        return;
    }
    cleanup_json json_t *idx = json_load_path(ip, 1 << 20, &e);
    json_t *ms = json_object_get(idx, "manifests");
    const json_t *pick = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m)
    {
        const char *at = json_get_str(m, "artifactType");
        if (at != NULL && strcmp(at, CACHE_ARTIFACT_TYPE) == 0)
            pick = m;
    }
    struct descriptor md = {0}, cd = {0};
    if (pick == NULL) {
        ci_warn(ci, "cache %s: %s lists no kiln build cache record (artifactType %s): ignored",
                what, ip, CACHE_ARTIFACT_TYPE);
        return;
    }
    if (descriptor_from_json(pick, &md, what, &e) < 0) {
        ci_warn(ci, "cache %s: %s: refused", what, e->msg);
        return;
    }
    cleanup_free char *mp = xasprintf("%s/blobs/sha256/%s", dir, md.digest.hex);
    cleanup_free char *body = NULL;
    size_t len = 0;
    struct digest got;
    cleanup_json json_t *man = NULL;
    cleanup_json json_t *cfg = NULL;
    cleanup_free char *cp = NULL;
    if (read_file(mp, 1 << 20, &body, &len, &e) < 0)
        goto bad;
    digest_bytes(body, len, &got);
    if (!digest_equal(&got, &md.digest)) {
        ci_warn(ci, "cache %s: manifest %s does not match its digest: refused", what, mp);
        goto out;
    }
    man = json_parse_bytes(body, len, mp, &e);
    if (man == NULL)
        goto bad;
    if (!is_record(man)) {
        ci_warn(ci, "cache %s: %s is not a kiln build cache record: refused", what, mp);
        goto out;
    }
    if (descriptor_from_json(json_object_get(man, "config"), &cd, mp, &e) < 0)
        goto bad;
    free(body);
    body = NULL;
    cp = xasprintf("%s/blobs/sha256/%s", dir, cd.digest.hex);
    if (read_file(cp, 16 << 20, &body, &len, &e) < 0)
        goto bad;
    digest_bytes(body, len, &got);
    if (!digest_equal(&got, &cd.digest)) {
        ci_warn(ci, "cache %s: config %s does not match its digest: refused", what, cp);
        goto out;
    }
    cfg = json_parse_bytes(body, len, cp, &e);
    if (cfg == NULL)
        goto bad;
    ci->src[src].dir = xstrdup(dir);
    add_record_steps(ci, src, cfg);
    goto out;
bad:
    ci_warn(ci, "cache %s: %s: refused", what, e ? e->msg : "unreadable");
out:
    descriptor_release(&md);
    descriptor_release(&cd);
}

struct cache_import *cache_import_load(struct store *s, const struct cache_io_spec *specs, size_t n,
                                       const struct registry_opts *ro, cache_io_warn_fn warn,
                                       void *warn_ctx)
{
    struct cache_import *ci = xcalloc(1, sizeof(*ci));
    pthread_mutex_init(&ci->mu, NULL);
    ci->warn = warn;
    ci->warn_ctx = warn_ctx;
    ci->src = xcalloc(n + 1, sizeof(*ci->src));
    ci->n_src = n;
    for (size_t i = 0; i < n; i++) {
        const struct cache_io_spec *sp = &specs[i];
        ci->src[i].name = xstrdup(sp->kind == CACHE_IO_LOCAL ? sp->dir : sp->ref);
        if (sp->kind == CACHE_IO_LOCAL) {
            load_local(ci, i, sp->dir);
        } else if (sp->kind == CACHE_IO_REGISTRY) {
            load_registry(ci, i, s, sp->ref, ro);
        } else if (sp->kind == CACHE_IO_IMAGE) {
            /* An image in the store (its blobs are here), else a registry's. */
            cleanup_image struct image *img = NULL;
            cleanup_error struct kiln_error *e = NULL;
            if (store_image_load(s, sp->ref, &img, &e) == 0)
                add_inline_steps(ci, i, img->manifest_json, img->config_json);
            else
                load_registry(ci, i, s, sp->ref, ro);
        }
    }
    return ci;
}

void cache_import_free(struct cache_import *ci)
{
    if (ci == NULL)
        return;
    for (size_t i = 0; i < ci->n_src; i++) {
        free(ci->src[i].name);
        free(ci->src[i].dir);
        reg_cache_close(ci->src[i].rep);
    }
    free(ci->src);
    free(ci->ent);
    pthread_mutex_destroy(&ci->mu);
    free(ci);
}

int cache_import_lookup(struct cache_import *ci, const struct digest *key, struct cache_entry *out)
{
    if (ci == NULL)
        return 0;
    int hit = 0;
    pthread_mutex_lock(&ci->mu);
    for (size_t i = 0; i < ci->n_ent && !hit; i++) {
        if (!ci->ent[i].refused && digest_equal(&ci->ent[i].key, key)) {
            *out = ci->ent[i].e;
            hit = 1;
        }
    }
    pthread_mutex_unlock(&ci->mu);
    return hit;
}

static int fetch_local(struct store *s, const char *dir, const struct cache_entry *e,
                       struct kiln_error **err)
{
    cleanup_free char *p = xasprintf("%s/blobs/sha256/%s", dir, e->digest.hex);
    cleanup_close int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_errno(err, errno, "open %s", p);
    struct digest got;
    return store_blob_put_fd(s, fd, &e->digest, (int64_t)e->size, &got, err);
}

int cache_import_fetch(struct cache_import *ci, struct store *s, const struct cache_entry *e,
                       struct kiln_error **err)
{
    if (store_blob_has(s, &e->digest))
        return 0;
    size_t src = SIZE_MAX;
    pthread_mutex_lock(&ci->mu);
    for (size_t i = 0; i < ci->n_ent && src == SIZE_MAX; i++)
        if (!ci->ent[i].refused && ci->ent[i].e.has_layer &&
            digest_equal(&ci->ent[i].e.digest, &e->digest))
            src = ci->ent[i].src;
    pthread_mutex_unlock(&ci->mu);
    char ds[DIGEST_STR_LEN + 1];
    if (src == SIZE_MAX)
        return kiln_error_set(err, KILN_E_NOTFOUND, "layer %s: no cache names it",
                              digest_str(&e->digest, ds));
    const struct ci_source *cs = &ci->src[src];
    struct descriptor d = {
        .media_type = (char *)e->media_type, .digest = e->digest, .size = e->size};
    int rc;
    if (cs->rep != NULL)
        rc = reg_cache_get_blob(cs->rep, s, &d, err);
    else if (cs->dir != NULL)
        rc = fetch_local(s, cs->dir, e, err);
    else
        rc = kiln_error_set(err, KILN_E_NOTFOUND, "layer %s is not in the store",
                            digest_str(&e->digest, ds));
    if (rc < 0)
        return kiln_error_prefix(err, "cache %s: layer %s", cs->name, digest_str(&e->digest, ds));
    return 0;
}

void cache_import_refuse(struct cache_import *ci, const struct digest *layer, const char *why)
{
    char ds[DIGEST_STR_LEN + 1];
    int any = 0;
    pthread_mutex_lock(&ci->mu);
    for (size_t i = 0; i < ci->n_ent; i++) {
        if (!ci->ent[i].refused && ci->ent[i].e.has_layer &&
            digest_equal(&ci->ent[i].e.digest, layer)) {
            ci->ent[i].refused = 1;
            any = 1;
        }
    }
    if (any)
        ci->refused++;
    pthread_mutex_unlock(&ci->mu);
    if (any)
        ci_warn(ci, "cache layer %s refused (%s): its steps run instead", digest_str(layer, ds),
                why);
}

unsigned cache_import_refused(struct cache_import *ci)
{
    if (ci == NULL)
        return 0;
    pthread_mutex_lock(&ci->mu);
    unsigned n = ci->refused;
    pthread_mutex_unlock(&ci->mu);
    return n;
}
