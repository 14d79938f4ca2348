/* The stage graph of a multi-stage build: which stages a target needs, in
 * which order, which can run in parallel, and what COPY --from / RUN
 * --mount from= refer to. FROM and --from values are expanded first (FROM
 * with the global ARGs, --from with the stage's ARGs). */
#ifndef KILN_DOCKERFILE_GRAPH_H
#define KILN_DOCKERFILE_GRAPH_H

#include <stddef.h>

#include "dockerfile/dockerfile.h"
#include "dockerfile/eval.h"
#include "util/error.h"

enum df_ref_kind {
    DF_REF_IMAGE = 1, /* an image reference to pull / look up */
    DF_REF_STAGE,     /* another stage of this Dockerfile */
    DF_REF_SCRATCH,   /* FROM scratch: the empty image */
};

struct df_ref {
    enum df_ref_kind kind;
    size_t stage; /* DF_REF_STAGE */
    char *image;  /* DF_REF_IMAGE: the expanded reference */
};

struct df_graph_stage {
    size_t index;
    struct df_ref base; /* what FROM names */
    char *platform;     /* expanded --platform, or NULL */
    size_t *deps;       /* stages it needs: base first, then --from / mount
                           from= stages, no duplicates */
    size_t n_deps;
    char **images; /* images it needs besides its base (COPY --from=image) */
    size_t n_images;
    int needed;        /* the target depends on it */
    int wave;          /* needed stages with the same wave can run in parallel;
                          waves run in increasing order; -1 if not needed */
    char *skip_reason; /* not needed: why, e.g. "not needed by target \"app\"" */
};

struct df_graph {
    struct df_graph_stage *stages; /* one per df->stages, same index */
    size_t n_stages;
    size_t target; /* index of the target stage */
    size_t *order; /* needed stages, dependencies first (stable by index) */
    size_t n_order;
    int n_waves;
};

/* Builds the graph for target (a stage name or index; NULL = the last stage).
 * Errors: unknown target, COPY --from index not before the current stage,
 * a stage that depends on itself (cycle). A stage name defined twice
 * (DuplicateStageName, a warning) means the last such stage, except in FROM,
 * which sees only the stages before it. */
int df_graph_build(struct df_eval *ev, const char *target, struct df_graph **out,
                   struct kiln_error **err);
void df_graph_free(struct df_graph *g);

/* Resolves a --from / from= value (already expanded) seen in stage `current`:
 * a stage name (case-insensitive), a stage index (must be < current), else an
 * image reference. */
int df_resolve_from(const struct dockerfile *df, size_t current, const char *from,
                    struct df_ref *out, struct kiln_error **err);
void df_ref_release(struct df_ref *r);

#endif
