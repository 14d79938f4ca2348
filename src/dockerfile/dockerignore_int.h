/* Shared by dockerignore.c and ctxwalk.c; not part of the contract. */
#ifndef KILN_DOCKERFILE_DOCKERIGNORE_INT_H
#define KILN_DOCKERFILE_DOCKERIGNORE_INT_H

#include "dockerfile/dockerignore.h"

/* Go's path.Clean ("" -> "."). Allocated. */
char *di_clean_path(const char *path);
/* Could an exception pattern match something below dir (a path starting
 * with "dir/")? When not, an excluded dir need not be walked. */
int di_exception_may_match_below(const struct dockerignore *di, const char *dir);

#endif
