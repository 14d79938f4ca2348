/* kiln stop: the image's STOPSIGNAL, then SIGKILL after a grace period
 * (ctr_stop, runtime/container.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

static long stop_timeout = 10;

static const struct cli_opt stop_opts[] = {
    {'t', "time", CLI_OPT_LONG, &stop_timeout, "SECONDS", "grace period before SIGKILL (10)", NULL},
    CLI_OPT_END,
};

static const struct cli_spec stop_spec = {
    .name = "stop",
    .args = "NAME|ID...",
    .summary = "stop running containers",
    .text = "Sends the image's STOPSIGNAL (default SIGTERM) to the container, then SIGKILL\n"
            "if it is still running after -t seconds (default 10).\n",
    .opts = stop_opts,
    .min_args = 1,
    .max_args = -1,
};

static int cmd_stop(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&stop_spec, argc, argv);
    if (first <= 0)
        return -first;
    cleanup_free char *root = cli_store_root(g);
    int ret = EXIT_OK;
    for (int i = first; i < argc; i++) {
        cleanup_free char *id = NULL;
        struct kiln_error *err = NULL;
        if (ctr_find(root, argv[i], &id, &err) < 0 || ctr_stop(root, id, stop_timeout, &err) < 0) {
            ret = cli_fail(err);
            continue;
        }
        printf("%s\n", argv[i]);
    }
    return ret;
}

const struct cli_command cli_cmd_stop = {
    .name = "stop",
    .run = cmd_stop,
    .spec = &stop_spec,
};
