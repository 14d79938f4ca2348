/* What the concurrent builds of one process (the platforms of a
 * multi-platform build, each with its own scheduler) must not do at once:
 *  - run two steps with the same cache key (a FROM --platform=$BUILDPLATFORM
 *    stage that uses no TARGET* arg): the first runs it, the others wait for
 *    it and then find it in the cache;
 *  - use one shared cache mount (apt's lists and archives) from two steps:
 *    each build's scheduler orders its own steps, this orders the builds.
 * Both are few; lists are enough. */
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

struct held_id {
    char *id;
    struct held_id *next;
};

static struct held_id *mounts_held;

static int mount_held(const char *id)
{
    for (struct held_id *h = mounts_held; h != NULL; h = h->next)
        if (strcmp(h->id, id) == 0)
            return 1;
    return 0;
}

void build_inflight_mounts_take(const char *const *ids, size_t n)
{
    pthread_mutex_lock(&inflight_mu);
    for (;;) {
        int busy = 0;
        for (size_t i = 0; i < n && !busy; i++)
            busy = mount_held(ids[i]);
        if (!busy)
            break;
        pthread_cond_wait(&inflight_cv, &inflight_mu);
    }
    for (size_t i = 0; i < n; i++) {
        struct held_id *h = xcalloc(1, sizeof(*h));
        h->id = xstrdup(ids[i]);
        h->next = mounts_held;
        mounts_held = h;
    }
    pthread_mutex_unlock(&inflight_mu);
}

void build_inflight_mounts_give(const char *const *ids, size_t n)
{
    if (n == 0)
        return;
    pthread_mutex_lock(&inflight_mu);
    for (size_t i = 0; i < n; i++) {
        for (struct held_id **h = &mounts_held; *h != NULL; h = &(*h)->next) {
            if (strcmp((*h)->id, ids[i]) == 0) {
                struct held_id *gone = *h;
                *h = gone->next;
                free(gone->id);
                free(gone);
                break;
            }
        }
    }
    pthread_cond_broadcast(&inflight_cv);
    pthread_mutex_unlock(&inflight_mu);
}
