/* kiln push: an image from the store to a registry. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/registry_opts.h"
#include "cli/registry_progress.h"
#include "registry/registry.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/fs.h"

static int cmd_push(struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_REGISTRY_LONGOPTS,
        {"digestfile", required_argument, NULL, 'D'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct registry_opts ro = {0};
    const char *digestfile = NULL;
    int quiet = 0, c;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = 1;
            break;
        case 'D':
            digestfile = optarg;
            break;
        case 'h':
            return cli_print_help("push");
        default:
            if (c != CLI_OPT_PLATFORM && cli_registry_opt(c, optarg, &ro) == 0)
                break;
            return cli_usage_error("push", "invalid option");
        }
    }
    if (optind + 1 != argc && optind + 2 != argc)
        return cli_usage_error("push", "expects IMAGE [DESTINATION]");
    const char *src = argv[optind], *dest = optind + 1 < argc ? argv[optind + 1] : NULL;
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
    if (digestfile != NULL && write_file_atomic(digestfile, digest, strlen(digest), 0644, &err) < 0)
        return cli_fail(err);
    printf("%s\n", digest);
    return EXIT_OK;
}

const struct cli_command cli_cmd_push = {
    .name = "push",
    .run = cmd_push,
    .summary = "push an image to a registry",
    .usage = "Usage: kiln push [OPTIONS] IMAGE [DESTINATION]\n\n"
             "Uploads IMAGE from the store to its registry, or to DESTINATION\n"
             "(HOST[:PORT]/NAME[:TAG]). Uncompressed layers are sent gzip-compressed (computed\n"
             "once and remembered). Blobs the registry has are skipped, blobs in another\n"
             "repository of the same registry are mounted. Prints the pushed manifest digest.\n\n"
             "Options:\n"
             "  --digestfile FILE     also write the digest to FILE\n"
             "  -q, --quiet           no progress output\n"
             "  --tls-verify=false    skip TLS certificate checks and allow plain HTTP\n"
             "  --cert-dir DIR        trust the CA certificates (*.crt) in DIR\n"
             "  --authfile FILE       credentials file (default ~/.docker/config.json)\n",
};
