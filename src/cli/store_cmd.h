/* Helpers shared by the store commands (images, tag, rmi, inspect, history,
 * prune, fsck): opening the store for a command, image times and sizes. */
#ifndef KILN_CLI_STORE_CMD_H
#define KILN_CLI_STORE_CMD_H

#include <stdint.h>

#include "cli/cli.h"
#include "store/store.h"

/* Opens the store of g; on failure prints the error and returns the exit code
 * (so `if ((rc = cli_store_open(g, &s)) != 0) return rc;`). */
int cli_store_open(const struct cli_global *g, struct store **out);

/* Rootless (and not root already): moves kiln into its user namespace (see
 * rt_userns_enter_rootless), for a command that writes or removes files of
 * an image's other users (snapshots, upper dirs) and starts no container.
 * g->root is fixed first, to *root_keep (free it after the store), so the
 * store stays the user's. 0, or the exit code once the error is printed. */
int cli_rootless_enter(struct cli_global *g, char **root_keep);

/* Everything besides tags that keeps blobs alive, for prune and fsck (a
 * store_prune_opts.add_roots): the build cache's layers, then the gzip forms
 * kiln push made of live layers. */
struct digest_set;
int cli_gc_roots(void *ctx, struct store *s, struct digest_set *roots, struct kiln_error **err);

/* RFC 3339 ("2023-11-14T22:13:20Z", fractions and offsets allowed) to unix
 * seconds; -1 if s is NULL or malformed. */
long long cli_parse_rfc3339(const char *s);

/* Bytes the image's blobs take in the store: manifest, config and layers. */
uint64_t cli_image_size(const struct image *img);

/* The 12-hex short form of an id ("sha256:" stripped). buf >= 13 bytes. */
const char *cli_short_id(const struct digest *d, char *buf);

/* Prints rows as an aligned table: columns separated by three spaces, the
 * last column not padded. rows[r][c]; row 0 is the header. */
void cli_print_table(char ***rows, size_t n_rows, size_t n_cols);

#endif
