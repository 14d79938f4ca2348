/* Context index: one dockerignore_walk, kept sorted for binary search. */
#include "build/context.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/strbuf.h"

struct collect {
    struct context_index *ci;
    size_t cap;
};

static int collect_one(void *ud, const char *rel, const struct stat *st, int flags,
                       struct kiln_error **err)
{
    (void)flags;
    (void)err;
    struct collect *c = ud;
    if (c->ci->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->ci->v = xrealloc(c->ci->v, c->cap * sizeof(*c->ci->v));
    }
    c->ci->v[c->ci->n].rel = xstrdup(rel);
    c->ci->v[c->ci->n].st = *st;
    c->ci->n++;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct context_entry *)a)->rel, ((const struct context_entry *)b)->rel);
}

int context_index_build(const char *dir, const struct dockerignore *di, struct context_index **out,
                        struct kiln_error **err)
{
    struct context_index *ci = xcalloc(1, sizeof(*ci));
    ci->dir = xstrdup(dir);
    ci->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ci->dirfd < 0) {
        int e = errno;
        context_index_free(ci);
        return kiln_error_errno(err, e, "open build context %s", dir);
    }
    struct collect c = {ci, 0};
    if (dockerignore_walk(dir, di, collect_one, &c, err) < 0) {
        context_index_free(ci);
        return kiln_error_prefix(err, "build context %s", dir);
    }
    /* The walk's depth-first order is bytewise order unless a name sorts
     * below '/' (such as "a.b" after "a/x"): sort only then. */
    for (size_t i = 1; i < ci->n; i++)
        if (cmp_entry(&ci->v[i - 1], &ci->v[i]) > 0) {
            qsort(ci->v, ci->n, sizeof(*ci->v), cmp_entry);
            break;
        }
    *out = ci;
    return 0;
}

void context_index_free(struct context_index *ci)
{
    if (ci == NULL)
        return;
    for (size_t i = 0; i < ci->n; i++)
        free(ci->v[i].rel);
    free(ci->v);
    if (ci->dirfd >= 0)
        close(ci->dirfd);
    free(ci->dir);
    free(ci);
}

/* First index whose rel is >= key. */
static size_t lower_bound(const struct context_index *ci, const char *key)
{
    size_t lo = 0, hi = ci->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ci->v[mid].rel, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct context_entry *context_find(const struct context_index *ci, const char *rel)
{
    if (rel[0] == '\0' || strcmp(rel, ".") == 0)
        return NULL;
    size_t i = lower_bound(ci, rel);
    if (i < ci->n && strcmp(ci->v[i].rel, rel) == 0)
        return &ci->v[i];
    return NULL;
}

void context_subtree(const struct context_index *ci, const char *rel, size_t *first, size_t *count)
{
    if (rel[0] == '\0' || strcmp(rel, ".") == 0) {
        *first = 0;
        *count = ci->n;
        return;
    }
    char *prefix = xasprintf("%s/", rel);
    size_t plen = strlen(prefix);
    size_t i = lower_bound(ci, prefix);
    size_t j = i;
    while (j < ci->n && strncmp(ci->v[j].rel, prefix, plen) == 0)
        j++;
    free(prefix);
    *first = i;
    *count = j - i;
}
