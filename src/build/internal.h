/* What the build executor's files share: the state of a build and of each
 * stage, and the step functions. Not a public contract. */
#ifndef KILN_BUILD_INTERNAL_H
#define KILN_BUILD_INTERNAL_H

#include <jansson.h>
#include <pthread.h>

#include "build/build.h"
#include "build/cache.h"
#include "build/cache_io.h"
#include "build/context.h"
#include "build/rootview.h"
#include "build/statcache.h"
#include "dockerfile/dockerfile.h"
#include "dockerfile/eval.h"
#include "dockerfile/graph.h"
#include "store/layer.h"
#include "store/store.h"

struct stage_state {
    size_t index;
    char *label;    /* "stage-0" or its name, for progress lines */
    json_t *config; /* image config without rootfs; config.config is the runtime part */
    struct image_layer *layers;
    char **snaps; /* snapshot dir of each layer, same order (bottom first) */
    size_t n_layers;
    struct digest key; /* cache key chain after the last step */
    int cmd_set;       /* CMD given in this stage (ENTRYPOINT then keeps it) */
    int done, failed;  /* set by the scheduler (under its lock) when the stage ends */
    int has_job;       /* a step of it holds one of the --jobs */
    int pid;           /* progress id of the step running, or -1 */
    struct df_scope *scope;
    size_t step_no, n_steps; /* for "[stage 2/5]" */
    struct platform plat;    /* what its RUN steps run as (FROM --platform, else the target) */
};

struct build_pool;
struct discard;

struct build_ctx {
    const struct build_opts *o;
    struct store *store;
    const char *root;
    struct dockerfile *df;
    struct df_eval *ev;
    struct df_graph *g;
    struct context_index *ctx;
    struct statcache *sc;
    struct stage_state *stages; /* one per df stage */
    pthread_mutex_t mu;         /* guards image loads/pulls shared by stages */
    char **pulled;              /* references pulled in this build (--pull=always: once) */
    size_t n_pulled;
    int cancel;               /* set when a stage failed: others stop */
    struct build_pool *sched; /* its jobs, while the stages run (sched.c) */
    struct platform target;   /* o->platform or this machine's */
    struct discard *discard;  /* background removal of scratch dirs (discard.c) */
    struct cache_import *ci;  /* --cache-from records, or NULL */
    pthread_mutex_t lazy_mu;  /* fetching layers of imported hits */
    int record;               /* --cache-to given: keep the steps in rec */
    struct cache_step *rec;   /* steps hit or made (under mu) */
    size_t n_rec;
};

/* exec.c */
/* Runs one stage's instructions (its base first: waits for a FROM stage). */
int build_run_stage(struct build_ctx *b, struct stage_state *st, struct kiln_error **err);
/* The stage's file system (its layers' snapshots, fetched and unpacked
 * first when a --cache-from hit left them out). */
/* Rootless: the ids RUN steps' files belong to on the host (snapshots and
 * upper dirs), to record and show the ids inside; NULL as root. */
const struct id_map *build_host_ids(void);
int build_stage_rootview(struct build_ctx *b, struct stage_state *st, struct rootview **out,
                         struct kiln_error **err);
/* Fetches (when a --cache-from hit left it out) and unpacks every layer
 * of st; a layer refused here (bytes not matching) fails the build
 * attempt, and build_run starts over without it. */
int build_stage_materialize(struct build_ctx *b, struct stage_state *st, struct kiln_error **err);
int build_image_snapshots(struct build_ctx *b, const struct image *img, char ***snaps,
                          struct kiln_error **err);
void build_add_layer(struct stage_state *st, const struct cache_entry *e, const char *snap);
void build_add_history(struct build_ctx *b, struct stage_state *st, const char *created_by,
                       int empty_layer);
/* Looks up key (this store's cache, then --cache-from's records); on a hit
 * adds the layer (if any) and returns 1. A hit from a record adds the layer
 * without its bytes: build_stage_materialize fetches them when needed. */
int build_cache_hit(struct build_ctx *b, struct stage_state *st, const struct digest *key,
                    struct kiln_error **err);
/* Keeps key -> e for --cache-to (a no-op without it). */
void build_cache_note(struct build_ctx *b, struct stage_state *st, const struct digest *key,
                      const struct cache_entry *e);
