/* --chmod values of COPY and ADD: an octal mode ("755", "0644") or a
 * symbolic one as chmod(1) and BuildKit (Dockerfile 1.14) take it:
 * comma-separated clauses of [ugoa]* followed by one or more [+-=] with
 * permissions from rwxXst or a class to copy (u, g or o): "u=rwx,go=rx",
 * "+x", "a-w", "go=u-w". As in BuildKit (BSD setmode), a clause without
 * u/g/o/a is limited by the umask, taken here as 022 so builds do not
 * depend on the caller's; X adds execute only to directories and to files
 * some class can already execute. */
#ifndef KILN_BUILD_CHMOD_H
#define KILN_BUILD_CHMOD_H

#include <stddef.h>
#include <sys/types.h>

#define CHMOD_MAX_CMDS 48

struct chmod_cmd {
    char op;          /* '+', '-', 'X', or 'u'/'g'/'o' (copy that class) */
    unsigned char to; /* copies: target classes, bit 0 = o, 1 = g, 2 = u; 8 = set, 16 = clear */
    mode_t bits;
};

struct chmod_spec {
    int absolute; /* an octal mode: mode replaces the permission bits */
    mode_t mode;
    struct chmod_cmd cmds[CHMOD_MAX_CMDS];
    size_t n;
};

/* 0, or -1 when s is not a valid mode. */
int chmod_parse(const char *s, struct chmod_spec *out);
/* The permission bits (07777) of a file whose mode (type bits included) is
 * mode, after s. */
mode_t chmod_apply(const struct chmod_spec *s, mode_t mode);

#endif
