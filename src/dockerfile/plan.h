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

#endif
