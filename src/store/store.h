/* kiln's content store at KILN_ROOT: a plain OCI image layout (oci-layout,
 * index.json, blobs/sha256/) plus snapshots/ (layers unpacked once), cache/
 * (build cache, owned by build/), ingest/ (partial writes) and lock (flock
 * guarding index.json and cache updates). See docs/design.md and docs/store.md.
 *
 * Crash safety: every blob is written into ingest/, fsynced, verified and
 * renamed into place; index.json is replaced atomically under the lock; a tag
 * moves only after the manifest and everything it references is present.
 * Several kiln processes may use one store at once. */
#ifndef KILN_STORE_STORE_H
#define KILN_STORE_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/digest.h"
#include "util/error.h"

/* OCI media types. */
#define MT_OCI_MANIFEST     "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX        "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG       "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER        "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP   "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD   "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_DOCKER_MANIFEST  "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST      "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_CONFIG    "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER     "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"

/* Largest manifest/config/index kiln reads into memory. */
#define STORE_JSON_MAX (16u << 20)

struct store;

/* ---- opening ---------------------------------------------------------- */

/* Opens (creating the layout if missing) the store at root and removes stale
 * ingest entries left by dead writers. */
int store_open(const char *root, struct store **out, struct kiln_error **err);
/* The same for a process that mostly reads and holds what it uses (kiln run,
 * images): its ingest session is made only when it first writes (unpacks a
 * snapshot, writes index.json), so a read costs no mkdir/rmdir in ingest/.
 * store_scratch_dir() is for store_open()ed stores only. */
int store_open_reader(const char *root, struct store **out, struct kiln_error **err);
void store_close(struct store *s);
void cleanup_storep(struct store **s);
#define cleanup_store __attribute__((cleanup(cleanup_storep)))

const char *store_root(const struct store *s);
/* An fd on the root directory, owned by the store (do not close). */
int store_root_fd(const struct store *s);
/* This process's private scratch directory inside ingest/ (same file system
 * as blobs/ and snapshots/, so rename() into them works). Removed on close;
 * if the process dies it is removed by the next store_open(). */
const char *store_scratch_dir(const struct store *s);
/* The build cache directory (KILN_ROOT/cache). */
char *store_cache_dir(const struct store *s);

/* Holds the store's exclusive lock (flock on KILN_ROOT/lock) for updates
 * that must not interleave (index.json is updated under it internally; the
 * build cache uses it for its own files). Recursive within one thread, and
 * excludes other threads using the same handle; store calls made while
 * holding it (store_tag, ...) work. */
int store_lock(struct store *s, struct kiln_error **err);
void store_unlock(struct store *s);

/* ---- descriptors ------------------------------------------------------ */

struct descriptor {
    char *media_type;
    struct digest digest;
    uint64_t size;
};

void descriptor_release(struct descriptor *d);
void descriptor_copy(struct descriptor *dst, const struct descriptor *src);
/* {"mediaType","digest","size"} object; new reference. */
json_t *descriptor_to_json(const struct descriptor *d);
/* Reads and validates a descriptor object; errors name `what`. */
int descriptor_from_json(const json_t *j, struct descriptor *out, const char *what,
                         struct kiln_error **err);

/* ---- blobs ------------------------------------------------------------ */

/* A blob being streamed in. Bytes go to a file in ingest/ while the sha256
 * is computed; commit verifies and moves it into blobs/sha256/. */
struct blob_writer;

int blob_writer_new(struct store *s, struct blob_writer **out, struct kiln_error **err);
int blob_writer_write(struct blob_writer *w, const void *buf, size_t len, struct kiln_error **err);
/* Bytes written so far. */
uint64_t blob_writer_size(const struct blob_writer *w);
/* Ends the writing: fsyncs the bytes and gives their digest, so a caller can
 * check a batch before committing any of it (from a thread of its own, while
 * other blobs are still arriving); commit then only renames. */
int blob_writer_digest(struct blob_writer *w, struct digest *out, struct kiln_error **err);
/* fsyncs, checks expected digest (NULL = any) and size (-1 = any), renames
 * into place and fsyncs the directory. On mismatch: KILN_E_DIGEST naming the
 * digests and nothing kept. *out (may be NULL) receives the digest. A writer
 * can be committed once; free it afterwards either way. */
int blob_writer_commit(struct blob_writer *w, const struct digest *expected, int64_t expected_size,
                       struct digest *out, struct kiln_error **err);
/* Starts writing the bytes written so far to disk without waiting for it
 * (sync_file_range), so the fsync in commit has little left (large downloads). */
void blob_writer_start_writeback(struct blob_writer *w);
/* Makes commit skip the fsync of blobs/sha256/: the caller commits a batch,
 * then calls store_blobs_sync() once, before anything refers to the blobs. */
