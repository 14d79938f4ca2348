/* kiln sbom IMAGE: the image's software bill of materials, read from its
 * layers without running it (sbom/sbom.h), as SPDX 2.3 JSON, CycloneDX 1.5
 * JSON or a table; or, with --attached, the SBOM stored with the image as an
 * OCI referrer (kiln build --sbom, kiln pull). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "cli/store_cmd.h"
#include "sbom/sbom.h"
#include "store/referrers.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/platform.h"
#include "util/strbuf.h"

/* Writes data to path (write_output_file: a regular file atomically, a device
 * or a FIFO in place) or stdout. */
static int write_out(const char *path, const char *data, size_t len)
{
    if (path == NULL || strcmp(path, "-") == 0) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
            cli_warn("writing the SBOM to stdout: %s", strerror(errno));
            return EXIT_FAIL;
        }
        return EXIT_OK;
    }
    struct kiln_error *err = NULL;
    if (write_output_file(path, data, len, 0644, &err) < 0)
        return cli_fail(err);
    return EXIT_OK;
}

/* The SBOM attached to what (of an index: to its image for platform, NULL:
 * this machine's). */
static int attached(struct store *s, const char *what, const char *platform, const char *format,
                    const char *out)
{
    if (strcmp(format, "table") == 0)
        return cli_usage_error("sbom", "--attached gives the stored document: --format "
                                       "spdx-json or cyclonedx-json");
    const char *mt = strcmp(format, "spdx-json") == 0 ? SBOM_MT_SPDX : SBOM_MT_CYCLONEDX;
    struct kiln_error *err = NULL;
    struct platform want;
    if (platform != NULL && platform_parse(platform, &want, &err) < 0)
        return cli_fail(err);
    char *doc = NULL;
    size_t len = 0;
    if (referrers_read_artifact(s, what, platform ? &want : NULL, mt, &doc, &len, &err) < 0)
        return cli_fail(err);
    int rc = write_out(out, doc, len);
    free(doc);
    return rc;
}

static const char *format = "spdx-json", *out, *platform;
static int want_attached;

static const struct cli_opt sbom_opts[] = {
    {'f', "format", CLI_OPT_STRING, &format, "FORMAT",
     "spdx-json (default, SPDX 2.3), cyclonedx-json (1.5) or table", NULL},
    {'o', "output", CLI_OPT_STRING, &out, "FILE", "write to FILE instead of stdout", NULL},
    {0, "platform", CLI_OPT_STRING, &platform, "P",
     "the image of platform P (os/arch) of a multi-platform tag", NULL},
    {0, "attached", CLI_OPT_FLAG, &want_attached, NULL,
     "print the SBOM attached to the image (kiln build --sbom,\n"
     "kiln pull) instead of reading the layers; of a\n"
     "multi-platform tag, the one of --platform's image\n"
     "(default: this machine's)",
     NULL},
    CLI_OPT_END,
};

static const struct cli_spec sbom_spec = {
    .name = "sbom",
    .args = "IMAGE",
    .summary = "list what is in an image as an SBOM (SPDX, CycloneDX), without running it",
    .text = "Reads the image's layers (no container is started) and writes its software bill\n"
            "of materials: the OS (/etc/os-release), Debian packages (/var/lib/dpkg/status and\n"
            "status.d/) with source package and licenses (machine-readable\n"
            "/usr/share/doc/*/copyright), Python distributions (*.dist-info, *.egg-info),\n"
            "npm packages (node_modules/**/package.json) and the executables and shared\n"
            "libraries under /usr/local and /opt that no package owns, with their sha256.\n"
            "The same image gives the same bytes: identifiers derive from the image id and\n"
            "the time is the image's created time. Skipped entries are warned about on stderr.\n\n"
            "Examples:\n"
            "  kiln sbom dataenv:latest-prod -f cyclonedx-json -o sbom.cdx.json\n"
            "  kiln sbom --attached registry.example:5000/dataenv:latest-prod\n"
            "  kiln sbom --attached --platform linux/arm64 dataenv:latest-prod\n",
    .opts = sbom_opts,
    .min_args = 1,
    .max_args = 1,
};

static int cmd_sbom(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&sbom_spec, argc, argv);
    if (first <= 0)
        return -first;
    if (strcmp(format, "spdx-json") != 0 && strcmp(format, "cyclonedx-json") != 0 &&
        strcmp(format, "table") != 0)
        return cli_usage_error(
            "sbom", "--format must be spdx-json, cyclonedx-json or table, not \"%s\"", format);
    const char *what = argv[first];

    /* rootless, the image's snapshots unpack in the user namespace */
    cleanup_free char *root = NULL;
    int rc = cli_rootless_enter(g, &root);
    if (rc != 0)
        return rc;
    cleanup_store struct store *s = NULL;
    rc = cli_store_open(g, &s);
    if (rc != 0)
        return rc;
    if (want_attached)
        return attached(s, what, platform, format, out);

    struct kiln_error *err = NULL;
    cleanup_sbom struct sbom *sb = NULL;
    if (sbom_from_image(s, what, platform, &sb, &err) < 0)
        return cli_fail(err);
    for (size_t i = 0; i < sb->n_warnings; i++)
        cli_warn("%s", sb->warnings[i]);

    if (strcmp(format, "table") == 0) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f == NULL)
            return cli_fail(NULL);
        sbom_write_table(sb, f);
        fclose(f);
        rc = write_out(out, buf, len);
        free(buf);
        return rc;
    }
    cleanup_json json_t *doc =
        strcmp(format, "spdx-json") == 0 ? sbom_write_spdx(sb) : sbom_write_cyclonedx(sb);
    cleanup_free char *text = sbom_dump(doc);
    return write_out(out, text, strlen(text));
}

const struct cli_command cli_cmd_sbom = {
    .name = "sbom",
    .run = cmd_sbom,
    .spec = &sbom_spec,
};
