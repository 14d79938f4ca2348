/* Image references: `name[:tag][@sha256:...]` with Docker's defaults
 * (`debian` is `docker.io/library/debian:latest`). One parser for the store,
 * the registry client and the CLI. Three spellings of one parsed reference:
 *   normalized  docker.io/library/debian:latest   compared for equality
 *   familiar    debian:latest                     shown to users, stored in index.json
 *   registry    host + repository path + tag/digest, for the distribution API */
#ifndef KILN_STORE_REFERENCE_H
#define KILN_STORE_REFERENCE_H

#include "util/digest.h"
#include "util/error.h"

#define REFERENCE_DEFAULT_DOMAIN "docker.io"
#define REFERENCE_DEFAULT_TAG    "latest"
#define REFERENCE_NAME_MAX       255 /* domain + '/' + path */
#define REFERENCE_TAG_MAX        128

struct reference {
    char *domain;   /* "docker.io", "127.0.0.1:5000", "localhost", "quay.io" */
    char *path;     /* repository path inside the domain: "library/debian", "team/app" */
    char *tag;      /* "latest" when neither tag nor digest was given; NULL when only a
                       digest was given */
    int has_digest; /* 1 when "@sha256:..." was given */
    struct digest digest;
};

/* Parses s. Errors (KILN_E_INVALID) name the reference and what is wrong:
 * `invalid reference "Debian": repository name must be lowercase`. On success
 * the caller releases *out with reference_release(). */
int reference_parse(const char *s, struct reference *out, struct kiln_error **err);
void reference_release(struct reference *r);

/* Allocated strings. */
char *reference_normalized(const struct reference *r);    /* docker.io/library/debian:latest */
char *reference_familiar(const struct reference *r);      /* debian:latest, team/app:1.2 */
char *reference_name(const struct reference *r);          /* docker.io/library/debian */
char *reference_familiar_name(const struct reference *r); /* debian, 127.0.0.1:5000/x */

/* The host[:port] to talk HTTP to: "registry-1.docker.io" for docker.io,
 * else the domain itself. Points into r or a constant. */
const char *reference_registry_host(const struct reference *r);

/* 1 if s is a valid tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`). */
int reference_tag_valid(const char *s);

/* Convenience: parse s and return its normalized / familiar form (allocated),
 * or NULL with *err set. */
char *reference_normalize_str(const char *s, struct kiln_error **err);
char *reference_familiar_str(const char *s, struct kiln_error **err);

#endif