void blob_writer_defer_dir_sync(struct blob_writer *w);
int store_blobs_sync(struct store *s, struct kiln_error **err);
/* Frees w; an uncommitted partial file is removed. NULL is fine. */
void blob_writer_free(struct blob_writer *w);
void cleanup_blob_writerp(struct blob_writer **w);
#define cleanup_blob_writer __attribute__((cleanup(cleanup_blob_writerp)))

/* Stores data as a blob (verifying against expected when non-NULL). */
int store_blob_put(struct store *s, const void *data, size_t len, const struct digest *expected,
                   struct digest *out, struct kiln_error **err);
/* Copies everything readable from fd into a blob. */
int store_blob_put_fd(struct store *s, int fd, const struct digest *expected, int64_t expected_size,
                      struct digest *out, struct kiln_error **err);
/* 1 if present, 0 if not. A present blob is marked as recently used, so a
 * concurrent prune keeps it for the caller who is about to reference it. */
int store_blob_has(struct store *s, const struct digest *d);
/* Size of a present blob; KILN_E_NOTFOUND when missing. */
int store_blob_size(struct store *s, const struct digest *d, uint64_t *size,
                    struct kiln_error **err);
/* Read-only fd (O_CLOEXEC) on the blob; KILN_E_NOTFOUND names the digest. */
int store_blob_open(struct store *s, const struct digest *d, struct kiln_error **err);
/* Whole blob into memory (at most max bytes), NUL-terminated. */
int store_blob_read(struct store *s, const struct digest *d, size_t max, char **out, size_t *len,
                    struct kiln_error **err);
/* Reads a blob and parses it as JSON; errors name the digest. */
json_t *store_blob_read_json(struct store *s, const struct digest *d, struct kiln_error **err);
/* KILN_ROOT/blobs/sha256/<hex>, allocated (whether or not it exists). */
char *store_blob_path(const struct store *s, const struct digest *d);

/* ---- images ----------------------------------------------------------- */

struct image_layer {
    struct descriptor blob; /* as stored/pushed: maybe compressed */
    struct digest diffid;   /* sha256 of the uncompressed tar */
};

/* A loaded image: a manifest, its config and its layers. */
struct image {
    struct descriptor manifest; /* the image manifest (never an index) */
    struct descriptor config;   /* config.digest is the image id */
    json_t *manifest_json;
    json_t *config_json;
    size_t n_layers;
    struct image_layer *layers;
};

void image_free(struct image *img);
void cleanup_imagep(struct image **img);
#define cleanup_image __attribute__((cleanup(cleanup_imagep)))

/* Loads the image a user's string names: a reference (`debian`,
 * `team/app:1.2`, `name@sha256:...`), an image id (config digest, with or
 * without "sha256:", or a unique hex prefix of at least 4 characters), or a
 * manifest digest. Index manifests resolve to the linux/<host arch> entry.
 * KILN_E_NOTFOUND names `what`. */
int store_image_load(struct store *s, const char *what, struct image **out,
                     struct kiln_error **err);
/* The same for a platform (NULL: this machine's): from an index, its entry
 * for want; an image manifest must be for want's os/architecture.
 * KILN_E_NOTFOUND names the platforms an index has. */
struct platform;
int store_image_load_platform(struct store *s, const char *what, const struct platform *want,
                              struct image **out, struct kiln_error **err);
int store_image_load_manifest_platform(struct store *s, const struct digest *d,
                                       const struct platform *want, struct image **out,
                                       struct kiln_error **err);
/* Loads the image whose manifest (or index) has digest d. */
int store_image_load_manifest(struct store *s, const struct digest *d, struct image **out,
                              struct kiln_error **err);

/* Writes a new image: config is the image config without "rootfs" (it is
 * filled in from layers' diffids); layers are in order, already stored as
 * blobs. Writes the config and manifest blobs (canonical JSON, OCI media
 * types) and returns the manifest descriptor. annotations may be NULL. Does
 * not tag. */
int store_image_write(struct store *s, const json_t *config, const struct image_layer *layers,
                      size_t n_layers, const json_t *annotations, struct descriptor *manifest_out,
                      struct kiln_error **err);

/* Writes an OCI image index listing manifests[i] for plats[i] (in that
 * order, canonical JSON) and returns its descriptor. Two platforms the same:
 * KILN_E_INVALID. Does not tag. */
int store_image_index_write(struct store *s, const struct descriptor *manifests,
                            const struct platform *plats, size_t n, struct descriptor *out,
                            struct kiln_error **err);
/* ---- tags (index.json) ------------------------------------------------- */

/* Points ref (any form; stored in familiar form, ":latest" added) at the
 * manifest. Fails with KILN_E_NOTFOUND unless the manifest and every blob it
 * references (config, layers) are present with the right sizes; for an index,
 * the entry for linux/<host arch> (or its only entry) must be complete, other
 * platforms may be absent. An existing tag of that name moves. */
int store_tag(struct store *s, const char *ref, const struct descriptor *manifest,
              struct kiln_error **err);
