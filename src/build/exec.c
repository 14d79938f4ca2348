/* The build executor: walks each stage's instructions (ONBUILD triggers of
 * its base first), turns steps into layers, and writes the target's image.
 * sched.c decides when a stage and a step may run. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build/internal.h"
#include "runtime/binfmt.h"
#include "runtime/runtime.h"
#include "store/layer.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"
#include "util/userns.h"

char *build_scratch_mkdtemp(struct build_ctx *b, const char *what, struct kiln_error **err)
{
    char *t = xasprintf("%s/%s-XXXXXX", store_scratch_dir(b->store), what);
    if (mkdtemp(t) == NULL) {
        int e = errno;
        free(t);
        kiln_error_errno(err, e, "create a scratch directory in %s", store_scratch_dir(b->store));
        return NULL;
    }
    return t;
}

static void rfc3339(int64_t t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *build_config_obj(struct stage_state *st)
{
    json_t *c = json_object_get(st->config, "config");
    if (!json_is_object(c)) {
        c = json_object();
        json_object_set_new(st->config, "config", c);
    }
    return c;
}

void build_add_history(struct build_ctx *b, struct stage_state *st, const char *created_by,
                       int empty_layer)
{
    json_t *h = json_object_get(st->config, "history");
    if (!json_is_array(h)) {
        h = json_array();
        json_object_set_new(st->config, "history", h);
    }
    char created[64];
    rfc3339(b->o->epoch, created, sizeof(created));
    json_t *e = json_pack("{s:s, s:s, s:s}", "created", created, "created_by", created_by,
                          "comment", "kiln build");
    if (empty_layer)
        json_object_set_new(e, "empty_layer", json_true());
    json_array_append_new(h, e);
}

void build_add_layer(struct stage_state *st, const struct cache_entry *e, const char *snap)
{
    st->layers = xrealloc(st->layers, (st->n_layers + 1) * sizeof(*st->layers));
    st->snaps = xrealloc(st->snaps, (st->n_layers + 1) * sizeof(*st->snaps));
    struct image_layer *l = &st->layers[st->n_layers];
    memset(l, 0, sizeof(*l));
    l->blob.media_type = xstrdup(e->media_type);
    l->blob.digest = e->digest;
    l->blob.size = e->size;
    l->diffid = e->diff_id;
    st->snaps[st->n_layers] = snap != NULL ? xstrdup(snap) : NULL; /* NULL: not fetched yet */
    st->n_layers++;
}

/* The layer's blob in the store: fetched from the --cache-from record that
 * named it, else refused (the build starts over without that record's
 * entries for it). */
static int fetch_layer(struct build_ctx *b, const struct image_layer *l, struct kiln_error **err)
{
    if (store_blob_has(b->store, &l->blob.digest))
        return 0;
    struct cache_entry e = {
        .has_layer = 1, .digest = l->blob.digest, .diff_id = l->diffid, .size = l->blob.size};
    snprintf(e.media_type, sizeof(e.media_type), "%s", l->blob.media_type);
    if (b->ci == NULL)
        return kiln_error_set(err, KILN_E_NOTFOUND, "layer %s is not in the store",
                              l->blob.digest.hex);
    progress_message(b->o->progress, "=> cache: fetching layer sha256:%.12s (%llu bytes)",
                     l->blob.digest.hex, (unsigned long long)l->blob.size);
    cleanup_error struct kiln_error *fe = NULL;
    if (cache_import_fetch(b->ci, b->store, &e, &fe) < 0) {
        cache_import_refuse(b->ci, &l->blob.digest, fe->msg);
        return kiln_error_set(err, KILN_E_DIGEST, "%s", fe->msg);
    }
    return 0;
}

int build_stage_materialize(struct build_ctx *b, struct stage_state *st, struct kiln_error **err)
{
    int rc = 0;
    pthread_mutex_lock(&b->lazy_mu);
    for (size_t i = 0; i < st->n_layers && rc == 0; i++) {
        if (st->snaps[i] != NULL)
            continue;
        rc = fetch_layer(b, &st->layers[i], err);
        if (rc == 0 && store_snapshot_ensure(b->store, &st->layers[i], &st->snaps[i], err) < 0) {
            /* the bytes matched their digest but not the diff id the record gave */
            if (b->ci != NULL)
                cache_import_refuse(b->ci, &st->layers[i].blob.digest, (*err)->msg);
            rc = -1;
        }
    }
    pthread_mutex_unlock(&b->lazy_mu);
    return rc;
}

