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

/* From "# check=skip=A,B;error=true": is rule skipped ("skip=all" skips
 * every rule)? Do warnings count as errors? */
int df_check_skipped(const struct dockerfile *df, const char *rule);
int df_check_error(const struct dockerfile *df);

#endif
