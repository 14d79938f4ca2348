/* The receiving end of one blob download: the bytes are written into the
 * store and hashed on a thread of their own, so that the transfers (curl's
 * thread) and the hashing of several blobs use several cores, and each blob's
 * fsync overlaps the downloads still running. */
#ifndef KILN_REGISTRY_BLOB_SINK_H
#define KILN_REGISTRY_BLOB_SINK_H

#include <stddef.h>

#include "store/store.h"
#include "util/digest.h"
#include "util/error.h"

struct blob_sink;

/* A new blob in s and the thread that writes it. */
int blob_sink_new(struct store *s, struct blob_sink **out, struct kiln_error **err);
/* Queues a copy of buf; waits only while the thread is several MiB behind.
 * Fails with the thread's error once writing failed. */
int blob_sink_write(struct blob_sink *k, const void *buf, size_t len, struct kiln_error **err);
/* No more bytes: the thread writes what is queued, fsyncs and hashes, then
 * ends. Does not wait. */
void blob_sink_close(struct blob_sink *k);
/* Waits for a closed sink's thread; out gets the digest of everything written. */
int blob_sink_wait(struct blob_sink *k, struct digest *out, struct kiln_error **err);
/* The blob, once blob_sink_wait() succeeded (still owned by k). */
struct blob_writer *blob_sink_writer(struct blob_sink *k);
/* Stops the thread (dropping what is queued) and frees the blob unless it was
 * committed. NULL is fine. */
void blob_sink_free(struct blob_sink *k);

#endif