static struct id_map host_ids;

static void read_host_ids(void)
{
    rt_rootless_id_map(&host_ids);
}

const struct id_map *build_host_ids(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (geteuid() == 0)
        return NULL;
    pthread_once(&once, read_host_ids);
    return &host_ids;
}

int build_stage_rootview(struct build_ctx *b, struct stage_state *st, struct rootview **out,
                         struct kiln_error **err)
{
    if (build_stage_materialize(b, st, err) < 0)
        return -1;
    const char **dirs = xcalloc(st->n_layers + 1, sizeof(char *));
    for (size_t i = 0; i < st->n_layers; i++)
        dirs[i] = st->snaps[st->n_layers - 1 - i];
    int rc = rootview_open(dirs, st->n_layers, out, err);
    free(dirs);
    if (rc == 0 && build_host_ids() != NULL)
        rootview_set_ids(*out, build_host_ids());
    return rc;
}

void build_cache_note(struct build_ctx *b, struct stage_state *st, const struct digest *key,
                      const struct cache_entry *e)
{
    if (!b->record)
        return;
    pthread_mutex_lock(&b->mu);
    b->rec = xrealloc(b->rec, (b->n_rec + 1) * sizeof(*b->rec));
    b->rec[b->n_rec++] = (struct cache_step){.key = *key, .e = *e, .stage = st->index};
    pthread_mutex_unlock(&b->mu);
}

int build_cache_hit(struct build_ctx *b, struct stage_state *st, const struct digest *key,
                    struct kiln_error **err)
{
    if (b->o->no_cache)
        return 0;
    struct cache_entry e;
    int rc = cache_lookup(b->root, key, &e, err);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        if (!cache_import_lookup(b->ci, key, &e))
            return 0;
        /* Kept in this store's cache too: a local hit once its blob is here. */
        cleanup_error struct kiln_error *serr = NULL;
        cache_store(b->root, key, &e, &serr);
        if (e.has_layer && !store_blob_has(b->store, &e.digest)) {
            build_add_layer(st, &e, NULL); /* fetched only when needed */
            build_cache_note(b, st, key, &e);
            return 1;
        }
    }
    if (e.has_layer) {
        struct image_layer l = {
            .blob = {.media_type = e.media_type, .digest = e.digest, .size = e.size},
            .diffid = e.diff_id};
        char *snap = NULL;
        cleanup_error struct kiln_error *serr = NULL;
        if (!store_blob_has(b->store, &e.digest) ||
            store_snapshot_ensure(b->store, &l, &snap, &serr) < 0)
            return 0; /* the store lost it: run the step again */
        build_add_layer(st, &e, snap);
        free(snap);
    }
    build_cache_note(b, st, key, &e);
    return 1;
}

int build_cache_record(struct build_ctx *b, struct stage_state *st, const struct digest *key,
                       const struct cache_entry *e, struct kiln_error **err)
{
    build_cache_note(b, st, key, e);
    if (b->o->no_cache) {
        /* --no-cache rebuilds but keeps what the cache already says: the
         * keys after this one chain on it and were stored for its layer, so
         * replacing it would pair them with a layer they were not made on. */
        struct cache_entry old;
        cleanup_error struct kiln_error *lerr = NULL;
        if (cache_lookup(b->root, key, &old, &lerr) == 1)
            return 0;
    }
    return cache_store(b->root, key, e, err);
}

struct sink_ctx {
    struct blob_writer *w;
};

static int sink_write(void *ctx, const void *buf, size_t len, struct kiln_error **err)
{
    return blob_writer_write(((struct sink_ctx *)ctx)->w, buf, len, err);
}

