/* Progress of pulls and pushes for the user: on a terminal one line per blob,
 * redrawn in place (bytes, total, rate); otherwise plain lines, one per event
 * that matters (start, done, exists, mounted, retry). Writes to stderr. */
#ifndef KILN_CLI_REGISTRY_PROGRESS_H
#define KILN_CLI_REGISTRY_PROGRESS_H

#include "registry/registry.h"

struct cli_progress;

/* verb: "Pulling" / "Pushing". quiet: print warnings only. */
struct cli_progress *cli_progress_new(const char *verb, int quiet);
void cli_progress_free(struct cli_progress *p);
/* A registry_progress_fn; ctx is the struct cli_progress. */
void cli_progress_cb(void *ctx, const struct registry_progress *ev);

#endif
