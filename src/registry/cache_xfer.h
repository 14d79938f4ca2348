/* Build cache records through a registry (build/cache_io.c decides what
 * they hold): a record is an OCI artifact, moved like an image, blob by blob
 * then its manifest. Everything fetched is verified against its digest
 * before it enters the store. */
#ifndef KILN_REGISTRY_CACHE_XFER_H
#define KILN_REGISTRY_CACHE_XFER_H

#include <stddef.h>

#include "registry/registry.h"
#include "store/store.h"
#include "util/error.h"

/* One repository of one registry, as a reference names it. */
struct reg_cache_repo;

int reg_cache_open(const char *ref, const struct registry_opts *opts, struct reg_cache_repo **out,
                   struct kiln_error **err);
void reg_cache_close(struct reg_cache_repo *r);

/* The manifest the reference's tag (or digest) names: its bytes (verified
 * against the registry's digest), allocated; KILN_E_NOTFOUND when absent. */
int reg_cache_get_manifest(struct reg_cache_repo *r, char **body, size_t *len,
                           struct kiln_error **err);
/* The blob d names, into the store unless there already; KILN_E_DIGEST when
 * its bytes do not match. Thread-safe (one transfer at a time). */
int reg_cache_get_blob(struct reg_cache_repo *r, struct store *s, const struct descriptor *d,
                       struct kiln_error **err);
/* Pushes blobs (all in the store), then the OCI manifest bytes under the
 * reference's tag. */
int reg_cache_put(struct reg_cache_repo *r, struct store *s, const struct descriptor *blobs,
                  size_t n, const char *manifest, size_t len, struct kiln_error **err);

#endif