int build_commit_dir(struct build_ctx *b, struct stage_state *st, const char *dir,
                     int overlay_whiteouts, const struct digest *key, struct kiln_error **err)
{
    cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_errno(err, errno, "open %s", dir);
    cleanup_blob_writer struct blob_writer *w = NULL;
    if (blob_writer_new(b->store, &w, err) < 0)
        return -1;
    struct sink_ctx sc = {w};
    struct byte_sink sink = {sink_write, &sc};
    struct layer_write_opts lo = {
        .epoch = b->o->epoch, .overlay_whiteouts = overlay_whiteouts, .ids = build_host_ids()};
    struct cache_entry e = {.has_layer = 1};
    uint64_t size = 0;
    if (layer_write_from_dir(fd, &lo, sink, &e.diff_id, &size, err) < 0)
        return kiln_error_prefix(err, "write layer");
    if (blob_writer_commit(w, &e.diff_id, (int64_t)size, &e.digest, err) < 0)
        return -1;
    e.size = size;
    snprintf(e.media_type, sizeof(e.media_type), "%s", MT_OCI_LAYER);
    int adopted = store_snapshot_adopt(b->store, dir, &e.diff_id, err);
    if (adopted < 0)
        return -1;
    if (adopted == 0)
        build_discard(b, dir);
    cleanup_free char *snap = store_snapshot_path(b->store, &e.diff_id);
    build_add_layer(st, &e, snap);
    if (key != NULL && build_cache_record(b, st, key, &e, err) < 0)
        return -1;
    return 0;
}

int build_commit_stream(struct build_ctx *b, struct stage_state *st,
                        int (*fill)(void *ctx, struct layer_stream *ls, struct kiln_error **err),
                        void *ctx, const struct digest *hint, const struct digest *key,
                        struct kiln_error **err)
{
    cleanup_blob_writer struct blob_writer *w = NULL;
    if (blob_writer_new(b->store, &w, err) < 0)
        return -1;
    struct sink_ctx sc = {w};
    struct layer_stream *ls = layer_stream_new((struct byte_sink){sink_write, &sc}, b->o->epoch);
    struct cache_entry e = {.has_layer = 1};
    uint64_t size = 0;
    int rc = fill(ctx, ls, err);
    if (rc == 0)
        rc = layer_stream_finish(ls, &e.diff_id, &size, err);
    layer_stream_free(ls);
    if (rc < 0)
        return kiln_error_prefix(err, "write layer");
    if (blob_writer_commit(w, &e.diff_id, (int64_t)size, &e.digest, err) < 0)
        return -1;
    e.size = size;
    snprintf(e.media_type, sizeof(e.media_type), "%s", MT_OCI_LAYER);
    /* The snapshot only when the store has none for this content yet (a
     * --no-cache build, or the same files under another key, writes no
     * file); made from the blob, so it is the layer, linking what did not
     * change from the snapshot hint names. */
    struct image_layer l = {
        .blob = {.media_type = e.media_type, .digest = e.digest, .size = e.size},
        .diffid = e.diff_id};
    cleanup_free char *snap = NULL;
    if (store_snapshot_ensure_like(b->store, &l, hint, &snap, err) < 0)
        return -1;
    build_add_layer(st, &e, snap);
    if (key != NULL && build_cache_record(b, st, key, &e, err) < 0)
        return -1;
    return 0;
}

int build_image_snapshots(struct build_ctx *b, const struct image *img, char ***snaps,
                          struct kiln_error **err)
{
    char **v = xcalloc(img->n_layers + 1, sizeof(char *));
    for (size_t i = 0; i < img->n_layers; i++) {
        if (store_snapshot_ensure(b->store, &img->layers[i], &v[i], err) < 0) {
            for (size_t k = 0; k < i; k++)
                free(v[k]);
            free(v);
            return -1;
        }
    }
    *snaps = v;
    return 0;
}

/* --- stages ------------------------------------------------------------------- */

static void stage_reset(struct stage_state *st)
{
    json_decref(st->config);
    for (size_t i = 0; i < st->n_layers; i++) {
        descriptor_release(&st->layers[i].blob);
        free(st->snaps[i]);
    }
    free(st->layers);
    free(st->snaps);
    st->layers = NULL;
    st->snaps = NULL;
    st->n_layers = 0;
    st->config = NULL;
}

