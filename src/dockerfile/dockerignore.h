/* .dockerignore: which files of a build context are sent to the build.
 * Patterns use Go's filepath.Match syntax plus "**" (any number of path
 * components); "!" makes an exception; the last matching pattern wins; a
 * leading "/" is dropped and patterns are cleaned like paths. A pattern that
 * matches a directory excludes everything below it, unless an exception
 * re-includes something there. The same matcher serves COPY/ADD --exclude. */
#ifndef KILN_DOCKERFILE_DOCKERIGNORE_H
#define KILN_DOCKERFILE_DOCKERIGNORE_H

#include <stddef.h>
#include <sys/stat.h>

#include "util/error.h"

struct dockerignore;

/* Parses .dockerignore text: one pattern a line, '#' comments, blank lines
 * ignored, surrounding blanks trimmed. Errors name the line. */
int dockerignore_parse(const char *data, size_t len, struct dockerignore **out,
                       struct kiln_error **err);
/* The same from a list of patterns (COPY --exclude). */
int dockerignore_from_patterns(const char *const *patterns, size_t n, struct dockerignore **out,
                               struct kiln_error **err);
/* Loads the ignore file for a build: "<dockerfile>.dockerignore" next to the
 * Dockerfile wins over "<context>/.dockerignore"; neither means nothing is
 * excluded. dockerfile may be NULL. *used (if used != NULL) gets the path
 * read, or NULL. */
int dockerignore_load(const char *context_dir, const char *dockerfile, struct dockerignore **out,
                      char **used, struct kiln_error **err);
void dockerignore_free(struct dockerignore *di);

size_t dockerignore_count(const struct dockerignore *di);

/* 1 if path (relative to the context, '/'-separated; cleaned here) is
 * excluded, 0 if included. Checks path itself and each of its parents, so a
 * file below an excluded directory is excluded unless an exception matches. */
int dockerignore_excluded(const struct dockerignore *di, const char *path);

/* Walks a context directory and calls fn for every included entry below it,
 * bytewise sorted, each directory before its contents, never following
 * symlinks. rel is '/'-separated relative to the context ("a/b.txt").
 * An excluded directory is not descended unless an exception pattern could
 * match something inside it; then it is reported with DI_WALK_PARENT (it is
 * there only to hold included children). fn returns 0 to go on, 1 to skip a
 * directory's contents, -1 (with *err set) to stop. di may be NULL. */
enum { DI_WALK_PARENT = 1 };
typedef int (*dockerignore_walk_fn)(void *ud, const char *rel, const struct stat *st, int flags,
                                    struct kiln_error **err);
int dockerignore_walk(const char *context_dir, const struct dockerignore *di,
                      dockerignore_walk_fn fn, void *ud, struct kiln_error **err);

#endif
