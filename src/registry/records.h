/* Small records the registry client keeps under KILN_ROOT/registry/:
 *   compressed  "<tar hex> <gzip hex> <gzip size>": the gzip blob made from an
 *               uncompressed layer, so a re-push does not compress again
 *   sources     "<blob hex> <host> <repository>": where a blob was pulled from
 *               or pushed to, for cross-repository mounts on push
 * Lines are appended under the store lock; readers ignore malformed lines. */
#ifndef KILN_REGISTRY_RECORDS_H
#define KILN_REGISTRY_RECORDS_H

#include <stdint.h>

#include "store/store.h"
#include "util/digest.h"
#include "util/error.h"

/* 1 (filling gz and size) when a mapping exists and the gzip blob is still in the
 * store; 0 otherwise. */
int records_compressed_get(struct store *s, const struct digest *tar, struct digest *gz,
                           uint64_t *size);
int records_compressed_put(struct store *s, const struct digest *tar, const struct digest *gz,
                           uint64_t size, struct kiln_error **err);

/* Garbage-collection roots (a store_prune_opts.add_roots): adds the gzip blob
 * of every record whose uncompressed layer is in roots, so a gzip form lives
 * exactly as long as its source layer. */
struct digest_set;
int records_add_roots(void *ctx, struct store *s, struct digest_set *roots,
                      struct kiln_error **err);
/* Drops the records whose gzip blob is no longer in the store (after a prune). */
int records_compressed_compact(struct store *s, struct kiln_error **err);

/* A repository on host (other than not_path) known to hold blob; allocated or NULL. */
char *records_source_find(struct store *s, const struct digest *blob, const char *host,
                          const char *not_path);
int records_source_add(struct store *s, const struct digest *blob, const char *host,
                       const char *path, struct kiln_error **err);

#endif
