/* Build cache records that leave the store: `kiln build --cache-to` writes
 * the step keys a build used or made, each with the layer it gave, and
 * `--cache-from` reads such records back so that another machine's build
 * hits them (keys are portable: see docs/build.md "What a step key covers").
 *
 * A record is an OCI artifact: an image manifest with artifactType
 * CACHE_ARTIFACT_TYPE whose config blob (CACHE_CONFIG_MT) is
 *   {"kind":"kiln-build-cache","version":1,
 *    "steps":[{"key":"sha256:..","layer":{"mediaType","digest","diffID","size"}|null}]}
 * and whose layers are the layer blobs the steps name. It holds key hashes
 * and layer digests only: no build-arg value, no secret, no path of this
 * machine. It goes to a registry (type=registry), to an OCI image layout
 * directory (type=local), or into the image itself (type=inline: a manifest
 * annotation CACHE_INLINE_ANNOTATION mapping key -> layer index). */
#ifndef KILN_BUILD_CACHE_IO_H
#define KILN_BUILD_CACHE_IO_H

#include <stddef.h>

#include "build/cache.h"
#include "registry/registry.h"
#include "store/store.h"
#include "util/error.h"

#define CACHE_ARTIFACT_TYPE     "application/vnd.kiln.build-cache.v1+json"
#define CACHE_CONFIG_MT         "application/vnd.kiln.build-cache.config.v1+json"
#define CACHE_INLINE_ANNOTATION "dev.kiln.build-cache.v1"
#define CACHE_LAYOUT_REF        "kiln-build-cache"

enum cache_io_kind {
    CACHE_IO_REGISTRY, /* type=registry,ref=REF */
    CACHE_IO_LOCAL,    /* type=local,dest=DIR / src=DIR */
    CACHE_IO_INLINE,   /* type=inline (--cache-to only) */
    CACHE_IO_IMAGE,    /* a bare NAME (--cache-from): an image in the store or a registry */
};

struct cache_io_spec {
    enum cache_io_kind kind;
    char *ref; /* REGISTRY, IMAGE */
    char *dir; /* LOCAL */
    int max;   /* mode=max: every stage's steps; else the result's (mode=min) */
};

/* Parses one --cache-to (to = 1) or --cache-from value; KILN_E_USAGE names
 * what is wrong. */
int cache_io_spec_parse(const char *text, int to, struct cache_io_spec *out,
                        struct kiln_error **err);
void cache_io_spec_release(struct cache_io_spec *s);

/* A step a build hit or made: its key, its layer, the stage it is in. */
struct cache_step {
    struct digest key;
    struct cache_entry e;
    size_t stage;
};

typedef void (*cache_io_warn_fn)(void *ctx, const char *msg);

/* What the --cache-from records say, loaded before the build. A source that
 * cannot be reached, is missing or is not a kiln cache record is skipped
 * with a warning (the build goes on cold); entries whose layer has a media
 * type that is not a layer's are refused with a warning. Never fails. */
struct cache_import;
struct cache_import *cache_import_load(struct store *s, const struct cache_io_spec *specs, size_t n,
                                       const struct registry_opts *ro, cache_io_warn_fn warn,
                                       void *warn_ctx);
void cache_import_free(struct cache_import *ci);
/* 1 and *out when a record (the first, in --cache-from order) has key. */
int cache_import_lookup(struct cache_import *ci, const struct digest *key, struct cache_entry *out);
/* Makes the layer blob of e present in the store, fetched from the source
 * that named it and verified (KILN_E_DIGEST when its bytes do not match). */
int cache_import_fetch(struct cache_import *ci, struct store *s, const struct cache_entry *e,
                       struct kiln_error **err);
/* Drops every entry naming layer (warns once, naming it). */
void cache_import_refuse(struct cache_import *ci, const struct digest *layer, const char *why);
/* How many layers were refused so far. */
unsigned cache_import_refused(struct cache_import *ci);

/* Writes the record of steps (their blobs must be in the store; a step
 * whose blob is not is left out) where spec says (REGISTRY or LOCAL). */
int cache_export(struct store *s, const struct cache_io_spec *spec, const struct cache_step *steps,
                 size_t n, const struct registry_opts *ro, struct kiln_error **err);
/* The type=inline annotation value for an image of these layers: the keys
 * of steps whose layer is one of them (or that made none). Allocated. */
char *cache_inline_value(const struct cache_step *steps, size_t n, const struct image_layer *layers,
                         size_t n_layers);

#endif
