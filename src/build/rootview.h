/* A read-only view of an image's root filesystem as overlayfs would show it,
 * built from snapshot directories (overlay whiteout form: char 0/0 deletes,
 * trusted.overlay.opaque=y hides lower layers) without mounting anything.
 * Used to resolve COPY destinations through symlinks, read /etc/passwd for
 * --chown names, and read COPY --from sources. */
#ifndef KILN_BUILD_ROOTVIEW_H
#define KILN_BUILD_ROOTVIEW_H

#include <stddef.h>
#include <sys/stat.h>

#include "util/error.h"

struct rootview;

/* dirs: snapshot directories, TOP FIRST (n may be 0: an empty root). */
int rootview_open(const char *const *dirs, size_t n, struct rootview **out,
                  struct kiln_error **err);
void rootview_free(struct rootview *rv);
/* The snapshots' files belong to the ids of a rootless user namespace (see
 * rt_rootless_id_map): entries then show the owners inside. map is copied. */
struct id_map;
void rootview_set_ids(struct rootview *rv, const struct id_map *map);

struct rootview_entry {
    struct stat st;
    size_t layer; /* index (top first) of the layer holding it */
    char *path;   /* canonical relative path ("" is the root), symlinks in it resolved */
};
void rootview_entry_release(struct rootview_entry *e);

/* Looks path (absolute or relative to the root) up, resolving symlinks in its
 * directories inside the view ("/.." stays at the root), and in the last
 * component too when follow is 1. Returns 1 found, 0 not found (out->path is
 * still set to the resolved path it would have), -1 error. */
int rootview_lookup(struct rootview *rv, const char *path, int follow, struct rootview_entry *out,
                    struct kiln_error **err);
/* Names in a directory (canonical path), merged across layers, sorted
 * bytewise, whiteouts applied. Free with rootview_names_free. */
int rootview_list(struct rootview *rv, const char *dir, char ***names, size_t *n,
                  struct kiln_error **err);
void rootview_names_free(char **names, size_t n);
/* The layer directory fd for entries found in `layer` (owned by the view). */
int rootview_layer_fd(const struct rootview *rv, size_t layer);
/* Reads a whole regular file (canonical path) of at most max bytes. */
int rootview_read(struct rootview *rv, const char *path, size_t max, char **out, size_t *len,
                  struct kiln_error **err);

#endif
