/* kiln export: an image's layers applied in order (whiteouts applied) into
 * scratch space, written out as one tar of the flattened file system. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "cli/store_cmd.h"
#include "runtime/runtime.h"
#include "store/layer.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/platform.h"
#include "util/fs.h"
#include "util/strbuf.h"

static void warn_cb(void *ctx, const char *msg)
{
    (void)ctx;
    cli_warn("%s", msg);
}

static int flatten(struct store *s, const struct image *img, int dfd, struct kiln_error **err)
{
    struct layer_extract_opts xo = {
        .whiteouts = LAYER_WHITEOUT_FLATTEN, .allow_devices = true, .warn = warn_cb};
    for (size_t i = 0; i < img->n_layers; i++) {
        cleanup_close int fd = store_blob_open(s, &img->layers[i].blob.digest, err);
        if (fd < 0)
            return -1;
        struct digest got;
        if (layer_extract(fd, dfd, &xo, &got, err) < 0)
            return kiln_error_prefix(err, "layer %zu (sha256:%s)", i + 1,
                                     img->layers[i].blob.digest.hex);
        if (!digest_equal(&got, &img->layers[i].diffid))
            return kiln_error_set(err, KILN_E_DIGEST,
                                  "layer %zu: content is sha256:%s, the config says sha256:%s; "
                                  "run 'kiln fsck'",
                                  i + 1, got.hex, img->layers[i].diffid.hex);
    }
    return 0;
}

static const char *output, *platform;

static const struct cli_opt export_opts[] = {
    {'o', "output", CLI_OPT_STRING, &output, "FILE", "where to write the tar; - for stdout", NULL},
    {0, "platform", CLI_OPT_STRING, &platform, "P",
     "the image of an index (default: this machine's)", NULL},
    CLI_OPT_END,
};

static const struct cli_spec export_spec = {
    .name = "export",
    .args = "IMAGE -o FILE",
    .summary = "write an image's flattened file system as a tar",
    .text = "Writes the image's flattened file system (all layers applied,\n"
            "whiteouts resolved) as one tar archive.\n",
    .opts = export_opts,
    .min_args = 1,
    .max_args = 1,
};

static int cmd_export(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&export_spec, argc, argv);
    if (first <= 0)
        return -first;
    if (output == NULL)
        return cli_usage_error("export", "needs -o FILE (or -o - for stdout)");
    if (strcmp(output, "-") == 0 && isatty(1))
        return cli_usage_error("export", "refusing to write a tar to a terminal");

    struct kiln_error *err = NULL;
    /* Rootless, the layers are applied in the user namespace, where their
     * owners can be given (and read back into the tar). */
    cleanup_free char *root = NULL;
    int erc = cli_rootless_enter(g, &root);
    if (erc != 0)
        return erc;
    rt_rootless_owners_note();
    if (root == NULL)
        root = cli_store_root(g);
    cleanup_store struct store *s = NULL;
    cleanup_image struct image *img = NULL;
    struct platform want;
    if (platform != NULL && platform_parse(platform, &want, &err) < 0)
        return cli_fail(err);
    if (store_open(root, &s, &err) < 0 ||
        store_image_load_platform(s, argv[first], platform ? &want : NULL, &img, &err) < 0)
        return cli_fail(err);
    cleanup_free char *tmpl = xasprintf("%s/export.XXXXXX", store_scratch_dir(s));
    if (mkdtemp(tmpl) == NULL) {
        kiln_error_errno(&err, errno, "create scratch directory %s", tmpl);
        return cli_fail(err);
    }
    cleanup_free char *partial = NULL;
    cleanup_close int out = -1;
    int rc = -1;
    cleanup_close int dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || flatten(s, img, dfd, &err) < 0)
        goto done;
    if (strcmp(output, "-") == 0) {
        out = fcntl(1, F_DUPFD_CLOEXEC, 0);
    } else {
        out = output_open(output, 0644, &partial, &err);
        if (out < 0)
            goto done;
    }
    struct layer_write_opts wo = {.epoch = -1};
    if (layer_write_from_dir(dfd, &wo, byte_sink_fd(out), NULL, NULL, &err) < 0)
        goto done;
    if (strcmp(output, "-") != 0 && output_commit(out, partial, output, &err) < 0)
        goto done;
    rc = 0;
done:
    if (rc < 0)
        output_abort(partial);
    rm_rf(tmpl, NULL);
    return rc < 0 ? cli_fail(err) : EXIT_OK;
}

const struct cli_command cli_cmd_export = {
    .name = "export",
    .run = cmd_export,
    .spec = &export_spec,
};
