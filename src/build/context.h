/* The build context as COPY/ADD see it: every entry .dockerignore lets
 * through, listed once per build (one walk, then lookups by path) so that
 * twenty COPYs of a 20,000-file context do not walk it twenty times. */
#ifndef KILN_BUILD_CONTEXT_H
#define KILN_BUILD_CONTEXT_H

#include <stddef.h>
#include <sys/stat.h>

#include "dockerfile/dockerignore.h"
#include "util/error.h"

struct context_entry {
    char *rel; /* '/'-separated, relative to the context, no leading "./" */
    struct stat st;
};

struct context_index {
    char *dir;
    int dirfd;
    struct context_entry *v; /* sorted bytewise by rel */
    size_t n;
};

/* di may be NULL (nothing excluded). */
int context_index_build(const char *dir, const struct dockerignore *di, struct context_index **out,
                        struct kiln_error **err);
void context_index_free(struct context_index *ci);
/* The entry for rel ("" or "." is the context root itself: NULL). */
const struct context_entry *context_find(const struct context_index *ci, const char *rel);
/* Entries strictly below directory rel ("" = all): [*first, *first + *count). */
void context_subtree(const struct context_index *ci, const char *rel, size_t *first, size_t *count);

#endif
