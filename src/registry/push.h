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

struct reference;

/* Pushes an image (blobs, then its manifest: the stored bytes, or rewritten
 * with gzip layers) to ref's repository, under ref's tag or, with by_digest,
 * by digest only. *pushed (release it) describes the manifest sent. */
int push_image(struct store *s, const struct image *img, const struct reference *ref, int by_digest,
               const struct registry_opts *opts, struct descriptor *pushed,
               struct kiln_error **err);

/* PUTs manifest bytes whose digest is mds under ref's tag (or by digest) and
 * checks the registry's Docker-Content-Digest. */
int put_manifest(struct reg_client *c, const struct reference *ref, int by_digest,
                 const char *media_type, const char *body, size_t len, const char *mds,
                 struct kiln_error **err);

/* Pushes the index doc (local: its descriptor in the store): every image it
 * lists by digest, then the index under ref's tag. Images that had to be
 * rewritten (uncompressed layers) are named by their new digests in a
 * rewritten index. Every listed image must be in the store. */
int push_index(struct store *s, const struct descriptor *local, const json_t *doc,
               const struct reference *ref, const struct registry_opts *opts,
               struct descriptor *pushed, struct kiln_error **err);

#endif
