/* kiln fsck [--repair]: checks every blob's digest and size and that every
 * tag's content is present; prints one line per finding; exit 1 while
 * problems remain. */
#include <stdio.h>
#include <string.h>

#include "cli/store_cmd.h"
#include "cli/opt.h"
#include "util/cleanup.h"

static void report(void *ctx, const char *kind, const char *message)
{
    (void)ctx;
    if (strcmp(kind, "removed") == 0)
        printf("%s\n", message);
    else
        printf("%s: %s\n", kind, message);
}

static int repair;

static const struct cli_opt fsck_opts[] = {
    {0, "repair", CLI_OPT_FLAG, &repair, NULL,
     "remove corrupt blobs, tags whose content is broken or missing,\n"
     "and unreachable blobs and snapshots (the build cache's layers\n"
     "count as reachable); says what it did",
     NULL},
    CLI_OPT_END,
};

static const struct cli_spec fsck_spec = {
    .name = "fsck",
    .summary = "check the store's blobs and tags (and repair them)",
    .text = "Checks oci-layout and index.json, every blob's sha256 digest, and that each\n"
            "tag's manifest, config and layers are present with the right sizes. Prints one\n"
            "line per problem and exits 1 if any remain. Unreachable content is reported\n"
            "but is not a problem.\n",
    .opts = fsck_opts,
    .max_args = 0,
};

static int cmd_fsck(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&fsck_spec, argc, argv);
    if (first <= 0)
        return -first;
    /* --repair deletes snapshots with other users' files (rootless). */
    cleanup_free char *root = NULL;
    int rc = repair ? cli_rootless_enter(g, &root) : 0;
    if (rc != 0)
        return rc;
    cleanup_store struct store *s = NULL;
    rc = cli_store_open(g, &s);
    if (rc != 0)
        return rc;
    struct kiln_error *err = NULL;
    /* The build cache's layers and push's gzip forms are roots: --repair must
     * not remove them. */
    struct store_fsck_opts fo = {.repair = repair, .report = report, .add_roots = cli_gc_roots};
    struct store_fsck_result r;
    if (store_fsck(s, &fo, &r, &err) < 0)
        return cli_fail(err);
    char b[16];
    printf("checked %llu blobs (%s) and %llu tags: %llu problem%s",
           (unsigned long long)r.blobs_checked, cli_human_size(r.bytes_checked, b, sizeof(b)),
           (unsigned long long)r.tags_checked, (unsigned long long)r.problems,
           r.problems == 1 ? "" : "s");
    if (r.problems > 0)
        printf(", %llu repaired", (unsigned long long)(r.problems - r.unfixed));
    printf("\n");
    if (r.unfixed > 0 && !repair)
        printf("run 'kiln fsck --repair' to remove what is broken\n");
    return r.unfixed > 0 ? EXIT_FAIL : EXIT_OK;
}

const struct cli_command cli_cmd_fsck = {
    .name = "fsck",
    .run = cmd_fsck,
    .spec = &fsck_spec,
};
