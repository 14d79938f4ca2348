/* Destructors used by the cleanup_* attributes. */
#include "util/cleanup.h"

#include <errno.h>
#include <unistd.h>

void cleanup_freep(void *p)
{
    void **pp = (void **)p;
    free(*pp);
    *pp = NULL;
}

void cleanup_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
    *fd = -1;
}

void cleanup_fclosep(FILE **f)
{
    if (*f != NULL)
        fclose(*f);
    *f = NULL;
}

void cleanup_closedirp(DIR **d)
{
    if (*d != NULL)
        closedir(*d);
    *d = NULL;
}
