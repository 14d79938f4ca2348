/* Internal to the layer codec: reads a layer (plain, gzip or zstd tar) as a
 * sequence of validated entries. Every name is normalized and checked here
 * (absolute, "..", too long, under a symlink of the same archive, device
 * policy), so extraction and checking share one set of rules. It hashes the
 * uncompressed stream (the diff id) and insists on the end-of-archive marker. */
#ifndef KILN_STORE_LAYER_READ_H
#define KILN_STORE_LAYER_READ_H

#include <stdint.h>
#include <sys/types.h>

#include "store/layer.h"
#include "store/layer_tar.h"

enum layer_kind {
    LK_FILE,
    LK_DIR,
    LK_SYMLINK,
    LK_HARDLINK,
    LK_CHR,
    LK_BLK,
    LK_FIFO,
    LK_WHITEOUT, /* path names what is deleted */
    LK_OPAQUE,   /* path names the directory made opaque ("" for the root) */
};

struct layer_entry {
    const char *path; /* normalized: no leading "./" or '/', no trailing '/'; "" is the root */
    const char *raw;  /* the name as stored in the archive, for messages */
    const char *link; /* symlink target (verbatim) or normalized hardlink target */
    enum layer_kind kind;
    mode_t mode; /* permission bits */
    uid_t uid;
    gid_t gid;
    int64_t mtime;
    uint32_t devmajor, devminor;
    uint64_t size;
    const struct tar_xattr *x; /* overlay xattrs removed */
    size_t nx;
};

struct layer_reader;

struct layer_reader *layer_reader_open(int fd, const struct layer_extract_opts *o);
/* 1 with *e filled (valid until the next call), 0 at the end, -1 on error. */
int layer_reader_next(struct layer_reader *r, struct layer_entry *e, struct kiln_error **err);
/* Reads the current file's data; 0 at its end. */
ssize_t layer_reader_data(struct layer_reader *r, void *buf, size_t len, struct kiln_error **err);
/* Consumes the rest of the stream; checks the end marker; returns digest/size. */
int layer_reader_finish(struct layer_reader *r, struct digest *diffid, uint64_t *size,
                        struct kiln_error **err);
void layer_reader_free(struct layer_reader *r);

#endif