static int stage_base(struct build_ctx *b, struct stage_state *st, struct kiln_error **err)
{
    const struct df_graph_stage *gs = &b->g->stages[st->index];
    /* The base key's fields, in order (docs/build.md, "What a step key
     * covers"): epoch, then base | base-stage | base-image. Nothing bound to
     * this machine (paths, inodes, mtimes): keys must mean the same on every
     * machine for --cache-from. */
    struct digester *k = cache_key_begin(NULL);
    /* Every layer's times are clamped to the epoch, so a step made under
     * another epoch is another step: reusing it would give an image that a
     * clean build with this epoch does not. */
    char epoch[24];
    snprintf(epoch, sizeof(epoch), "%lld", (long long)b->o->epoch);
    cache_key_adds(k, "epoch", epoch);
    /* The stage's platform: FROM --platform, else its base stage's, else
     * the target's. */
    st->plat = b->target;
    if (gs->platform != NULL) {
        if (platform_parse(gs->platform, &st->plat, err) < 0 ||
            platform_check_buildable(&st->plat, err) < 0) {
            digester_free(k);
            return kiln_error_prefix(err, "stage %s: FROM --platform", st->label);
        }
    }
    if (gs->base.kind == DF_REF_SCRATCH) {
        st->config = json_pack("{s:{}}", "config");
        cache_key_adds(k, "base", "scratch");
    } else if (gs->base.kind == DF_REF_STAGE) {
        struct stage_state *src = &b->stages[gs->base.stage];
        if (build_wait_stage(b, st, gs->base.stage, err) < 0) {
            digester_free(k);
            return -1;
        }
        st->config = json_deep_copy(src->config);
        if (gs->platform == NULL)
            st->plat = src->plat;
        for (size_t i = 0; i < src->n_layers; i++) {
            struct cache_entry e = {.has_layer = 1,
                                    .digest = src->layers[i].blob.digest,
                                    .diff_id = src->layers[i].diffid,
                                    .size = src->layers[i].blob.size};
            snprintf(e.media_type, sizeof(e.media_type), "%s", src->layers[i].blob.media_type);
            build_add_layer(st, &e, src->snaps[i]);
        }
        cache_key_adds(k, "base-stage", src->key.hex);
    } else {
        cleanup_image struct image *img = NULL;
        if (build_load_image(b, gs->base.image, &st->plat, &img, err) < 0) {
            digester_free(k);
            return kiln_error_prefix(err, "stage %s: FROM %s", st->label, gs->base.image);
        }
        st->config = json_deep_copy(img->config_json);
        json_object_del(st->config, "rootfs");
        for (size_t i = 0; i < img->n_layers; i++) {
            struct cache_entry e = {.has_layer = 1,
                                    .digest = img->layers[i].blob.digest,
                                    .diff_id = img->layers[i].diffid,
                                    .size = img->layers[i].blob.size};
            snprintf(e.media_type, sizeof(e.media_type), "%s", img->layers[i].blob.media_type);
            /* Unpacked only when a step needs the tree (a RUN or COPY that
             * misses): a build whose steps all hit never writes the base's
             * files, as on an empty store with --cache-from. */
            cleanup_free char *snap = store_snapshot_has(b->store, &e.diff_id)
                                          ? store_snapshot_path(b->store, &e.diff_id)
                                          : NULL;
            build_add_layer(st, &e, snap);
        }
        cache_key_adds(k, "base-image", img->manifest.digest.hex);
    }
    /* The platform is one field of every step's key (through this chain):
     * the same Dockerfile for two platforms is two sets of steps. */
    char ps[PLATFORM_STR_MAX];
    cache_key_adds(k, "platform", platform_format(&st->plat, ps));
    cache_key_finish(k, &st->key);
    json_object_set_new(st->config, "architecture", json_string(st->plat.arch));
    json_object_set_new(st->config, "os", json_string(st->plat.os));
    if (st->plat.variant[0] != '\0')
        json_object_set_new(st->config, "variant", json_string(st->plat.variant));
    else
        json_object_del(st->config, "variant");
    return binfmt_ensure(&st->plat, err);
}

/* As BuildKit does: a stage whose base sets no PATH gets the default one, in
 * its config and so in its RUN steps. */
