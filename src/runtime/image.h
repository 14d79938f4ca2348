/* Turning an image name into a launch (kiln run, shell, health, kube play,
 * compose): store lookup, snapshots as overlay lower dirs, held. The store
 * unpacks a missing snapshot (store_snapshot_ensure); nothing here writes it
 * otherwise. */
#ifndef KILN_RUNTIME_IMAGE_H
#define KILN_RUNTIME_IMAGE_H

#include <stddef.h>

#include "runtime/launch.h"
#include "util/error.h"

struct store;
struct image;

struct run_image {
    struct store *store;
    struct image *img;
    char **lowerdirs; /* top first */
    int *holds;       /* store_snapshot_hold fds, one per layer (bottom first), or -1 */
    size_t n_lowerdirs;
    char *image_id;
};

/* Loads the image, ensures its snapshots and holds them (prune skips them
 * until run_image_close, or until a detached container's supervisor, which
 * inherits the holds, exits); fills o's image fields. */
int run_image_open(const char *root, const char *name, struct run_image *ri, struct launch_opts *o,
                   struct kiln_error **err);
void run_image_close(struct run_image *ri);

#endif