/* Removes the tag ref; KILN_E_NOTFOUND when there is none. Blobs stay until
 * store_prune(). */
int store_untag(struct store *s, const char *ref, struct kiln_error **err);

struct store_tag_entry {
    char *name;                 /* familiar form, e.g. "debian:bookworm-slim" */
    struct descriptor manifest; /* what index.json points at */
    int referrer;               /* an artifact attached to an image (store/referrers.h) */
};

/* Every entry of index.json (tagged or not), in index order. */
int store_list_tags(struct store *s, struct store_tag_entry **out, size_t *n,
                    struct kiln_error **err);
void store_tag_entries_free(struct store_tag_entry *e, size_t n);

/* Resolves a reference (not an id) to the manifest it is tagged at;
 * KILN_E_NOTFOUND names ref. */
int store_resolve_tag(struct store *s, const char *ref, struct descriptor *out,
                      struct kiln_error **err);

/* ---- snapshots --------------------------------------------------------- */

/* KILN_ROOT/snapshots/<diffid hex>, allocated (whether or not it exists). */
char *store_snapshot_path(const struct store *s, const struct digest *diffid);
int store_snapshot_has(struct store *s, const struct digest *diffid);
/* Ensures the layer is unpacked into snapshots/<diffid>/ (once; concurrent
 * callers are fine) with overlay whiteouts, and returns its path. The
 * unpacked tar's digest must equal layer->diffid. */
int store_snapshot_ensure(struct store *s, const struct image_layer *layer, char **path_out,
                          struct kiln_error **err);
/* The same, and where the snapshot has to be made, files equal to those at
 * the same path in the snapshot of like (an earlier version of the layer,
 * e.g. the same COPY before a file changed) are hardlinked from it instead
 * of written. like may be NULL or name a snapshot that does not exist. */
int store_snapshot_ensure_like(struct store *s, const struct image_layer *layer,
                               const struct digest *like, char **path_out, struct kiln_error **err);
/* Moves an already unpacked directory (overlay whiteout form, e.g. a RUN
 * step's upper dir) into place as the snapshot of diffid, its files synced
 * first; returns 1. dir must be on the store's file system (e.g. under
 * store_scratch_dir()). If the snapshot already exists, returns 0 and leaves
 * dir for the caller to remove (in the background, say). */
int store_snapshot_adopt(struct store *s, const char *dir, const struct digest *diffid,
                         struct kiln_error **err);
/* Takes a shared hold on a snapshot while it is in use (e.g. as an overlay
 * lowerdir); prune skips held snapshots. Returns an fd to close to release. */
int store_snapshot_hold(struct store *s, const struct digest *diffid, struct kiln_error **err);

/* ---- garbage collection -------------------------------------------------- */

/* Blobs and snapshots reachable from index.json are kept, and so is anything
 * a live kiln process wrote since it opened the store. Other owners of blobs
 * (the build cache) add their roots through the callback. */
struct digest_set; /* see store/digest_set.h */

struct store_prune_opts {
    int dry_run; /* report only */
    /* Called with the set of reachable blob digests; add more roots to it. */
    int (*add_roots)(void *ctx, struct store *s, struct digest_set *roots, struct kiln_error **err);
    void *add_roots_ctx;
};

struct store_prune_report {
    uint64_t blobs_removed;
    uint64_t blob_bytes;
    uint64_t snapshots_removed;
    uint64_t snapshot_bytes;
};

int store_prune(struct store *s, const struct store_prune_opts *opts,
                struct store_prune_report *report, struct kiln_error **err);

/* ---- consistency check ----------------------------------------------------- */

struct store_fsck_opts {
    /* Remove what is broken (corrupt blobs, tags whose content is missing)
     * and what is unreachable (as store_prune does). */
    int repair;
    /* Each finding, one line: problem (never NULL) and, when repairing, what
     * was done about it (NULL when nothing). kind is "problem" or "repaired"
     * or "removed" (unreachable content, which is not a problem). */
    void (*report)(void *ctx, const char *kind, const char *message);
    void *report_ctx;
    /* As in store_prune_opts: extra roots kept by --repair. */
    int (*add_roots)(void *ctx, struct store *s, struct digest_set *roots, struct kiln_error **err);
    void *add_roots_ctx;
};

struct store_fsck_result {
    uint64_t blobs_checked;
    uint64_t bytes_checked;
    uint64_t tags_checked;
    uint64_t problems;                 /* found (repaired or not) */
    uint64_t unfixed;                  /* problems still there afterwards */
    struct store_prune_report removed; /* what --repair removed as unreachable */
};

/* Verifies every blob's digest and size, that index.json and oci-layout are
 * valid, and that everything each tag references is present with the right
 * size. Returns 0 when the check ran (look at result->problems), -1 when it
 * could not run at all. */
int store_fsck(struct store *s, const struct store_fsck_opts *opts,
               struct store_fsck_result *result, struct kiln_error **err);

#endif
