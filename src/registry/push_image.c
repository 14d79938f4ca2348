/* registry_push(): an index goes to push_index(); an image: load it, then up
 * to three workers each gzip a plain layer (once: remembered) and push a
 * blob; then the manifest: the stored bytes when nothing changed (so the
 * digest stays the same across registries), else a rewritten manifest naming
 * the gzip blobs. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "registry/client.h"
#include "registry/manifest.h"
#include "registry/push.h"
#include "registry/referrers.h"
#include "registry/records.h"
#include "registry/registry.h"
#include "store/reference.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

#define PUSH_WORKERS 3

/* One blob to push: src as stored; out as pushed (gzip of src when gzip). */
struct push_item {
    const struct descriptor *src;
    struct descriptor out;
    int gzip;
};

struct push_run {
    struct store *s;
    struct reg_client *c; /* the workers' clients are its clones */
    const char *host, *path;
    struct registry_opts opts; /* progress goes through progress_locked */
    const struct registry_opts *user_opts;
    struct push_item *items;
    size_t n, next;
    int docker; /* Docker media types for gzip layers */
    pthread_mutex_t mu;
    struct kiln_error *err; /* the first failure */
};

static void progress_locked(void *ctx, const struct registry_progress *p)
{
    struct push_run *r = ctx;
    pthread_mutex_lock(&r->mu);
    r->user_opts->progress(r->user_opts->progress_ctx, p);
    pthread_mutex_unlock(&r->mu);
}

static int push_item(struct push_run *r, struct reg_client *c, struct push_item *it,
                     struct kiln_error **err)
{
    if (it->gzip) {
        if (push_gzip_layer(r->s, it->src, &it->out, err) < 0)
            return -1;
        it->out.media_type = xstrdup(r->docker ? MT_DOCKER_LAYER : MT_OCI_LAYER_GZIP);
    } else {
        descriptor_copy(&it->out, it->src);
    }
    return push_blob(c, r->s, r->path, &it->out, err);
}

struct worker {
    struct push_run *r;
    struct reg_client *c; /* its own curl handles; tokens shared */
    pthread_t th;
};

/* A worker: items taken in order. */
static void *worker(void *arg)
{
    struct worker *w = arg;
    struct push_run *r = w->r;
    struct kiln_error *e = NULL;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        size_t i = r->next++;
        int stop = r->err != NULL || i >= r->n;
        pthread_mutex_unlock(&r->mu);
        if (stop || push_item(r, w->c, &r->items[i], &e) < 0)
            break;
    }
    if (e != NULL) {
        pthread_mutex_lock(&r->mu);
        if (r->err == NULL)
            r->err = e;
        else
            kiln_error_free(e);
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}

static int push_all(struct push_run *r, struct kiln_error **err)
{
    struct worker w[PUSH_WORKERS] = {0};
    size_t n_threads = r->n < PUSH_WORKERS ? r->n : PUSH_WORKERS, started = 0;
    for (size_t i = 0; i < n_threads; i++) {
        w[i].r = r;
        if (reg_client_clone(r->c, &r->opts, &w[i].c, err) < 0) {
            for (size_t k = 0; k < i; k++)
                reg_client_free(w[k].c);
            return -1;
        }
    }
    for (; started < n_threads; started++)
        if (pthread_create(&w[started].th, NULL, worker, &w[started]) != 0)
            break;
    if (started == 0 && n_threads > 0)
        worker(&w[0]); /* no threads: do it here */
    for (size_t i = 0; i < started; i++)
        pthread_join(w[i].th, NULL);
    for (size_t i = 0; i < n_threads; i++)
        reg_client_free(w[i].c);
    if (r->err != NULL) {
        if (err != NULL && *err == NULL)
            *err = steal_pointer(&r->err);
        kiln_error_free(r->err);
        r->err = NULL;
        return -1;
    }
    return 0;
}

/* The manifest naming the pushed blobs: the stored bytes if nothing changed. */
static int manifest_bytes(struct store *s, const struct image *img, const struct push_item *items,
                          char **out, size_t *len, struct kiln_error **err)
{
    int changed = 0;
    json_t *layers = json_object_get(img->manifest_json, "layers");
    cleanup_json json_t *new_layers = json_array();
    for (size_t i = 0; i < img->n_layers; i++) {
        const struct push_item *it = &items[i + 1];
        json_t *orig = json_array_get(layers, i);
        json_t *entry = orig ? json_deep_copy(orig) : descriptor_to_json(it->src);
        if (it->gzip) {
            char ds[DIGEST_STR_LEN + 1];
            json_object_set_new(entry, "mediaType", json_string(it->out.media_type));
            json_object_set_new(entry, "digest", json_string(digest_str(&it->out.digest, ds)));
            json_object_set_new(entry, "size", json_integer((json_int_t)it->out.size));
            changed = 1;
        }
        json_array_append_new(new_layers, entry);
    }
    if (!changed)
        return store_blob_read(s, &img->manifest.digest, STORE_JSON_MAX, out, len, err);
    cleanup_json json_t *m = json_deep_copy(img->manifest_json);
    json_object_set(m, "layers", new_layers);
    *out = json_dump_canonical(m);
    *len = strlen(*out);
    return 0;
}

