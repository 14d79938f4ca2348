/* Small file-system helpers that every module needs: whole-file reads,
 * crash-safe atomic writes, recursive mkdir and removal. All fds O_CLOEXEC. */
#ifndef KILN_UTIL_FS_H
#define KILN_UTIL_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* Reads the whole file (at most max bytes; more is KILN_E_INVALID). *out is
 * NUL-terminated for convenience; *len excludes the NUL. */
int read_file(const char *path, size_t max, char **out, size_t *len, struct kiln_error **err);
int read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len,
                 struct kiln_error **err);
/* Writes data to path atomically: temp file in the same directory, fsync,
 * rename, fsync of the directory. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                      struct kiln_error **err);
/* Writes all of buf to fd, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
int fsync_dir(const char *path, struct kiln_error **err);
int fsync_parent_dir(const char *path, struct kiln_error **err);
/* mkdir -p; existing directories are fine. */
int mkdir_p(const char *path, mode_t mode, struct kiln_error **err);
/* rm -rf without following symlinks; makes read-only dirs writable first.
 * A missing path is success. */
int rm_rf(const char *path, struct kiln_error **err);
int rm_rf_at(int dirfd, const char *name, struct kiln_error **err);
/* rm_rf for a large tree nobody else changes meanwhile (a finished RUN
 * step's upper dir): its files and directories are removed by several
 * threads at once (rmtree.c says why), what is left by rm_rf. */
int rm_rf_parallel(const char *path, struct kiln_error **err);
int path_exists(const char *path);
/* Appends path's components to sb lexically, in relative form ("a/b"): empty
 * and "." components dropped, ".." removes the last one (never above sb's
 * start). Nothing is looked up on disk. */
struct strbuf;
void path_push_clean(struct strbuf *sb, const char *path);
/* The descriptors kiln was started with (3 and up: a harness's pipes, a
 * caller's files), noted once at startup by main(). A process that outlives
 * its caller (a supervisor) closes them, but for the n in keep, with
 * fd_close_inherited, or it holds the caller's pipes open (a harness waiting for
 * EOF on them waits for ever); what kiln opened itself (snapshot holds, locks)
 * stays. A descriptor is closed only if it is still the file noted. */
void fd_note_inherited(void);
void fd_close_inherited(const int *keep, size_t n);
/* Joins a and b with exactly one '/'. Allocated. */
char *path_join(const char *a, const char *b);

#endif
