/* The pieces of a pull that push and the build reuse inside registry/. */
#ifndef KILN_REGISTRY_PULL_H
#define KILN_REGISTRY_PULL_H

#include <stddef.h>

#include "registry/client.h"
#include "store/store.h"

/* GETs /v2/PATH/manifests/TAG_OR_DIGEST and verifies the bytes against
 * expected (digest, and size unless 0) or else the Docker-Content-Digest
 * header. *body, *content_type allocated; *dg its digest. */
int pull_fetch_manifest(struct reg_client *c, const char *path, const char *tag_or_digest,
                        const struct descriptor *expected, const char *what, char **body,
                        size_t *len, char **content_type, struct digest *dg,
                        struct kiln_error **err);

/* Fetches the blobs of want[] the store lacks (up to 3 at once), verifies
 * each against its descriptor, and commits them all only when all passed. */
int pull_blobs(struct reg_client *c, struct store *s, const char *path,
               const struct descriptor *const *want, size_t n, struct kiln_error **err);

#endif
