/* kiln tag SOURCE TARGET: gives an image in the store another name. */
#include <stdio.h>
#include <string.h>

#include "cli/store_cmd.h"
#include "util/cleanup.h"

static int cmd_tag(struct cli_global *g, int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return cli_print_help("tag");
    if (argc != 3)
        return cli_usage_error("tag", "needs exactly SOURCE and TARGET");
    cleanup_store struct store *s = NULL;
    int rc = cli_store_open(g, &s);
    if (rc != 0)
        return rc;
    struct kiln_error *err = NULL;
    struct descriptor target = {0};
    /* A name keeps whatever it points at (an index stays an index); an id or
     * digest names the image manifest. */
    if (store_resolve_tag(s, argv[1], &target, NULL) < 0) {
        cleanup_image struct image *img = NULL;
        if (store_image_load(s, argv[1], &img, &err) < 0)
            return cli_fail(err);
        descriptor_copy(&target, &img->manifest);
    }
    rc = store_tag(s, argv[2], &target, &err);
    descriptor_release(&target);
    return rc < 0 ? cli_fail(err) : EXIT_OK;
}

const struct cli_command cli_cmd_tag = {
    .name = "tag",
    .run = cmd_tag,
    .summary = "give an image another name",
    .usage = "Usage: kiln tag SOURCE TARGET\n\n"
             "Tags the image SOURCE (a name, an image id or a manifest digest) as TARGET\n"
             "(NAME[:TAG], ':latest' when no tag is given). An existing TARGET moves.\n",
};
