/* RUN --mount=... specifications (BuildKit syntax): type=bind|cache|tmpfs|
 * secret|ssh with their options. Parse the expanded flag value (see
 * df_step: RUN's --mount values are expanded there). */
#ifndef KILN_DOCKERFILE_MOUNT_H
#define KILN_DOCKERFILE_MOUNT_H

#include "util/error.h"

enum df_mount_type {
    DF_MOUNT_BIND = 1,
    DF_MOUNT_CACHE,
    DF_MOUNT_TMPFS,
    DF_MOUNT_SECRET,
    DF_MOUNT_SSH,
};

struct df_mount {
    enum df_mount_type type;
    char *target;   /* where it appears; relative (or "" when not given: bind,
                       cache, tmpfs) means under the working directory, as in
                       BuildKit; secret/ssh get their default path */
    char *source;   /* bind/cache: path in from (or the context); NULL = root */
    char *from;     /* bind/cache: stage name/index or image; NULL = build context */
    int readonly;   /* bind defaults to 1, others 0 */
    char *id;       /* cache (default: target), secret (default: basename of target), ssh
                       ("default") */
    char *sharing;  /* cache: "shared" (default), "private" or "locked" */
    int mode;       /* cache/secret/ssh file mode; -1 when not given */
    long uid, gid;  /* -1 when not given */
    long long size; /* tmpfs bytes; 0 = unlimited */
    int required;   /* secret/ssh: fail when missing */
    char *env;      /* secret: also (or only) expose as this env var */
};

const char *df_mount_type_name(enum df_mount_type t);
/* Errors name the spec: `--mount "type=cache": cache mount needs a target`. */
int df_mount_parse(const char *spec, struct df_mount *out, struct kiln_error **err);
void df_mount_release(struct df_mount *m);

#endif
