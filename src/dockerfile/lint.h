/* Lint checks that need more than one instruction at a time (BuildKit's
 * build checks): relative WORKDIR, secrets in ARG/ENV, repeated CMD,
 * EXPOSE format, redundant --platform, COPY of ignored files. The parser's
 * own warnings are in dockerfile->warnings. And the "# check=" directive:
 * which rules to skip, whether warnings fail the check. */
#ifndef KILN_DOCKERFILE_LINT_H
#define KILN_DOCKERFILE_LINT_H

#include <stddef.h>

#include "dockerfile/dockerfile.h"
#include "dockerfile/dockerignore.h"
#include "dockerfile/eval.h"
#include "dockerfile/graph.h"

struct df_warnings {
    struct df_warning *v;
    size_t n, cap;
};

/* Appends a copy of w. */
void df_warnings_add(struct df_warnings *ws, const char *rule, struct df_pos pos, const char *msg);
void df_warnings_release(struct df_warnings *ws);
/* Sorts by line, then column (stable). */
void df_warnings_sort(struct df_warnings *ws);

/* Appends the semantic checks' findings for df. di (may be NULL) is the
 * context's ignore list, for CopyIgnoredFile. */
void df_lint(const struct dockerfile *df, const struct dockerignore *di, struct df_warnings *out);

/* The ENV ("K=V" strings) of the base image named by an expanded FROM
 * reference. Returns 1 and sets *env (allocated, as are its strings: the
 * caller frees them with df_strv_free) when the image is known, 0 when not. */
typedef int (*df_image_env_fn)(void *ud, const char *image, char ***env, size_t *n);

/* Expands every step of every stage g needs, in order, as a build would
 * (the first error stops it, with FILE:LINE:COL), and reports UndefinedVar
 * through ev's warning callback. Each stage starts from its base's ENV: the
 * final ENV of a stage it is built FROM, nothing (but PATH) for scratch, and
 * image_env's answer for an image (image_env may be NULL: every image is
 * then unknown). */
int df_lint_steps(struct df_eval *ev, const struct df_graph *g, df_image_env_fn image_env, void *ud,
                  struct kiln_error **err);

/* From "# check=skip=A,B;error=true": is rule skipped ("skip=all" skips
 * every rule)? Do warnings count as errors? */
int df_check_skipped(const struct dockerfile *df, const char *rule);
int df_check_error(const struct dockerfile *df);

#endif
