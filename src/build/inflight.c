/* What the concurrent builds of one process (the platforms of a
 * multi-platform build, each with its own scheduler) must not do at once:
 * run two steps with the same cache key (a FROM --platform=$BUILDPLATFORM
 * stage that uses no TARGET* arg): the first runs it, the others wait for
 * it and then find it in the cache. (Shared cache mounts need no order:
 * a step that finds one in use gets a view of it, build/cache.h.) Such
 * steps are few; a list is enough. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "build/internal.h"
#include "util/strbuf.h"

struct held {
    struct digest key;
    struct held *next;
};

static pthread_mutex_t inflight_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t inflight_cv = PTHREAD_COND_INITIALIZER;
static struct held *inflight;

static struct held **find(const struct digest *key)
{
    struct held **h = &inflight;
    while (*h != NULL && !digest_equal(&(*h)->key, key))
        h = &(*h)->next;
    return h;
}

void build_inflight_enter(const struct digest *key)
{
    pthread_mutex_lock(&inflight_mu);
    while (*find(key) != NULL)
        pthread_cond_wait(&inflight_cv, &inflight_mu);
    struct held *h = xcalloc(1, sizeof(*h));
    h->key = *key;
    h->next = inflight;
    inflight = h;
    pthread_mutex_unlock(&inflight_mu);
}

void build_inflight_leave(const struct digest *key)
{
    pthread_mutex_lock(&inflight_mu);
    struct held **h = find(key);
    if (*h != NULL) {
        struct held *gone = *h;
        *h = gone->next;
        free(gone);
    }
    pthread_cond_broadcast(&inflight_cv);
    pthread_mutex_unlock(&inflight_mu);
}
