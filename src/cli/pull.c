/* kiln pull: an image from a registry into the store. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/registry_opts.h"
#include "cli/registry_progress.h"
#include "registry/registry.h"
#include "store/store.h"
#include "util/cleanup.h"

static int cmd_pull(struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_REGISTRY_LONGOPTS,
        {"quiet", no_argument, NULL, 'q'},
        {"all-platforms", no_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct registry_opts ro = {0};
    int quiet = 0, c;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = 1;
            break;
        case 'A':
            ro.all_platforms = 1;
            break;
        case 'h':
            return cli_print_help("pull");
        default:
            if (cli_registry_opt(c, optarg, &ro) == 0)
                break;
            return cli_usage_error("pull", "invalid option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("pull", "expects exactly one IMAGE");
    struct kiln_error *err = NULL;
    cleanup_free char *root = cli_store_root(g);
    cleanup_store struct store *s = NULL;
    if (store_open(root, &s, &err) < 0)
        return cli_fail(err);
    struct cli_progress *p = cli_progress_new("Pulling", quiet);
    ro.progress = cli_progress_cb;
    ro.progress_ctx = p;
    struct registry_pull_result res = {0};
    int r = registry_pull(s, argv[optind], &ro, &res, &err);
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
    .summary = "pull an image from a registry",
    .usage =
        "Usage: kiln pull [OPTIONS] IMAGE\n\n"
        "Fetches IMAGE (\"debian\" is docker.io/library/debian:latest; NAME@sha256:... pins a\n"
        "digest) into the store and tags it. For a multi-platform image, the manifest for\n"
        "--platform (default: this machine's) is pulled; --all-platforms keeps the index and\n"
        "every image it lists (so `kiln push` can send the whole index). Every blob and\n"
        "manifest is checked against its digest and size before it is stored. Prints the\n"
        "digest of what was tagged (the image manifest, or the index).\n"
        "Mirrors: KILN_REGISTRY_MIRRORS=\"docker.io=HOST[:PORT],...\" or mirrors.conf\n"
        "(see docs/registry.md).\n\n"
        "Options:\n"
        "  --platform OS/ARCH[/VARIANT]  platform to pick from an index\n"
        "  --all-platforms       keep an index and all its platforms\n"
        "  -q, --quiet           no progress output\n" CLI_REGISTRY_HELP,
};
