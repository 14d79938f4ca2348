/* What run, shell and health share: turning an image name into a launch
 * (runtime/image.h), and kiln run's options. */
#ifndef KILN_CLI_RUN_H
#define KILN_CLI_RUN_H

#include "cli/opt.h"
#include "runtime/image.h"
#include "runtime/launch.h"

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
