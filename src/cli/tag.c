/* kiln tag SOURCE TARGET: gives an image in the store another name. */
#include <stdio.h>
#include <string.h>

#include "cli/store_cmd.h"
#include "cli/opt.h"
#include "util/cleanup.h"

static const struct cli_spec tag_spec = {
    .name = "tag",
    .args = "SOURCE TARGET",
    .summary = "give an image another name",
    .text = "Tags the image SOURCE (a name, an image id or a manifest digest) as TARGET\n"
            "(NAME[:TAG], ':latest' when no tag is given). An existing TARGET moves.\n",
    .min_args = 2,
    .max_args = 2,
};

static int cmd_tag(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&tag_spec, argc, argv);
    if (first <= 0)
        return -first;
    const char *source = argv[first], *target_name = argv[first + 1];
    cleanup_store struct store *s = NULL;
    int rc = cli_store_open(g, &s);
    if (rc != 0)
        return rc;
    struct kiln_error *err = NULL;
    struct descriptor target = {0};
    /* A name keeps whatever it points at (an index stays an index); an id or
     * digest names the image manifest. */
    if (store_resolve_tag(s, source, &target, NULL) < 0) {
        cleanup_image struct image *img = NULL;
        if (store_image_load(s, source, &img, &err) < 0)
            return cli_fail(err);
        descriptor_copy(&target, &img->manifest);
    }
    rc = store_tag(s, target_name, &target, &err);
    descriptor_release(&target);
    return rc < 0 ? cli_fail(err) : EXIT_OK;
}

const struct cli_command cli_cmd_tag = {
    .name = "tag",
    .run = cmd_tag,
    .spec = &tag_spec,
};
