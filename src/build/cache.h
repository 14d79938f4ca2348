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

/* A RUN --mount=type=cache directory, held for the length of one RUN.
 * sharing=shared: the first step to take the cache binds its directory
 * itself; a step that finds it taken (in this build or another) gets a view
 * instead of waiting: an overlay of a hard-link copy of the cache's files
 * under an upper dir of its own, so its writes and lock files are its own.
 * Releasing a view moves the files it created into the cache, new names
 * only (a name another step wrote is kept), each by an atomic rename.
 * sharing=locked: one step at a time, any build (waits for shared users).
 * sharing=private: the cache if free, else a directory of the step's own. */
enum cache_sharing { CACHE_SHARED, CACHE_PRIVATE, CACHE_LOCKED };
struct cache_mount {
    char *path;  /* the directory to bind at the target; a view's lower dir */
    char *upper; /* a view: the overlay upper dir, else NULL */
    char *work;  /* a view: the overlay work dir */
    char *data;  /* a view: the cache directory its new files go to */
    char *view;  /* a view: its directory, removed at release */
    int lock_fd; /* the cache's lock: shared, or exclusive for locked/private */
    int own_fd;  /* shared: the direct user's lock, or the view's; else -1 */
};
/* id names the cache (BuildKit's default is the target path). A new
 * directory is created with uid/gid/mode. */
int cache_mount_acquire(const char *root, const char *id, enum cache_sharing sharing, uid_t uid,
                        gid_t gid, mode_t mode, struct cache_mount *out, struct kiln_error **err);
/* Merges a view's new files into the cache, then frees everything. A view
 * left by a killed build is removed by the next step that takes its slot,
 * or by prune; its files are lost, the cache stays as it was. */
void cache_mount_release(struct cache_mount *m);
/* The merge step of a view: moves each file, symlink and directory under
 * upper whose name data lacks into data (overlay whiteouts skipped; the
 * directories data has already are descended into). Returns the number of
 * entries moved. */
size_t cache_view_merge(const char *upper, const char *data);

/* Removes every step entry, the content-digest cache and every cache mount
 * not in use right now. *freed is the number of entries removed. */
int cache_prune(const char *root, unsigned long *freed, struct kiln_error **err);

#endif
