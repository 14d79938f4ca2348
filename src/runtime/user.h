/* Resolving a Docker USER spec ("name", "uid", "name:group", "uid:gid") in an
 * image's /etc/passwd and /etc/group, as runc's GetExecUser does. Internal to
 * runtime/ (and its unit test). */
#ifndef KILN_RUNTIME_USER_H
#define KILN_RUNTIME_USER_H

#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

struct rt_user {
    uid_t uid;
    gid_t gid;
    gid_t *groups; /* supplementary groups: every group listing the user as member */
    size_t n_groups;
    char *home; /* from passwd, else "/" */
};

/* passwd/group are the files' contents (NULL when the file is missing). A name
 * that is not in the files is KILN_E_NOTFOUND; numeric ids need no entry. */
int rt_user_resolve(const char *spec, const char *passwd, const char *group, struct rt_user *u,
                    struct kiln_error **err);
void rt_user_free(struct rt_user *u);

#endif
