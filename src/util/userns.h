/* Which user namespace kiln runs in: root of the initial one has the host's
 * privileges (overlay's trusted.* xattrs, device nodes); root of any other
 * (kiln inside `unshare -U`, a rootless container, a CI sandbox) does not,
 * and must work as a rootless user does. */
#ifndef KILN_UTIL_USERNS_H
#define KILN_UTIL_USERNS_H

#include <stdbool.h>
#include <stddef.h>

/* Whether text (a /proc/PID/uid_map) maps every id to itself: the initial
 * user namespace's "0 0 4294967295". */
bool userns_map_is_identity(const char *text);

/* Whether this process is in the initial user namespace (read once from
 * /proc/self/uid_map; an unreadable map counts as initial). */
bool userns_is_initial(void);

/* Not root, or root of a user namespace other than the initial one: opaque
 * directories are marked with user.overlay.opaque, the overlay is mounted
 * with userxattr, and device nodes cannot be created. */
bool userns_unprivileged(void);

/* How a user namespace maps ids: inner..inner+count-1 inside are
 * outer..outer+count-1 outside (a uid_map line). */
struct id_range {
    unsigned long inner, outer, count;
};
struct id_map {
    struct id_range uid[2], gid[2];
    size_t n_uid, n_gid;
};
/* The id inside for an id outside; one the map does not hold is 65534
 * (nobody), as the kernel shows it. */
unsigned long id_map_inner(const struct id_range *r, size_t n, unsigned long outer);

#endif
