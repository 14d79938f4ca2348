/* libarchive, loaded on first use (see util/dynload.h): the functions kiln's
 * layer reader calls, with archive.h's own prototypes. Only unpacking a layer
 * (pull, import, load, a build's base image) needs it; `kiln run` of an image
 * already unpacked never loads it. */
#include <archive.h>
#include <archive_entry.h>
#include <stdarg.h>
#include <stdio.h>

#include "util/dynload.h"

/* ABI 13 of libarchive, the soname since 3.0. */
static struct dynlib archive_lib = {.soname = "libarchive.so.13"};
#define SYM(name)       DYNLOAD_SYM(archive_lib, name)
#define TRAMPOLINE(...) DYNLOAD_TRAMPOLINE(archive_lib, __VA_ARGS__)

#define ENTRY_GETTER(ret, name) TRAMPOLINE(ret, name, (struct archive_entry * e), (e))

TRAMPOLINE(struct archive *, archive_read_new, (void), ())
TRAMPOLINE(int, archive_read_free, (struct archive * a), (a))
TRAMPOLINE(int, archive_read_support_format_tar, (struct archive * a), (a))
/* kiln scan db import reads osv.dev's zip exports. */
TRAMPOLINE(int, archive_read_support_format_zip, (struct archive * a), (a))
TRAMPOLINE(int, archive_read_open_filename, (struct archive * a, const char *path, size_t block),
           (a, path, block))
TRAMPOLINE(int, archive_read_open,
           (struct archive * a, void *data, archive_open_callback *op, archive_read_callback *rd,
            archive_close_callback *cl),
           (a, data, op, rd, cl))
TRAMPOLINE(int, archive_read_next_header, (struct archive * a, struct archive_entry **e), (a, e))
TRAMPOLINE(la_ssize_t, archive_read_data, (struct archive * a, void *buf, size_t n), (a, buf, n))
TRAMPOLINE(const char *, archive_error_string, (struct archive * a), (a))

ENTRY_GETTER(__LA_MODE_T, archive_entry_filetype)
ENTRY_GETTER(__LA_MODE_T, archive_entry_perm)
ENTRY_GETTER(la_int64_t, archive_entry_uid)
ENTRY_GETTER(la_int64_t, archive_entry_gid)
ENTRY_GETTER(la_int64_t, archive_entry_size)
ENTRY_GETTER(time_t, archive_entry_mtime)
ENTRY_GETTER(dev_t, archive_entry_rdevmajor)
ENTRY_GETTER(dev_t, archive_entry_rdevminor)
ENTRY_GETTER(const char *, archive_entry_pathname)
ENTRY_GETTER(const char *, archive_entry_hardlink)
ENTRY_GETTER(const char *, archive_entry_symlink)
ENTRY_GETTER(int, archive_entry_xattr_reset)
TRAMPOLINE(int, archive_entry_xattr_next,
           (struct archive_entry * e, const char **name, const void **value, size_t *size),
           (e, name, value, size))

/* Formatted here; libarchive gets the finished text. */
void archive_set_error(struct archive *a, int err, const char *fmt, ...)
{
    SYM(archive_set_error);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    real_archive_set_error(a, err, "%s", msg);
}
