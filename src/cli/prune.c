/* kiln prune: deletes blobs and snapshots that no tag reaches and prints
 * what that freed. The build cache's layers are roots too, unless --cache
 * empties the build cache first. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "build/build.h"
#include "build/cache.h"
#include "cli/store_cmd.h"
#include "cli/opt.h"
#include "registry/records.h"
#include "runtime/runtime.h"
#include "util/cleanup.h"

static int dry_run, cache;

static const struct cli_opt prune_opts[] = {
    {'n', "dry-run", CLI_OPT_FLAG, &dry_run, NULL, "only report what would be deleted", NULL},
    {0, "cache", CLI_OPT_FLAG, &cache, NULL, "empty the build cache first", NULL},
    CLI_OPT_END,
};

static const struct cli_spec prune_spec = {
    .name = "prune",
    .summary = "delete blobs and snapshots no image uses",
    .text = "Deletes every blob and snapshot that no tag in the store reaches, and prints\n"
            "the space freed. Content another running kiln process wrote since it started\n"
            "is kept, and so are snapshots in use as a container's root.\n"
            "Layers the build cache refers to are kept, unless --cache empties the build\n"
            "cache (step entries, RUN --mount=type=cache directories not in use) first.\n"
            "The gzip forms kiln push made of layers are kept while those layers are.\n",
    .opts = prune_opts,
    .max_args = 0,
};

static int cmd_prune(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&prune_spec, argc, argv);
    if (first <= 0)
        return -first;
    struct kiln_error *err = NULL;
    /* Rootless, RUN steps leave files of the image's other users (subuids on
     * the host) in cache mounts and snapshots, in directories only their owner
     * may empty: root of a user namespace with the same map deletes them. */
    cleanup_free char *root = NULL;
    int rc = dry_run ? 0 : cli_rootless_enter(g, &root);
    if (rc != 0)
        return rc;
    cleanup_store struct store *s = NULL;
    rc = cli_store_open(g, &s);
    if (rc != 0)
        return rc;
    if (cache && !dry_run) {
        unsigned long freed = 0;
        if (cache_prune(store_root(s), &freed, &err) < 0)
            return cli_fail(err);
        printf("Deleted %lu build cache entr%s\n", freed, freed == 1 ? "y" : "ies");
    }
    struct store_prune_opts po = {.dry_run = dry_run, .add_roots = cli_gc_roots};
    struct store_prune_report rep;
    if (store_prune(s, &po, &rep, &err) < 0)
        return cli_fail(err);
    if (!dry_run && records_compressed_compact(s, &err) < 0)
        return cli_fail(err);
    char b1[16], b2[16], b3[16];
    printf("%s %llu blob%s (%s) and %llu snapshot%s (%s)\n", dry_run ? "Would delete" : "Deleted",
           (unsigned long long)rep.blobs_removed, rep.blobs_removed == 1 ? "" : "s",
           cli_human_size(rep.blob_bytes, b1, sizeof(b1)),
           (unsigned long long)rep.snapshots_removed, rep.snapshots_removed == 1 ? "" : "s",
           cli_human_size(rep.snapshot_bytes, b2, sizeof(b2)));
    printf("Total reclaimed space: %s (%llu bytes)\n",
           cli_human_size(rep.blob_bytes + rep.snapshot_bytes, b3, sizeof(b3)),
           (unsigned long long)(rep.blob_bytes + rep.snapshot_bytes));
    return EXIT_OK;
}

const struct cli_command cli_cmd_prune = {
    .name = "prune",
    .run = cmd_prune,
    .spec = &prune_spec,
};
