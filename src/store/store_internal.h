/* What the store's own files share: the handle and helpers that are not part
 * of the contract in store.h. Only src/store/ includes this. */
#ifndef KILN_STORE_STORE_INTERNAL_H
#define KILN_STORE_STORE_INTERNAL_H

#include <pthread.h>
#include <time.h>

#include "store/store.h"

struct store {
    char *root;
    int root_fd;
    int blobs_fd;     /* blobs/sha256 */
    int snapshots_fd; /* snapshots */
    int lock_fd;      /* the lock file, opened once */
    int lock_depth;   /* store_lock() nesting, under lock_mutex */
    pthread_mutex_t lock_mutex;
    char *scratch;           /* ingest/<session>, ours, flocked */
    int scratch_fd;          /* holds the flock that marks the session alive */
    char *scratch_name;      /* basename of scratch */
    struct timespec started; /* session start; prune keeps newer objects */
};

/* Makes this process's ingest session (s->scratch) if it has none yet:
 * store_open_reader defers it to the first write (its users write from one
 * thread; a store_open()ed store has it from the start). */
int store_session(struct store *s, struct kiln_error **err);

/* The ingest session names: "s-<start seconds>-<pid>-XXXXXX". */
#define SESSION_PREFIX "s-"

/* Replaces KILN_ROOT/name atomically (written in the session, fsynced,
 * renamed, root fsynced): index.json and oci-layout. */
int store_write_root_file(struct store *s, const char *name, const char *data, size_t len,
                          struct kiln_error **err);
/* The content of oci-layout. */
#define OCI_LAYOUT_JSON "{\"imageLayoutVersion\":\"1.0.0\"}"

/* Reads index.json (a fresh object if it does not exist). */
json_t *store_index_read(struct store *s, struct kiln_error **err);
/* Writes index.json atomically; the caller holds the store lock. */
int store_index_write(struct store *s, const json_t *index, struct kiln_error **err);

/* Adds the manifest (or index) and every blob it references to blobs, and
 * the layers' diffids to diffids (either may be NULL). strict: a missing or
 * malformed blob is an error naming it (the check before a tag moves);
 * otherwise what is missing is skipped (reachability for prune). Of an
 * index only the entry for this host (see store_index_pick_platform) must be
 * present; other entries are walked when their manifest is there. */
struct digest_set;
int store_manifest_walk(struct store *s, const struct descriptor *manifest, int strict,
                        struct digest_set *blobs, struct digest_set *diffids,
                        struct kiln_error **err);

/* The manifest entry an index should use on this host: linux/<host arch>,
 * or the only entry. NULL (with *err) when there is none. Borrowed. */
struct platform;
const json_t *store_index_pick_platform(const json_t *index, const char *what,
                                        const struct platform *want, struct kiln_error **err);
/* The GOARCH name of this host ("amd64", "arm64", ...). */
const char *store_host_arch(void);

/* Session start times of live kiln processes other than ourselves: the
 * oldest one, or our own start when none. Objects modified at or after it may
 * belong to someone's unfinished work. */
int store_live_cutoff(struct store *s, struct timespec *cutoff, struct kiln_error **err);

/* The reachable set: every tagged manifest's blobs and diffids, plus the
 * caller's extra roots. */
int store_reachable(struct store *s,
                    int (*add_roots)(void *, struct store *, struct digest_set *,
                                     struct kiln_error **),
                    void *ctx, struct digest_set *blobs, struct digest_set *diffids,
                    struct kiln_error **err);

/* Adds the snapshots some overlay mount (in any mount namespace) uses as a
 * lowerdir. -1 if /proc cannot be read. */
int store_snapshots_in_use(struct store *s, struct digest_set *out);

/* Marks a blob or snapshot as recently used (mtime = now). */
void store_touch_at(int dirfd, const char *name);

#endif
