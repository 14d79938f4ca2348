/* Matching a cleaned relative path against a COPY source pattern: shell
 * wildcards ('*', '?', "[...]") within one path component, and a "**"
 * component that matches any number of components (zero included), as
 * BuildKit's include patterns do. */
#ifndef KILN_BUILD_PATHGLOB_H
#define KILN_BUILD_PATHGLOB_H

/* 1 when path matches pattern. Both are relative, '/'-separated, without
 * "." or empty components. */
int pathglob_match(const char *pattern, const char *path);

#endif