int put_manifest(struct reg_client *c, const struct reference *ref, int by_digest,
                 const char *media_type, const char *body, size_t len, const char *mds,
                 struct kiln_error **err)
{
    cleanup_free char *familiar = reference_familiar(ref);
    int tag = ref->tag && !ref->has_digest && !by_digest;
    cleanup_free char *url = xasprintf("/v2/%s/manifests/%s", ref->path, tag ? ref->tag : mds);
    cleanup_free char *scope = xasprintf("repository:%s:pull,push", ref->path);
    struct reg_request rq = {.method = "PUT",
                             .url = url,
                             .scope = scope,
                             .content_type = media_type,
                             .body = body,
                             .body_len = len};
    struct reg_response r = {0};
    int ret = reg_do(c, &rq, &r, err);
    cleanup_free char *what = xasprintf("push of manifest %s to %s", mds, familiar);
    if (ret == 0 && r.status != 201)
        ret = reg_status_error(c, &r, what, err);
    if (ret == 0 && r.docker_digest != NULL && strcmp(r.docker_digest, mds) != 0)
        ret = kiln_error_set(err, KILN_E_DIGEST,
                             "%s: the registry stored it as %.80s (it changed the manifest)", what,
                             r.docker_digest);
    reg_response_release(&r);
    if (ret == 0 && ref->has_digest && !by_digest) {
        char want[DIGEST_STR_LEN + 1];
        if (strcmp(digest_str(&ref->digest, want), mds) != 0)
            ret = kiln_error_set(err, KILN_E_DIGEST,
                                 "pushed manifest is %s, not the digest %s names", mds, familiar);
    }
    return ret;
}

int push_image(struct store *store, const struct image *img, const struct reference *ref,
               int by_digest, const struct registry_opts *opts, struct descriptor *pushed,
               struct kiln_error **err)
{
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread uses curl */
    size_t n = img->n_layers + 1;
    struct push_item *items = xcalloc(n, sizeof(*items));
    items[0].src = &img->config;
    for (size_t i = 0; i < img->n_layers; i++) {
        items[i + 1].src = &img->layers[i].blob;
        items[i + 1].gzip = layer_media_type_compression(img->layers[i].blob.media_type) == 0;
    }
    struct push_run run = {.s = store,
                           .host = reference_registry_host(ref),
                           .path = ref->path,
                           .opts = *opts,
                           .user_opts = opts,
                           .items = items,
                           .n = n,
                           .docker = strcmp(img->manifest.media_type, MT_DOCKER_MANIFEST) == 0};
    pthread_mutex_init(&run.mu, NULL);
    if (opts->progress != NULL) {
        run.opts.progress = progress_locked;
        run.opts.progress_ctx = &run;
    }
    struct reg_client *c = NULL;
    cleanup_free char *manifest = NULL;
    size_t len = 0;
    int ret = reg_client_new(run.host, ref->domain, opts, &c, err);
    run.c = c;
    if (ret == 0)
        ret = push_all(&run, err);
    if (ret == 0)
        ret = manifest_bytes(store, img, items, &manifest, &len, err);
    struct digest md;
    if (ret == 0) {
        char mds[DIGEST_STR_LEN + 1];
        digest_bytes(manifest, len, &md);
        digest_str(&md, mds);
        ret = put_manifest(c, ref, by_digest, img->manifest.media_type, manifest, len, mds, err);
    }
    for (size_t i = 0; ret == 0 && i < n; i++) /* remembered for later mounts */
        records_source_add(store, &items[i].out.digest, run.host, ref->path, NULL);
    if (ret == 0) {
        pushed->media_type = xstrdup(img->manifest.media_type);
        pushed->digest = md;
        pushed->size = len;
    }
    for (size_t i = 0; i < n; i++)
        free(items[i].out.media_type);
    free(items);
    pthread_mutex_destroy(&run.mu);
    reg_client_free(c);
    return ret;
}

/* The index a local tag points at, or NULL (an image, an id, a digest). */
static json_t *local_index(struct store *store, const char *local_ref, struct descriptor *d)
{
    cleanup_error struct kiln_error *e = NULL;
    if (store_resolve_tag(store, local_ref, d, &e) < 0)
        return NULL;
    json_t *doc = store_blob_read_json(store, &d->digest, &e);
    const char *mt = json_string_value(json_object_get(doc, "mediaType"));
    if (doc != NULL && (mt != NULL ? manifest_media_type_is_index(mt)
                                   : json_is_array(json_object_get(doc, "manifests"))))
        return doc;
    json_decref(doc);
    descriptor_release(d);
    return NULL;
}

int registry_push(struct store *store, const char *local_ref, const char *dest_ref,
                  const struct registry_opts *opts, char **digest_out, struct kiln_error **err)
{
    static const struct registry_opts defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    struct descriptor local = {0}, pushed = {0};
    cleanup_json json_t *index = local_index(store, local_ref, &local);
    cleanup_image struct image *img = NULL;
    if (index == NULL && store_image_load(store, local_ref, &img, err) < 0)
        return -1;
    struct reference ref;
    if (reference_parse(dest_ref ? dest_ref : local_ref, &ref, err) < 0) {
        descriptor_release(&local);
        return -1;
    }
    int ret = index != NULL ? push_index(store, &local, index, &ref, opts, &pushed, err)
                            : push_image(store, img, &ref, 0, opts, &pushed, err);
    /* then what is attached to it (kiln build --sbom) */
    if (ret == 0 && img != NULL)
        ret = registry_push_referrers(store, &img->manifest.digest, &pushed, &ref, opts, err);
    if (ret == 0 && digest_out != NULL)
        *digest_out = digest_strdup(&pushed.digest);
    descriptor_release(&pushed);
    descriptor_release(&local);
    reference_release(&ref);
    return ret;
}
