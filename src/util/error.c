/* The error object: allocation, formatting, context chaining. */
#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *vformat(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        return NULL;
    return s;
}

static int set_msg(struct kiln_error **err, int code, int errnum, char *msg)
{
    if (err == NULL || *err != NULL) {
        free(msg);
        return -1;
    }
    struct kiln_error *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        free(msg);
        return -1;
    }
    e->code = code;
    e->errnum = errnum;
    e->msg = msg ? msg : strdup("out of memory");
    *err = e;
    return -1;
}

int kiln_error_set(struct kiln_error **err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    return set_msg(err, code, 0, msg);
}

int kiln_error_errno(struct kiln_error **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *head = vformat(fmt, ap);
    va_end(ap);
    char *msg = NULL;
    if (head == NULL || asprintf(&msg, "%s: %s", head, strerror(errnum)) < 0)
        msg = NULL;
    free(head);
    int code = KILN_E_FAIL;
    if (errnum == ENOENT)
        code = KILN_E_NOTFOUND;
    else if (errnum == EEXIST)
        code = KILN_E_EXISTS;
    return set_msg(err, code, errnum, msg);
}

int kiln_error_prefix(struct kiln_error **err, const char *fmt, ...)
{
    if (err == NULL || *err == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    char *head = vformat(fmt, ap);
    va_end(ap);
    char *msg = NULL;
    if (head != NULL && asprintf(&msg, "%s: %s", head, (*err)->msg) >= 0) {
        free((*err)->msg);
        (*err)->msg = msg;
    }
    free(head);
    return -1;
}

void kiln_error_free(struct kiln_error *err)
{
    if (err == NULL)
        return;
    free(err->msg);
    free(err);
}

void kiln_error_freep(struct kiln_error **err)
{
    kiln_error_free(*err);
    *err = NULL;
}
