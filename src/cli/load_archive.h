/* kiln load's view of an archive: every regular file and symlink of the tar
 * by name (small files in memory, large ones streamed into the store's ingest
 * and committed only when a descriptor names them). Names are never used as
 * paths. */
#ifndef KILN_CLI_LOAD_ARCHIVE_H
#define KILN_CLI_LOAD_ARCHIVE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct afile {
    char *name;
    char *link; /* symlink target (normalized), else NULL */
    char *data; /* small files */
    size_t len;
    struct blob_writer *bw; /* large files, uncommitted until referenced */
    uint64_t size;
    int stored; /* committed to the store: digest is valid */
    struct digest digest;
};

struct loader {
    struct store *s;
    struct afile *f;
    size_t n;
};

/* Reads the whole tar (plain, gzip or zstd) from fd, through the layer codec's
 * checks. */
int loader_read(struct loader *l, int fd, struct kiln_error **err);
void loader_free(struct loader *l);
/* The file called name (symlinks followed), or NULL. */
struct afile *loader_find(struct loader *l, const char *name);
/* Puts file name into the store, checked against want (digest and size) when
 * given; out (may be NULL) gets its digest and size. */
int loader_store(struct loader *l, const char *name, const struct descriptor *want,
                 struct descriptor *out, struct kiln_error **err);
/* The JSON document in file name; new reference, or NULL with *err. */
json_t *loader_json(struct loader *l, const char *name, struct kiln_error **err);

#endif
