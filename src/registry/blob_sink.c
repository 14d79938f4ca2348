/* blob_sink: a small ring of buffers between the thread that receives a blob
 * and the thread that writes and hashes it. See blob_sink.h. */
#include "registry/blob_sink.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

/* Bytes per write(2) and buffers in the ring: the receiver gets ahead of the
 * disk by at most SINK_BUFS * SINK_BUF bytes. Writeback of the file starts
 * every WRITEBACK_EVERY bytes, so the fsync at the end has little left. */
#define SINK_BUF        (1u << 20)
#define SINK_BUFS       4u
#define WRITEBACK_EVERY (8u << 20)

struct blob_sink {
    struct blob_writer *w;
    pthread_t thread;
    int joined;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *bufs[SINK_BUFS];
    size_t lens[SINK_BUFS];
    /* Queued buffers are slots tail..head-1 (mod SINK_BUFS); the receiver
     * fills slot head, cur_len bytes so far. */
    unsigned head, tail;
    size_t cur_len;
    int closed, stop, finished;
    struct kiln_error *err; /* the writer thread's */
    struct digest dg;
};

static void free_bufs(struct blob_sink *k)
{
    for (unsigned i = 0; i < SINK_BUFS; i++) {
        free(k->bufs[i]);
        k->bufs[i] = NULL;
    }
}

/* Writes one queued buffer (without the lock); 0 or -1 with *err. */
static int write_slot(struct blob_sink *k, unsigned slot, uint64_t *since_writeback,
                      struct kiln_error **err)
{
    size_t len = k->lens[slot];
    if (blob_writer_write(k->w, k->bufs[slot], len, err) < 0)
        return -1;
    *since_writeback += len;
    if (*since_writeback >= WRITEBACK_EVERY) {
        blob_writer_start_writeback(k->w);
        *since_writeback = 0;
    }
    return 0;
}

static void *sink_thread(void *arg)
{
    struct blob_sink *k = arg;
    uint64_t since_writeback = 0;
    pthread_mutex_lock(&k->mu);
    for (;;) {
        while (k->tail == k->head && !k->closed && !k->stop)
            pthread_cond_wait(&k->cv, &k->mu);
        if (k->stop)
            break;
        struct kiln_error *e = NULL;
        if (k->tail == k->head) { /* closed, and everything written */
            pthread_mutex_unlock(&k->mu);
            struct digest d;
            int r = blob_writer_digest(k->w, &d, &e);
            free_bufs(k);
            pthread_mutex_lock(&k->mu);
            if (r < 0)
                k->err = e;
            else
                k->dg = d;
            break;
        }
        unsigned slot = k->tail % SINK_BUFS;
        pthread_mutex_unlock(&k->mu);
        int r = write_slot(k, slot, &since_writeback, &e);
        pthread_mutex_lock(&k->mu);
        k->tail++;
        if (r < 0) {
            k->err = e;
            break;
        }
        pthread_cond_broadcast(&k->cv);
    }
    k->finished = 1;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

int blob_sink_new(struct store *s, struct blob_sink **out, struct kiln_error **err)
{
    struct blob_sink *k = xcalloc(1, sizeof(*k));
    if (blob_writer_new(s, &k->w, err) < 0) {
        free(k);
        return -1;
    }
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    int e = pthread_create(&k->thread, NULL, sink_thread, k);
    if (e != 0) {
        k->joined = 1;
        blob_sink_free(k);
        return kiln_error_errno(err, e, "start a thread to write a blob");
    }
    *out = k;
    return 0;
}

/* A copy of the writer thread's error (caller holds the lock). */
static int thread_error(struct blob_sink *k, struct kiln_error **err)
{
    return kiln_error_set(err, k->err->code, "%s", k->err->msg);
}

/* Queues the current buffer; waits for a free one. */
static int submit(struct blob_sink *k, struct kiln_error **err)
{
    pthread_mutex_lock(&k->mu);
    k->lens[k->head % SINK_BUFS] = k->cur_len;
    k->head++;
    k->cur_len = 0;
    pthread_cond_broadcast(&k->cv);
    while (k->head - k->tail == SINK_BUFS && !k->finished)
        pthread_cond_wait(&k->cv, &k->mu);
    int ret = 0;
    if (k->err != NULL)
        ret = thread_error(k, err);
    else if (k->finished)
        ret = kiln_error_set(err, KILN_E_FAIL, "blob sink: write after close");
    pthread_mutex_unlock(&k->mu);
    return ret;
}

int blob_sink_write(struct blob_sink *k, const void *buf, size_t len, struct kiln_error **err)
{
    const unsigned char *p = buf;
    while (len > 0) {
        if (k->cur_len == SINK_BUF && submit(k, err) < 0)
            return -1;
        unsigned slot = k->head % SINK_BUFS;
        if (k->bufs[slot] == NULL)
            k->bufs[slot] = xmalloc(SINK_BUF);
        size_t n = SINK_BUF - k->cur_len < len ? SINK_BUF - k->cur_len : len;
        memcpy(k->bufs[slot] + k->cur_len, p, n);
        k->cur_len += n;
        p += n;
        len -= n;
    }
    return 0;
}

void blob_sink_close(struct blob_sink *k)
{
    pthread_mutex_lock(&k->mu);
    if (k->cur_len > 0 && !k->finished) {
        /* The slot is free: the receiver only fills one the thread is not on. */
        k->lens[k->head % SINK_BUFS] = k->cur_len;
        k->head++;
        k->cur_len = 0;
    }
    k->closed = 1;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

static void join(struct blob_sink *k)
{
    if (!k->joined) {
        pthread_join(k->thread, NULL);
        k->joined = 1;
    }
}

int blob_sink_wait(struct blob_sink *k, struct digest *out, struct kiln_error **err)
{
    join(k);
    if (k->err != NULL)
        return thread_error(k, err);
    if (!k->closed)
        return kiln_error_set(err, KILN_E_FAIL, "blob sink: waited for before close");
    *out = k->dg;
    return 0;
}

struct blob_writer *blob_sink_writer(struct blob_sink *k)
{
    return k->w;
}

void blob_sink_free(struct blob_sink *k)
{
    if (k == NULL)
        return;
    pthread_mutex_lock(&k->mu);
    k->stop = 1;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    join(k);
    blob_writer_free(k->w);
    free_bufs(k);
    kiln_error_free(k->err);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k);
}
