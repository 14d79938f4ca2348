/* kiln push: an image from the store to a registry. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "cli/registry_opts.h"
#include "cli/registry_progress.h"
#include "registry/registry.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/fs.h"

static struct registry_opts ro;
static const char *digestfile;
static int quiet;

static const struct cli_opt push_opts[] = {
    {0, "digestfile", CLI_OPT_STRING, &digestfile, "FILE", "also write the digest to FILE", NULL},
    {'q', "quiet", CLI_OPT_FLAG, &quiet, NULL, "no progress output", NULL},
    CLI_REGISTRY_OPTS(&ro),
    CLI_OPT_END,
};

static const struct cli_spec push_spec = {
    .name = "push",
    .args = "IMAGE [DESTINATION]",
    .summary = "push an image to a registry",
    .text = "Uploads IMAGE from the store to its registry, or to DESTINATION\n"
            "(HOST[:PORT]/NAME[:TAG]). Uncompressed layers are sent gzip-compressed (computed\n"
            "once and remembered). Blobs the registry has are skipped, blobs in another\n"
            "repository of the same registry are mounted. Prints the pushed manifest digest.\n",
    .opts = push_opts,
    .min_args = 1,
    .max_args = 2,
};

static int cmd_push(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&push_spec, argc, argv);
    if (first <= 0)
        return -first;
    const char *src = argv[first], *dest = first + 1 < argc ? argv[first + 1] : NULL;
    struct kiln_error *err = NULL;
    cleanup_free char *root = cli_store_root(g);
    cleanup_store struct store *s = NULL;
    if (store_open(root, &s, &err) < 0)
        return cli_fail(err);
    struct cli_progress *p = cli_progress_new("Pushing", quiet);
    ro.progress = cli_progress_cb;
    ro.progress_ctx = p;
    cleanup_free char *digest = NULL;
    int r = registry_push(s, src, dest, &ro, &digest, &err);
    cli_progress_free(p);
    if (r < 0)
        return cli_fail(err);
    if (digestfile != NULL && write_output_file(digestfile, digest, strlen(digest), 0644, &err) < 0)
        return cli_fail(err);
    printf("%s\n", digest);
    return EXIT_OK;
}

const struct cli_command cli_cmd_push = {
    .name = "push",
    .run = cmd_push,
    .spec = &push_spec,
};
