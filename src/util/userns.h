/* Which user namespace kiln runs in: root of the initial one has the host's
 * privileges (overlay's trusted.* xattrs, device nodes); root of any other
 * (kiln inside `unshare -U`, a rootless container, a CI sandbox) does not,
 * and must work as a rootless user does. */
#ifndef KILN_UTIL_USERNS_H
#define KILN_UTIL_USERNS_H

#include <stdbool.h>

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

#endif