static void default_path(struct stage_state *st)
{
    json_t *c = build_config_obj(st);
    json_t *e = json_object_get(c, "Env");
    size_t i;
    json_t *v;
    json_array_foreach(e, i, v)
    {
        if (json_is_string(v) && strncmp(json_string_value(v), "PATH=", 5) == 0)
            return;
    }
    if (!json_is_array(e)) {
        e = json_array();
        json_object_set_new(c, "Env", e);
    }
    json_array_append_new(
        e, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
}

static int base_env(struct stage_state *st, const char ***env, size_t *n)
{
    json_t *e = json_object_get(build_config_obj(st), "Env");
    *n = json_is_array(e) ? json_array_size(e) : 0;
    *env = xcalloc(*n + 1, sizeof(char *));
    for (size_t i = 0; i < *n; i++)
        (*env)[i] = json_string_value(json_array_get(e, i));
    return 0;
}

static int run_instr(struct build_ctx *b, struct stage_state *st, const struct df_instr *ins,
                     struct kiln_error **err)
{
    struct df_step *step = NULL;
    if (df_scope_step(st->scope, ins, &step, err) < 0)
        return -1;
    struct digester *k = cache_key_begin(&st->key);
    cache_key_adds(k, "instr", step->cache_text);
    for (size_t i = 0; i < step->n_used_args; i++)
        cache_key_adds(k, "arg", step->used_args[i]);
    struct digest key;
    cache_key_finish(k, &key);
    int rc = 0;
    if (ins->kind == DF_RUN || ins->kind == DF_COPY || ins->kind == DF_ADD) {
        st->step_no++;
        cleanup_free char *name =
            xasprintf("[%s %zu/%zu] %s", st->label, st->step_no, st->n_steps, step->text);
        int pid = progress_step_begin(b->o->progress, name);
        st->pid = pid;
        build_job_begin(b, st);
        if (ins->kind == DF_RUN)
            rc = build_step_run(b, st, step, pid, &key, err);
        else
            rc = build_step_copy(b, st, step, pid, &key, err);
        build_job_end(b, st);
        st->pid = -1;
    } else {
        rc = build_step_config(b, st, step, err);
        if (rc == 0 && ins->kind == DF_WORKDIR) {
            const char *wd = json_string_value(json_object_get(build_config_obj(st), "WorkingDir"));
            rc = build_step_workdir(b, st, wd ? wd : "/", &key, err);
        }
    }
    if (rc == 0)
        st->key = key;
    else if (*err != NULL && strncmp((*err)->msg, b->df->file, strlen(b->df->file)) != 0)
        kiln_error_prefix(err, "%s:%d: %s", b->df->file, ins->pos.line, ins->keyword);
    df_step_free(step);
    return rc;
}

static int run_onbuild(struct build_ctx *b, struct stage_state *st, struct kiln_error **err)
{
    json_t *c = build_config_obj(st);
    json_t *ob = json_object_get(c, "OnBuild");
    if (!json_is_array(ob) || json_array_size(ob) == 0)
        return 0;
    json_t *triggers = json_incref(ob);
    json_object_del(c, "OnBuild");
    int rc = 0;
    size_t i;
    json_t *t;
    json_array_foreach(triggers, i, t)
    {
        struct df_instr *ins = NULL;
        if (!json_is_string(t))
            continue;
        if (df_parse_instr(json_string_value(t), b->df->escape, "ONBUILD trigger", &ins, err) < 0) {
            rc = -1;
            break;
        }
        rc = run_instr(b, st, ins, err);
        df_instr_free(ins);
        if (rc < 0)
            break;
    }
    json_decref(triggers);
    return rc;
}

static int count_fs_steps(const struct df_stage *s)
{
    int n = 0;
    for (size_t i = 0; i < s->n_instrs; i++)
        n += s->instrs[i].kind == DF_RUN || s->instrs[i].kind == DF_COPY ||
             s->instrs[i].kind == DF_ADD;
    return n;
}

int build_run_stage(struct build_ctx *b, struct stage_state *st, struct kiln_error **err)
{
    const struct df_stage *ds = &b->df->stages[st->index];
    if (stage_base(b, st, err) < 0)
        return -1;
    default_path(st);
    st->n_steps = (size_t)count_fs_steps(ds);
    const char **env = NULL;
    size_t n_env = 0;
    base_env(st, &env, &n_env);
    int rc = df_scope_new(b->ev, st->index, env, n_env, &st->scope, err);
    free(env);
    if (rc < 0)
        return -1;
    if (run_onbuild(b, st, err) < 0)
        return -1;
    for (size_t i = 0; i < ds->n_instrs; i++) {
        if (__atomic_load_n(&b->cancel, __ATOMIC_SEQ_CST))
            return kiln_error_set(err, KILN_E_FAIL, "stage %s: cancelled", st->label);
        if (run_instr(b, st, &ds->instrs[i], err) < 0)
            return -1;
    }
    return 0;
}

/* The stages whose layers the target's image holds: it and its FROM chain. */
static int in_result(struct build_ctx *b, size_t stage)
{
    size_t t = b->g->target;
    for (size_t guard = 0; guard <= b->df->n_stages; guard++) {
        if (t == stage)
            return 1;
        if (b->g->stages[t].base.kind != DF_REF_STAGE)
            return 0;
        t = b->g->stages[t].base.stage;
    }
    return 0;
}

/* The steps --cache-to with mode (max: all) exports; allocated. */
static struct cache_step *export_steps(struct build_ctx *b, int max, size_t *n)
{
    struct cache_step *v = xcalloc(b->n_rec + 1, sizeof(*v));
    *n = 0;
    for (size_t i = 0; i < b->n_rec; i++)
        if (max || in_result(b, b->rec[i].stage))
            v[(*n)++] = b->rec[i];
    return v;
}

static int write_image(struct build_ctx *b, struct stage_state *st, const json_t *annotations,
                       struct build_result *out, struct kiln_error **err)
{
    /* The image's layers from --cache-from hits: their bytes now. */
    for (size_t i = 0; i < st->n_layers; i++)
        if (st->snaps[i] == NULL && fetch_layer(b, &st->layers[i], err) < 0)
            return -1;
    char created[64];
    rfc3339(b->o->epoch, created, sizeof(created));
    json_object_set_new(st->config, "created", json_string(created));
    json_object_del(st->config, "rootfs");
    if (b->o->n_labels > 0) {
        json_t *c = build_config_obj(st);
        json_t *labels = json_object_get(c, "Labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(c, "Labels", labels);
        }
        for (size_t i = 0; i < b->o->n_labels; i++) {
            const char *eq = strchr(b->o->labels[i], '=');
            cleanup_free char *k = eq ? xstrndup(b->o->labels[i], (size_t)(eq - b->o->labels[i]))
                                      : xstrdup(b->o->labels[i]);
            json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
        }
    }
    if (store_image_write(b->store, st->config, st->layers, st->n_layers, annotations,
                          &out->manifest, err) < 0)
        return -1;
    cleanup_json json_t *m = store_blob_read_json(b->store, &out->manifest.digest, err);
    if (m == NULL)
        return -1;
    const char *cd = json_get_str(json_object_get(m, "config"), "digest");
    if (cd == NULL || digest_parse(cd, &out->config, err) < 0)
        return kiln_error_set(err, KILN_E_INVALID, "the manifest written has no config digest");
    out->size = (uint64_t)json_get_int(json_object_get(m, "config"), "size", 0);
    for (size_t i = 0; i < st->n_layers; i++)
        out->size += st->layers[i].blob.size;
    return 0;
}

static void warn_cb(void *ud, const struct df_warning *w)
{
    struct build_ctx *b = ud;
    progress_message(b->o->progress, "warning: %s:%d: %s", b->df->file, w->pos.line, w->msg);
}

/* Before any step: every FROM platform is one kiln builds for, emulation is
 * there for it, and every base image has it (loaded or pulled now; the
 * stages find it again later). Stages FROM another stage are checked when
 * they start (their platform is their base's). */
static int check_platforms(struct build_ctx *b, struct kiln_error **err)
{
    for (size_t n = 0; n < b->g->n_order; n++) {
        const struct df_graph_stage *gs = &b->g->stages[b->g->order[n]];
        const char *label = b->stages[gs->index].label;
        struct platform p = b->target;
        if (gs->platform != NULL &&
            (platform_parse(gs->platform, &p, err) < 0 || platform_check_buildable(&p, err) < 0))
            return kiln_error_prefix(err, "stage %s: FROM --platform", label);
        if (gs->platform != NULL && binfmt_ensure(&p, err) < 0)
            return kiln_error_prefix(err, "stage %s", label);
        if (gs->base.kind != DF_REF_IMAGE)
            continue;
        cleanup_image struct image *img = NULL;
        if (build_load_image(b, gs->base.image, &p, &img, err) < 0)
            return kiln_error_prefix(err, "stage %s: FROM %s", label, gs->base.image);
    }
    return 0;
}

static void cache_warn(void *ctx, const char *msg)
{
    progress_message(ctx, "warning: %s", msg);
}

/* After the image: --cache-to's records (a failure to write one is a
 * warning, the image is built). */
static void export_caches(struct build_ctx *b, const struct cache_io_spec *to, size_t n_to)
{
    /* Steps hit from a --cache-from record whose layers nothing needed are
     * fetched now, so that the record written (often to the same place, as
     * with the data environment's --cache) still holds them. */
    for (size_t i = 0; b->ci != NULL && i < b->n_rec; i++) {
        struct cache_step *r = &b->rec[i];
        int wanted = 0;
        for (size_t k = 0; k < n_to && !wanted; k++)
            wanted = to[k].kind != CACHE_IO_INLINE && (to[k].max || in_result(b, r->stage));
        if (!wanted || !r->e.has_layer || store_blob_has(b->store, &r->e.digest))
            continue;
        struct image_layer l = {
            .blob = {.media_type = r->e.media_type, .digest = r->e.digest, .size = r->e.size},
            .diffid = r->e.diff_id};
        cleanup_error struct kiln_error *fe = NULL;
        if (fetch_layer(b, &l, &fe) < 0)
            progress_message(b->o->progress, "warning: not exported: %s", fe->msg);
    }
    for (size_t i = 0; i < n_to; i++) {
        if (to[i].kind == CACHE_IO_INLINE)
            continue;
        size_t n = 0;
        struct cache_step *v = export_steps(b, to[i].max, &n);
        cleanup_error struct kiln_error *e = NULL;
        const char *where = to[i].kind == CACHE_IO_LOCAL ? to[i].dir : to[i].ref;
        if (cache_export(b->store, &to[i], v, n, b->o->registry, &e) < 0)
            progress_message(b->o->progress, "warning: %s", e->msg);
        else
            progress_message(b->o->progress, "=> cache exported to %s (%zu steps, mode=%s)", where,
                             n, to[i].max ? "max" : "min");
        free(v);
    }
}

static int build_run_once(const struct build_opts *o, struct cache_import *ci,
                          const struct cache_io_spec *to, size_t n_to, struct build_result *out,
                          struct kiln_error **err)
{
    struct build_ctx b = {
        .o = o, .store = o->store, .root = store_root(o->store), .ci = ci, .record = n_to > 0};
    pthread_mutex_init(&b.mu, NULL);
    pthread_mutex_init(&b.lazy_mu, NULL);
    memset(out, 0, sizeof(*out));
    cleanup_free char *dfpath =
        o->dockerfile ? xstrdup(o->dockerfile) : path_join(o->context_dir, "Dockerfile");
    struct dockerignore *di = NULL;
    int rc = -1, gate_passed = 0;
    cleanup_free char *scpath = xasprintf("%s/cache/statcache", b.root);
    cleanup_free char *cachedir = xasprintf("%s/cache", b.root);
    cleanup_free char *lockpath = xasprintf("%s/cache/lock", b.root);
    if (mkdir_p(cachedir, 0755, err) < 0)
        goto out;
    b.sc = statcache_open(scpath);
    if (df_parse_file(dfpath, &b.df, err) < 0)
        goto out;
    for (size_t i = 0; i < b.df->n_warnings; i++)
        warn_cb(&b, &b.df->warnings[i]);
    if (o->platform != NULL)
        b.target = *o->platform;
    else
        platform_host(&b.target);
    char target_str[PLATFORM_STR_MAX];
    platform_format(&b.target, target_str);
    /* a foreign target without emulation stops here, before any step */
    if (binfmt_ensure(&b.target, err) < 0)
        goto out;
    struct df_eval_opts eo = {.build_args = o->build_args,
                              .n_build_args = o->n_build_args,
                              .target_platform = target_str};
    if (df_eval_new(b.df, &eo, &b.ev, err) < 0)
        goto out;
    df_eval_set_warn(b.ev, warn_cb, &b);
    if (df_graph_build(b.ev, o->target, &b.g, err) < 0 || build_check_pins(&b, err) < 0)
        goto out;
    if (dockerignore_load(o->context_dir, dfpath, &di, NULL, err) < 0 ||
        context_index_build(o->context_dir, di, &b.ctx, err) < 0)
        goto out;
    b.stages = xcalloc(b.df->n_stages, sizeof(*b.stages));
    for (size_t i = 0; i < b.df->n_stages; i++) {
        b.stages[i].index = i;
        b.stages[i].pid = -1;
        b.stages[i].label =
            b.df->stages[i].name ? xstrdup(b.df->stages[i].name) : xasprintf("stage-%zu", i);
        if (o->label_platform) {
            char *l = xasprintf("%s %s", target_str, b.stages[i].label);
            free(b.stages[i].label);
            b.stages[i].label = l;
        }
    }
    int checked = check_platforms(&b, err);
    gate_passed = 1;
    if (o->checked != NULL && o->checked(o->checked_ctx, checked == 0) < 0 && checked == 0)
        checked = kiln_error_set(err, KILN_E_FAIL, "cancelled: another platform failed");
    if (checked < 0)
        goto out;
    build_discard_start(&b);
    if (build_sched_run(&b, err) < 0)
        goto out;
    const char **unused = NULL;
    size_t nu = df_eval_unused_args(b.ev, &unused);
    for (size_t i = 0; i < nu; i++)
        progress_message(o->progress, "warning: build arg %s was given but never used by an ARG",
                         unused[i]);
    free(unused);
    {
        cleanup_json json_t *ann = NULL;
        for (size_t i = 0; i < n_to; i++) {
            if (to[i].kind != CACHE_IO_INLINE || ann != NULL)
                continue;
            size_t n = 0;
            struct cache_step *v = export_steps(&b, 0, &n);
            struct stage_state *t = &b.stages[b.g->target];
            cleanup_free char *val = cache_inline_value(v, n, t->layers, t->n_layers);
            free(v);
            ann = json_pack("{s:s}", CACHE_INLINE_ANNOTATION, val);
        }
        if (write_image(&b, &b.stages[b.g->target], ann, out, err) < 0)
            goto out;
    }
    export_caches(&b, to, n_to);
    rc = 0;
out:
    if (!gate_passed && o->checked != NULL)
        o->checked(o->checked_ctx, 0); /* failed before its checks: the others stop too */
    build_discard_wait(&b);
    if (b.sc != NULL) {
        cleanup_error struct kiln_error *serr = NULL;
        statcache_save(b.sc, lockpath, &serr); /* only a speed-up: failure is fine */
        statcache_free(b.sc);
    }
    if (b.stages != NULL) {
        for (size_t i = 0; i < b.df->n_stages; i++) {
            stage_reset(&b.stages[i]);
            df_scope_free(b.stages[i].scope);
            free(b.stages[i].label);
        }
        free(b.stages);
    }
    context_index_free(b.ctx);
    dockerignore_free(di);
    df_graph_free(b.g);
    df_eval_free(b.ev);
    df_free(b.df);
    build_pulled_release(&b);
    free(b.rec);
    pthread_mutex_destroy(&b.mu);
    pthread_mutex_destroy(&b.lazy_mu);
    return rc;
}

int build_run(const struct build_opts *o, struct build_result *out, struct kiln_error **err)
{
    size_t nf = o->n_cache_from, nt = o->n_cache_to;
    struct cache_io_spec *from = xcalloc(nf + 1, sizeof(*from));
    struct cache_io_spec *to = xcalloc(nt + 1, sizeof(*to));
    struct cache_import *ci = NULL;
    int rc = 0;
    for (size_t i = 0; i < nf && rc == 0; i++)
        rc = cache_io_spec_parse(o->cache_from[i], 0, &from[i], err);
    for (size_t i = 0; i < nt && rc == 0; i++)
        rc = cache_io_spec_parse(o->cache_to[i], 1, &to[i], err);
    if (rc == 0 && nf > 0 && !o->no_cache)
        ci = cache_import_load(o->store, from, nf, o->registry, cache_warn, o->progress);
    /* A layer a record named that turned out wrong (bytes not matching) is
     * refused: the attempt fails, and the build starts over without it (what
     * was fetched or built so far is in this store's cache by then). */
    for (int attempt = 0; rc == 0; attempt++) {
        unsigned refused = cache_import_refused(ci);
        rc = build_run_once(o, ci, to, nt, out, err);
        if (rc == 0 || attempt >= 8 || cache_import_refused(ci) == refused)
            break;
        progress_message(o->progress, "=> cache: building again without the refused layer (%s)",
                         (*err)->msg);
        kiln_error_freep(err);
        build_result_release(out);
        rc = 0;
    }
    cache_import_free(ci);
    for (size_t i = 0; i < nf; i++)
        cache_io_spec_release(&from[i]);
    for (size_t i = 0; i < nt; i++)
        cache_io_spec_release(&to[i]);
    free(from);
    free(to);
    return rc;
}

void build_result_release(struct build_result *r)
{
    descriptor_release(&r->manifest);
}
