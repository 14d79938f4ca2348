/* Directories a build no longer needs (a step's scratch dir, an upper dir
 * whose snapshot the store already had) are removed by one background
 * thread, in the order given, while the next steps run; build_discard_wait
 * ends the build with all of them gone. They live in the store's session
 * directory, so a build killed before they go leaves nothing the next
 * session does not clean up. */
#include <stdlib.h>

#include "build/internal.h"
#include "util/fs.h"
#include "util/strbuf.h"

struct discard {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    char **q;
    size_t head, n, cap;
    int closing;
};

static void *discard_main(void *arg)
{
    struct discard *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (d->head == d->n && !d->closing)
            pthread_cond_wait(&d->cv, &d->mu);
        if (d->head == d->n)
            break;
        char *path = d->q[d->head++];
        pthread_mutex_unlock(&d->mu);
        struct kiln_error *e = NULL;
        /* scratch: a failure only leaves it to the session cleanup */
        rm_rf_parallel(path, &e);
        kiln_error_free(e);
        free(path);
        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

void build_discard_start(struct build_ctx *b)
{
    struct discard *d = xcalloc(1, sizeof(*d));
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    if (pthread_create(&d->th, NULL, discard_main, d) != 0) {
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d);
        d = NULL; /* build_discard removes at once */
    }
    b->discard = d;
}

void build_discard(struct build_ctx *b, const char *path)
{
    struct discard *d = b->discard;
    if (d == NULL) {
        struct kiln_error *e = NULL;
        rm_rf(path, &e);
        kiln_error_free(e);
        return;
    }
    pthread_mutex_lock(&d->mu);
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->q = xrealloc(d->q, d->cap * sizeof(*d->q));
    }
    d->q[d->n++] = xstrdup(path);
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

void build_discard_wait(struct build_ctx *b)
{
    struct discard *d = b->discard;
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    d->closing = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->th, NULL);
    for (size_t i = d->head; i < d->n; i++)
        free(d->q[i]);
    free(d->q);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
    b->discard = NULL;
}