/* Stores key -> e in the cache (and notes it for --cache-to); with --no-cache only where the cache
 * has no usable entry for key (a --no-cache build never replaces one). */
int build_cache_record(struct build_ctx *b, struct stage_state *st, const struct digest *key,
                       const struct cache_entry *e, struct kiln_error **err);
/* Turns dir (in the scratch area) into a layer: tar -> blob -> snapshot
 * (dir synced and moved into place, or discarded when the store already has
 * that snapshot), records it in the cache under key and adds it to the stage. */
int build_commit_dir(struct build_ctx *b, struct stage_state *st, const char *dir,
                     int overlay_whiteouts, const struct digest *key, struct kiln_error **err);
/* A layer written by fill straight into a blob (no directory first), then
 * its snapshot, made only when the store has none for its content yet, by
 * unpacking the blob (files equal to those in the snapshot of hint are
 * hardlinked). Records it under key and adds it to the stage. */
int build_commit_stream(struct build_ctx *b, struct stage_state *st,
                        int (*fill)(void *ctx, struct layer_stream *ls, struct kiln_error **err),
                        void *ctx, const struct digest *hint, const struct digest *key,
                        struct kiln_error **err);
/* A fresh directory under the store's scratch dir. Allocated. */
char *build_scratch_mkdtemp(struct build_ctx *b, const char *what, struct kiln_error **err);

/* base_image.c: the image FROM or COPY --from names, from the store or pulled
 * from its registry as o->pull says. Thread-safe (takes b->mu). */
int build_load_image(struct build_ctx *b, const char *ref, const struct platform *plat,
                     struct image **out, struct kiln_error **err);
void build_pulled_release(struct build_ctx *b);
/* Every image reference the needed stages pin by digest (FROM and COPY
 * --from): refused, naming both digests, when the store has its name:tag as
 * another manifest and not the pinned one (unless --pull=always). Runs before
 * any stage starts. */
int build_check_pins(struct build_ctx *b, struct kiln_error **err);

/* step_config.c: ENV LABEL EXPOSE ... Returns 0 and whether it was handled. */
int build_step_config(struct build_ctx *b, struct stage_state *st, const struct df_step *step,
                      struct kiln_error **err);
json_t *build_config_obj(struct stage_state *st); /* config.config, created when missing */

/* step_run.c */
int build_step_run(struct build_ctx *b, struct stage_state *st, const struct df_step *step, int pid,
                   struct digest *key, struct kiln_error **err);
/* step_copy.c: COPY/ADD, and WORKDIR's mkdir. */
int build_step_copy(struct build_ctx *b, struct stage_state *st, const struct df_step *step,
                    int pid, struct digest *key, struct kiln_error **err);
/* The root file system a --from (COPY, RUN --mount) names: a stage built
 * before (by name or index), scratch, or an image. *identity names its
 * content: the stage's layer diff ids, or the image's manifest digest. With
 * view NULL only the identity, opening nothing (an image is loaded or
 * pulled, not unpacked): for cache keys. */
int build_from_view(struct build_ctx *b, struct stage_state *st, const char *from,
                    struct rootview **view, struct digest *identity, struct kiln_error **err);
int build_step_workdir(struct build_ctx *b, struct stage_state *st, const char *path,
                       const struct digest *key, struct kiln_error **err);

/* sched.c: runs the stages the target needs, each in a thread (see there). */
int build_sched_run(struct build_ctx *b, struct kiln_error **err);
/* Blocks until stage (a dependency of st's in the plan) is built; "cancelled"
 * when a stage failed. A no-op outside the plan's dependencies. */
int build_wait_stage(struct build_ctx *b, struct stage_state *st, size_t stage,
                     struct kiln_error **err);
/* One of the --jobs, for a step's work; every wait above gives it back. */
void build_job_begin(struct build_ctx *b, struct stage_state *st);
void build_job_end(struct build_ctx *b, struct stage_state *st);

/* inflight.c: one step per cache key at a time in this process (platforms
 * built at once share steps): enter blocks while another thread holds key. */
void build_inflight_enter(const struct digest *key);
void build_inflight_leave(const struct digest *key);

/* discard.c: removes scratch directories in the background. */
void build_discard_start(struct build_ctx *b);
void build_discard(struct build_ctx *b, const char *path);
/* Waits until every directory given is gone. */
void build_discard_wait(struct build_ctx *b);

#endif
