/* The build cache under KILN_ROOT/cache/: step cache key -> the layer that
 * step produced (or "no layer" for an empty diff), plus the directories of
 * RUN --mount=type=cache. Entries are small JSON files written atomically, so
 * concurrent builds on one store share them without a lock; a lookup whose
 * layer blob has gone from the store is a miss. `kiln prune --cache` empties it. */
#ifndef KILN_BUILD_CACHE_H
#define KILN_BUILD_CACHE_H

#include <stdint.h>
#include <sys/types.h>

#include "util/digest.h"
#include "util/error.h"

struct cache_entry {
    int has_layer;         /* 0: the step changed no file */
    char media_type[96];   /* layer media type as stored */
    struct digest digest;  /* blob digest */
    struct digest diff_id; /* digest of the uncompressed tar */
    uint64_t size;         /* blob size */
};

/* Step cache keys: a sha256 over length-prefixed fields, so "ab"+"c" and
 * "a"+"bc" differ. Start from the parent key (NULL for a stage's base). */
struct digester *cache_key_begin(const struct digest *parent);
void cache_key_add(struct digester *d, const char *field, const void *data, size_t len);
void cache_key_adds(struct digester *d, const char *field, const char *value);
void cache_key_finish(struct digester *d, struct digest *out);

/* 1 on a hit (out filled), 0 on a miss, -1 on error. */
int cache_lookup(const char *root, const struct digest *key, struct cache_entry *out,
                 struct kiln_error **err);
int cache_store(const char *root, const struct digest *key, const struct cache_entry *e,
                struct kiln_error **err);

/* Hints: id -> a digest worth trying, such as the snapshot an earlier
 * version of a COPY made (its unchanged files can be linked). A hint may be
 * stale or missing; get returns 1 with *out set, else 0. */
int cache_hint_get(const char *root, const struct digest *id, struct digest *out);
void cache_hint_put(const char *root, const struct digest *id, const struct digest *value);

/* A RUN --mount=type=cache directory, held for the length of one RUN. */
enum cache_sharing { CACHE_SHARED, CACHE_PRIVATE, CACHE_LOCKED };
struct cache_mount {
    char *path;  /* the directory to bind at the target */
    int lock_fd; /* held shared (or exclusive for locked/private) while in use */
};
/* id names the cache (BuildKit's default is the target path). A new
 * directory is created with uid/gid/mode. */
int cache_mount_acquire(const char *root, const char *id, enum cache_sharing sharing, uid_t uid,
                        gid_t gid, mode_t mode, struct cache_mount *out, struct kiln_error **err);
void cache_mount_release(struct cache_mount *m);

/* Removes every step entry, the content-digest cache and every cache mount
 * not in use right now. *freed is the number of entries removed. */
int cache_prune(const char *root, unsigned long *freed, struct kiln_error **err);

#endif
