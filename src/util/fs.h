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
/* Files a user names on the command line (-o, --iidfile, --digestfile ...).
 * A regular file, or none yet, is replaced atomically (a temporary file in
 * its directory, renamed over it at the end); anything else that exists there
 * (a device such as /dev/null or /dev/stdout, a FIFO, a symlink) is opened and
 * written in place, as a shell's redirection does: renaming over it would
 * replace the device or the link itself.
 * output_open returns the fd to write to and sets *partial to the temporary
 * path (NULL when writing in place); output_commit fsyncs and renames it;
 * output_abort removes it. write_output_file does all three for a buffer. */
int output_open(const char *path, mode_t mode, char **partial, struct kiln_error **err);
/* The umask output_open applies to the files it creates (main sets kiln's own
 * umask to 022 and hands the caller's here). */
void output_umask(mode_t mask);
int output_commit(int fd, const char *partial, const char *path, struct kiln_error **err);
void output_abort(const char *partial);
int write_output_file(const char *path, const void *data, size_t len, mode_t mode,
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
/* Closes every descriptor from 3 up but those in keep (any order, -1s
 * ignored), kiln's own too: for a child forked from a process with other
 * threads that does not exec at once and needs nothing of its parent's. It
 * would otherwise hold, for as long as it lives, the pipes and lock files the
 * other threads had open at the fork (a pipe's reader then sees no end until
 * this child exits). */
void close_fds_except(const int *keep, size_t n);
/* Joins a and b with exactly one '/'. Allocated. */
char *path_join(const char *a, const char *b);

#endif
