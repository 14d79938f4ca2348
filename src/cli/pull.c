/* kiln pull: an image from a registry into the store. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "cli/registry_opts.h"
#include "cli/registry_progress.h"
#include "registry/registry.h"
#include "store/store.h"
#include "util/cleanup.h"

static struct registry_opts ro;
static int quiet;

static const struct cli_opt pull_opts[] = {
    {0, "platform", CLI_OPT_STRING, &ro.platform, "OS/ARCH[/VARIANT]",
     "platform to pick from an index", NULL},
    {0, "all-platforms", CLI_OPT_FLAG, &ro.all_platforms, NULL,
     "keep an index and all its platforms", NULL},
    {'q', "quiet", CLI_OPT_FLAG, &quiet, NULL, "no progress output", NULL},
    CLI_REGISTRY_OPTS(&ro),
    CLI_OPT_END,
};

static const struct cli_spec pull_spec = {
    .name = "pull",
    .args = "IMAGE",
    .summary = "pull an image from a registry",
    .text = "Fetches IMAGE (\"debian\" is docker.io/library/debian:latest; NAME@sha256:... pins a\n"
            "digest) into the store and tags it. For a multi-platform image, the manifest for\n"
            "--platform (default: this machine's) is pulled; --all-platforms keeps the index and\n"
            "every image it lists (so `kiln push` can send the whole index). Every blob and\n"
            "manifest is checked against its digest and size before it is stored. Prints the\n"
            "digest of what was tagged (the image manifest, or the index).\n"
            "Mirrors: KILN_REGISTRY_MIRRORS=\"docker.io=HOST[:PORT],...\" or mirrors.conf\n"
            "(see docs/registry.md).\n",
    .opts = pull_opts,
    .min_args = 1,
    .max_args = 1,
};

static int cmd_pull(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&pull_spec, argc, argv);
    if (first <= 0)
        return -first;
    struct kiln_error *err = NULL;
    cleanup_free char *root = cli_store_root(g);
    cleanup_store struct store *s = NULL;
    if (store_open(root, &s, &err) < 0)
        return cli_fail(err);
    struct cli_progress *p = cli_progress_new("Pulling", quiet);
    ro.progress = cli_progress_cb;
    ro.progress_ctx = p;
    struct registry_pull_result res = {0};
    int r = registry_pull(s, argv[first], &ro, &res, &err);
    cli_progress_free(p);
    if (r < 0)
        return cli_fail(err);
    if (!quiet)
        fprintf(stderr, "Pulled %s\n", res.name);
    printf("%s\n", res.manifest_digest);
    registry_pull_result_release(&res);
    return EXIT_OK;
}

const struct cli_command cli_cmd_pull = {
    .name = "pull",
    .run = cmd_pull,
    .spec = &pull_spec,
};
