/* kiln version: what this binary is and what it was built with. */
#include <archive.h>
#include <curl/curlver.h>
#include <jansson.h>
#include <openssl/opensslv.h>
#include <stdio.h>
#include <zstd.h>

#include "cli/cli.h"
#include "cli/opt.h"

static const struct cli_spec version_spec = {
    .name = "version",
    .summary = "print kiln's version and the libraries it was built with",
    .text = "Prints kiln's version and the versions of the libraries it uses.\n",
    .max_args = 0,
};

static int cmd_version(struct cli_global *g, int argc, char **argv)
{
    (void)g;
    int first = cli_parse(&version_spec, argc, argv);
    if (first <= 0)
        return -first;
    printf("kiln version %s\n", KILN_VERSION);
    /* The headers' versions, like jansson's and OpenSSL's: asking libcurl or
     * libarchive would load them (and their ~37 dependencies) for nothing. */
    printf("  libarchive %s, libcurl %s, jansson %s, %s, zstd %s\n", ARCHIVE_VERSION_ONLY_STRING,
           LIBCURL_VERSION, JANSSON_VERSION, OPENSSL_VERSION_TEXT, ZSTD_versionString());
    return EXIT_OK;
}

const struct cli_command cli_cmd_version = {
    .name = "version",
    .run = cmd_version,
    .spec = &version_spec,
};
