/* Internal to the layer codec: a byte-stable tar writer (ustar headers, PAX
 * extended headers only where ustar cannot say it) over a byte_sink, with
 * buffering and the running sha256 of everything written. */
#ifndef KILN_STORE_LAYER_TAR_H
#define KILN_STORE_LAYER_TAR_H

#include <stddef.h>
#include <stdint.h>

#include "store/compress.h"
#include "util/digest.h"
#include "util/error.h"

struct tar_xattr {
    char *name;
    char *value;
    size_t len;
};

struct tar_header {
    const char *name; /* as written: directories end in '/' */
    char type;        /* '0' file, '1' hardlink, '2' symlink, '3' chr, '4' blk, '5' dir, '6' fifo */
    uint32_t mode;    /* permission bits incl. setuid/setgid/sticky */
    uint64_t uid, gid;
    uint64_t size;        /* data bytes that follow ('0' only) */
    int64_t mtime;        /* seconds; negative is written as 0 */
    const char *linkname; /* '1' and '2' */
    uint32_t devmajor, devminor;
    const struct tar_xattr *xattrs; /* sorted by name */
    size_t n_xattrs;
};

struct tar_writer;

struct tar_writer *tar_writer_new(struct byte_sink out);
int tar_write_header(struct tar_writer *w, const struct tar_header *h, struct kiln_error **err);
/* Room for up to *len data bytes in the output buffer: fill it, then commit. */
void *tar_data_buffer(struct tar_writer *w, size_t *len, struct kiln_error **err);
int tar_data_commit(struct tar_writer *w, size_t len, struct kiln_error **err);
/* Pads the current file's data to a 512-byte block. */
int tar_data_end(struct tar_writer *w, uint64_t size, struct kiln_error **err);
/* Writes the end-of-archive marker, flushes, returns digest and size. */
int tar_writer_finish(struct tar_writer *w, struct digest *d, uint64_t *size,
                      struct kiln_error **err);
void tar_writer_free(struct tar_writer *w);

#endif
