/* The layer codec: a deterministic tar writer from a directory and a hostile-
 * archive-proof extractor. Layers in kiln's store are plain tars; compression
 * (compress.h) is applied when an image leaves the store.
 *
 * Tar shape written (byte-stable): entries sorted bytewise by path, no "./"
 * prefix and no entry for the root itself, directories end in '/', numeric
 * uid/gid with empty uname/gname, mtime clamped to the epoch when newer, no
 * atime/ctime, ustar headers with a PAX header only where needed (long names
 * or link targets, big sizes/ids, xattrs such as security.capability),
 * hardlinks as hardlinks (first path in sort order carries the data), sockets
 * skipped, device nodes and fifos kept. */
#ifndef KILN_STORE_LAYER_H
#define KILN_STORE_LAYER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "store/compress.h"
#include "util/digest.h"
#include "util/error.h"

#define LAYER_MEDIA_TYPE_TAR  "application/vnd.oci.image.layer.v1.tar"
#define LAYER_WHITEOUT_PREFIX ".wh."
#define LAYER_WHITEOUT_OPAQUE ".wh..wh..opq"

struct id_map;

struct layer_write_opts {
    /* Mtimes newer than epoch are clamped to it; < 0 keeps them as they are.
     * Callers pass SOURCE_DATE_EPOCH (else their default epoch). */
    int64_t epoch;
    /* The directory is an overlayfs upper dir: char device 0/0 becomes the
     * whiteout ".wh.NAME", a directory with trusted.overlay.opaque=y (or
     * user.overlay.opaque=y) gets a ".wh..wh..opq" entry; overlay xattrs are
     * never written. */
    bool overlay_whiteouts;
    /* Optional: called for every entry (path relative, no leading "./" and no
     * trailing '/'); return 1 to keep it, 0 to skip it (a skipped directory
     * skips its whole subtree), -1 with *err set to fail the write. */
    int (*filter)(void *ctx, const char *path, const struct stat *st, struct kiln_error **err);
    void *filter_ctx;
    /* Optional: the user namespace the files were written in (a rootless
     * RUN step's upper dir): owners are recorded as the ids inside. */
    const struct id_map *ids;
};

/* Walks dirfd (not closed) and writes the layer tar to out. diffid (sha256 of
 * the tar) and size (tar bytes) may be NULL. */
int layer_write_from_dir(int dirfd, const struct layer_write_opts *o, struct byte_sink out,
                         struct digest *diffid, uint64_t *size, struct kiln_error **err);

/* Writing a layer entry by entry, for content that is not a directory tree
 * yet (a COPY straight from the build context): the same entries give the
 * same bytes as layer_write_from_dir over a tree that holds them (without
 * xattrs or hardlinks). Entries must come bytewise sorted by tar name, a
 * directory's name ending in '/' ("a-b" before "a/"); anything else is
 * refused. The root itself has no entry. */
struct layer_stream_entry {
    const char *path; /* relative, no leading or trailing '/' */
    mode_t mode;      /* type and permission bits */
    uid_t uid;
    gid_t gid;
    int64_t mtime;    /* clamped to the stream's epoch when newer */
    uint64_t size;    /* regular files: the bytes that data_fd or data give */
    dev_t rdev;       /* char and block devices */
    const char *link; /* symlink target */
};

struct layer_stream;

/* epoch < 0 keeps mtimes as they are. */
struct layer_stream *layer_stream_new(struct byte_sink out, int64_t epoch);
/* A regular file's bytes come from data (when not NULL) or are read from
 * data_fd: exactly e->size of them; a file that gives fewer is an error. */
int layer_stream_add(struct layer_stream *s, const struct layer_stream_entry *e, int data_fd,
                     const void *data, struct kiln_error **err);
/* Ends the archive; diffid and size (tar bytes) may be NULL. */
int layer_stream_finish(struct layer_stream *s, struct digest *diffid, uint64_t *size,
                        struct kiln_error **err);
void layer_stream_free(struct layer_stream *s);

enum layer_whiteout_mode {
    /* Apply OCI whiteouts to the tree: ".wh.NAME" deletes NAME, an opaque
     * marker empties its directory of what earlier layers put there. Used to
     * flatten layers one after another into one directory (export). */
    LAYER_WHITEOUT_FLATTEN = 0,
    /* Turn them into overlayfs whiteouts: ".wh.NAME" becomes a char device
     * 0/0 NAME, an opaque directory gets trusted.overlay.opaque=y (or
     * user.overlay.opaque, see user_xattrs). Used for
     * snapshot dirs that serve as overlay lowerdirs. */
    LAYER_WHITEOUT_OVERLAY = 1,
};

struct layer_extract_opts {
    enum layer_whiteout_mode whiteouts;
    /* Create char/block device nodes; without it an archive holding one is
     * refused. Fifos are always allowed. */
    bool allow_devices;
    /* Don't chown entries (rootless); modes, xattrs and mtimes still apply. */
    bool skip_owners;
    /* LAYER_WHITEOUT_OVERLAY for an overlay mounted with userxattr (rootless,
     * or root of a user namespace, who may not set trusted.*): opaque
     * directories get user.overlay.opaque=y instead. */
    bool user_xattrs;
    /* Optional: told about what was skipped (e.g. an xattr the file system
     * refused). Never called for anything that breaks the layer. */
    void (*warn)(void *ctx, const char *msg);
    void *warn_ctx;
    /* Optional (reuse set): a tree, such as the snapshot of an earlier
     * version of the layer, whose regular files may be hardlinked instead
     * of written: only a file at the same path with the same size, mode,
     * owner, mtime, no xattrs and the same bytes (compared with the
     * archive's). Saves creating (and later freeing) a file per entry. */
    bool reuse;
    int reuse_dirfd;
};

/* Extracts the layer read from tar_fd (plain tar, gzip or zstd: detected)
 * under root_dirfd, treating the archive as hostile:
 *  - names are normalized ("./a//b" is "a/b"); an absolute name, a ".."
 *    component, or an empty name is refused;
 *  - an entry under a path that the same archive made a symlink is refused
 *    (symlink-then-write), and every path is resolved inside root_dirfd
 *    (openat2 RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, or a component-by-
 *    component walk where openat2 is missing), so symlinks already in the
 *    tree never lead out;
 *  - a hardlink's target must be a non-directory already inside the root;
 *  - device nodes only with allow_devices; a truncated archive is an error.
 * Keeps modes (with setuid/setgid), numeric owners, xattrs, symlink targets,
 * hardlinks and mtimes. diffid_out (sha256 of the uncompressed tar) may be
 * NULL. On error the tree may hold a part of the layer; callers extract into
 * a fresh directory and discard it on failure. Errors name the entry. */
int layer_extract(int tar_fd, int root_dirfd, const struct layer_extract_opts *opts,
                  struct digest *diffid_out, struct kiln_error **err);

/* Runs the same checks as layer_extract over a layer without writing
 * anything: for blobs that enter the store from outside (load, pull).
 * diffid and size (of the uncompressed tar) may be NULL. */
int layer_check(int tar_fd, const struct layer_extract_opts *opts, struct digest *diffid,
                uint64_t *size, struct kiln_error **err);

#endif
