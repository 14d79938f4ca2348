/* Manifests as registries serve them: OCI and Docker v2 schema 2 image
 * manifests, OCI indexes and Docker manifest lists; schema 1 is refused.
 * Parsing checks that the declared media type, the Content-Type and the
 * structure agree, and that every descriptor is well formed (sha256 only). */
#ifndef KILN_REGISTRY_MANIFEST_H
#define KILN_REGISTRY_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/digest.h"
#include "util/error.h"

/* The OCI and Docker media types are store/store.h's; these are the extra
 * ones a registry may answer with. */
#define MT_DOCKER_FOREIGN  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define MT_DOCKER_SCHEMA1  "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1S "application/vnd.docker.distribution.manifest.v1+prettyjws"

/* What the Accept header of a manifest request lists. */
#define MANIFEST_ACCEPT                                                                            \
    MT_OCI_INDEX ", " MT_OCI_MANIFEST ", " MT_DOCKER_LIST ", " MT_DOCKER_MANIFEST

enum manifest_kind { MANIFEST_IMAGE = 1, MANIFEST_INDEX = 2 };

/* An index entry: a manifest descriptor and the platform it is for. */
struct platform_entry {
    struct descriptor d;
    char *os, *arch, *variant; /* NULL when absent */
};

struct manifest {
    enum manifest_kind kind;
    char *media_type;         /* the effective media type */
    struct descriptor config; /* MANIFEST_IMAGE */
    struct descriptor *layers;
    size_t n_layers;
    struct platform_entry *manifests; /* MANIFEST_INDEX */
    size_t n_manifests;
};

/* content_type is the response's Content-Type (may be NULL). Errors are
 * KILN_E_INVALID and say what was wrong. */
int manifest_parse(const char *content_type, const char *body, size_t len, struct manifest *out,
                   struct kiln_error **err);
void manifest_release(struct manifest *m);

/* 1 for a media type of an image manifest or index kiln understands. */
int manifest_media_type_known(const char *mt);
/* 1 for an OCI index or a Docker manifest list. */
int manifest_media_type_is_index(const char *mt);
/* Layer compression by media type: 0 none, 1 gzip, 2 zstd, -1 unknown. */
int layer_media_type_compression(const char *mt);

/* "os/arch[/variant]" of this machine (e.g. "linux/amd64"). Allocated. */
char *manifest_host_platform(void);
/* The index entry for platform ("os/arch[/variant]"; NULL = the host's).
 * None: KILN_E_NOTFOUND listing what the index offers. */
const struct platform_entry *manifest_select_platform(const struct manifest *index,
                                                      const char *platform,
                                                      struct kiln_error **err);

#endif
