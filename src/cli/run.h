/* What run, shell and health share: turning an image name into a launch
 * (store lookup, snapshots as overlay lower dirs). */
#ifndef KILN_CLI_RUN_H
#define KILN_CLI_RUN_H

#include "cli/opt.h"
#include "runtime/launch.h"

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

/* Prints err and returns Docker's exit code for a failed run (125 unless the
 * runtime said 126/127). */
int run_fail(struct kiln_error *err, int status);

struct cli_global;

/* kiln run's option table (kiln shell parses with it too). */
extern const struct cli_opt cli_run_opts[];
/* kiln run once cli_parse has read cli_run_opts: argv[first] is the image (none
 * with --rootfs), the command follows. */
int cli_run_parsed(struct cli_global *g, int argc, char **argv, int first);
/* kiln shell: --rm, -i, -t when stdin is a terminal, and entrypoint, whatever the
 * options said. */
void cli_run_as_shell(const char *entrypoint);

#endif
