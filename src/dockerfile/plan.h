/* The build plan as text, for `kiln build --dry-run`: the stages that will
 * run in order (with their parallel waves), each step expanded, and why the
 * other stages are skipped. Only renders; cli/ prints it. */
#ifndef KILN_DOCKERFILE_PLAN_H
#define KILN_DOCKERFILE_PLAN_H

#include "dockerfile/eval.h"
#include "dockerfile/graph.h"
#include "util/error.h"
#include "util/strbuf.h"

/* Appends the plan for g to out. Steps are expanded with ev, so an error in
 * expansion (e.g. ${X:?required}) fails here with its position. */
int df_plan_render(struct df_eval *ev, const struct df_graph *g, struct strbuf *out,
                   struct kiln_error **err);

/* Appends the names of the ARGs the target's build reads, one a line, each
 * once, in Dockerfile order: the global ARGs (before the first FROM), then
 * those of the stages g needs. A build arg not among them is one the build
 * would warn about ("given but never used"). For `kiln build --print-args`. */
void df_plan_args(const struct dockerfile *df, const struct df_graph *g, struct strbuf *out);

#endif
