/* kiln's one error type. Library code returns a negative int and fills a
 * struct kiln_error; callers add context with kiln_error_prefix() and pass it
 * up. Only cli/ prints errors and picks exit codes. */
#ifndef KILN_UTIL_ERROR_H
#define KILN_UTIL_ERROR_H

#include <stdarg.h>

enum kiln_errc {
    KILN_E_FAIL = 1,     /* generic failure */
    KILN_E_USAGE = 2,    /* bad arguments from the user */
    KILN_E_NOTFOUND = 3, /* image, blob, file or name does not exist */
    KILN_E_INVALID = 4,  /* malformed or hostile input */
    KILN_E_DIGEST = 5,   /* size or digest mismatch */
    KILN_E_EXISTS = 6,   /* name already taken */
    KILN_E_NET = 7,      /* network / registry failure */
    KILN_E_AUTH = 8,     /* authentication refused */
    KILN_E_PLATFORM = 9, /* the image is there, but not for the platform asked for */
};

struct kiln_error {
    int code;   /* enum kiln_errc */
    int errnum; /* errno that caused it, or 0 */
    char *msg;  /* one line, no trailing newline */
};

/* Each setter allocates *err (if err != NULL and *err == NULL; an existing
 * error is kept, the first cause wins) and returns -1 so it can be used as
 * `return kiln_error_set(err, ...)`. */
int kiln_error_set(struct kiln_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int kiln_error_errno(struct kiln_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "context: old message". Returns -1. */
int kiln_error_prefix(struct kiln_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void kiln_error_free(struct kiln_error *err);
/* Frees *err and sets it to NULL; for cleanup attribute use. */
void kiln_error_freep(struct kiln_error **err);

#define cleanup_error __attribute__((cleanup(kiln_error_freep)))

#endif
