/* Referrers in the store: OCI 1.1 artifact manifests (artifactType, an empty
 * config, the document as the one layer) whose `subject` is an image manifest
 * in the store, such as the SBOM `kiln build --sbom` attaches. Each is an
 * untagged entry of index.json carrying its artifactType and the subject's
 * digest as the annotation io.kiln.subject, so the layout stays a plain OCI
 * layout, prune and fsck treat them as roots, and listing needs no blob reads.
 * `kiln images` and tag lookups skip them (store_tag_entry.referrer); prune
 * drops those whose image is gone. */
#ifndef KILN_STORE_REFERRERS_H
#define KILN_STORE_REFERRERS_H

#include <stddef.h>

#include "store/store.h"

#define MT_OCI_EMPTY             "application/vnd.oci.empty.v1+json"
#define ANNOTATION_KILN_SUBJECT  "io.kiln.subject"
#define ANNOTATION_IMAGE_CREATED "org.opencontainers.image.created"

struct referrer {
    struct descriptor manifest; /* the artifact manifest */
    char *artifact_type;
    struct digest subject;
    char *created; /* its org.opencontainers.image.created annotation, or NULL */
};
void referrers_free(struct referrer *r, size_t n);

/* Stores data (of media type artifact_type) as an artifact whose subject is
 * the manifest `subject`, replacing an earlier artifact of the same type for
 * the same subject. created (may be NULL) becomes the manifest's
 * org.opencontainers.image.created, so the same input gives the same digest. */
int referrers_attach(struct store *s, const struct descriptor *subject, const char *artifact_type,
                     const char *created, const void *data, size_t len, struct descriptor *out,
                     struct kiln_error **err);
/* Records an artifact manifest already in the store (a pull stored it and
 * its blobs) as a referrer; it must have a subject. Idempotent. */
int referrers_record(struct store *s, const struct descriptor *manifest, struct kiln_error **err);
/* The referrers of subject (every referrer when subject is NULL), in
 * index.json order. */
int referrers_list(struct store *s, const struct digest *subject, struct referrer **out, size_t *n,
                   struct kiln_error **err);
/* The document of type artifact_type attached to the image `what` names
 * (of an index: its image for platform want; NULL: this machine's): the
 * artifact's first layer, allocated (NUL-terminated). KILN_E_NOTFOUND when
 * the image has none. */
struct platform;
int referrers_read_artifact(struct store *s, const char *what, const struct platform *want,
                            const char *artifact_type, char **doc, size_t *len,
                            struct kiln_error **err);
/* Removes the referrers whose subject no other index.json entry reaches
 * any more (its image was removed): store_prune calls it first, so their
 * blobs go in the same prune. *dropped says how many (or would, dry_run). */
int referrers_drop_orphans(struct store *s, int dry_run, size_t *dropped, struct kiln_error **err);
/* The artifact manifest built for (subject, artifact_type, layer): the
 * bytes referrers_attach stores, also used by push to re-point an artifact
 * at a rewritten subject. Allocated, canonical JSON. */
char *referrers_manifest_json(const struct descriptor *subject, const char *artifact_type,
                              const char *created, const struct descriptor *layer);

#endif
