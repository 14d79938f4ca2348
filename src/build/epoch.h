/* The build's epoch: the one timestamp a reproducible build may use. It is
 * SOURCE_DATE_EPOCH when set, else the commit time of the git HEAD the
 * context lives in, else 0. Image `created`, history times and clamped file
 * mtimes all use it. */
#ifndef KILN_BUILD_EPOCH_H
#define KILN_BUILD_EPOCH_H

#include <stdint.h>

#include "util/error.h"

/* source_date_epoch: the SOURCE_DATE_EPOCH value (NULL or "" when unset).
 * context_dir: a directory, or NULL when the context came from a stream.
 * A malformed SOURCE_DATE_EPOCH is KILN_E_USAGE. */
int build_epoch(const char *source_date_epoch, const char *context_dir, int64_t *out,
                struct kiln_error **err);

/* Commit time of HEAD of the git work tree that contains dir; -1 when dir is
 * not in a git work tree or git is not available. */
int64_t build_git_head_time(const char *dir);

#endif
