/* Push pieces shared inside registry/ (registry_push and tests). */
#ifndef KILN_REGISTRY_PUSH_H
#define KILN_REGISTRY_PUSH_H

#include "registry/client.h"
#include "store/store.h"

/* Makes blob d (in the store) present in repository path: HEAD, else a
 * cross-repository mount, else an upload. */
int push_blob(struct reg_client *c, struct store *s, const char *path, const struct descriptor *d,
              struct kiln_error **err);

/* The gzip blob for an uncompressed layer (compressed once, then remembered):
 * fills out->digest and out->size (not media_type). */
int push_gzip_layer(struct store *s, const struct descriptor *tar, struct descriptor *out,
                    struct kiln_error **err);

#endif
