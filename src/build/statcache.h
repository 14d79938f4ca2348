/* A stat-keyed cache of file content digests, so that an unchanged file in a
 * 20,000-file context is not read again. Keyed by (dev, ino, size, mtime,
 * ctime): any change to the file changes one of them and forces a re-read.
 * Kept in KILN_ROOT/cache/statcache, shared by every build on the store, read
 * lazily (a build that digests no file never opens it) and merged under the
 * cache lock when saved. Thread-safe. */
#ifndef KILN_BUILD_STATCACHE_H
#define KILN_BUILD_STATCACHE_H

#include <sys/stat.h>

#include "util/digest.h"
#include "util/error.h"

struct statcache;

/* path: the cache file (missing is fine: an empty cache). A corrupt file is
 * ignored, not an error: the cache only ever saves work. */
struct statcache *statcache_open(const char *path);
/* Digest of the regular file name (relative to dirfd) whose lstat is st. */
int statcache_file_digest(struct statcache *sc, int dirfd, const char *name, const struct stat *st,
                          struct digest *out, struct kiln_error **err);
/* Writes the cache back (atomically, merged with what others saved). lock_path
 * is flock'ed around the read-merge-write. Does nothing when nothing changed. */
int statcache_save(struct statcache *sc, const char *lock_path, struct kiln_error **err);
void statcache_free(struct statcache *sc);
/* Counters for tests and --debug: files hashed and files answered by the cache. */
void statcache_stats(struct statcache *sc, unsigned long *hashed, unsigned long *hits);

#endif
