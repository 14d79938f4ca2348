/* Scope-exit cleanup for common resources, after crun's habits:
 *   cleanup_free char *p = ...;   cleanup_close int fd = open(...);
 * Steal ownership with steal_pointer()/steal_fd() before returning it. */
#ifndef KILN_UTIL_CLEANUP_H
#define KILN_UTIL_CLEANUP_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

void cleanup_freep(void *p);
void cleanup_closep(int *fd);
void cleanup_fclosep(FILE **f);
void cleanup_closedirp(DIR **d);

#define cleanup_free   __attribute__((cleanup(cleanup_freep)))
#define cleanup_close  __attribute__((cleanup(cleanup_closep)))
#define cleanup_fclose __attribute__((cleanup(cleanup_fclosep)))
#define cleanup_dir    __attribute__((cleanup(cleanup_closedirp)))

static inline void *steal_pointer(void *pp)
{
    void **p = (void **)pp;
    void *v = *p;
    *p = NULL;
    return v;
}

static inline int steal_fd(int *fd)
{
    int v = *fd;
    *fd = -1;
    return v;
}

#endif
