/* kiln rm: removes container records (and their writable layer). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/json.h"

int cli_stop_container(const char *root, const char *id, long timeout_s, struct kiln_error **err);

static int cmd_rm(struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
    int force = 0, c;
    while ((c = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
        if (c == 'f')
            force = 1;
        else
            return cli_usage_error("rm", "unknown option");
    }
    if (optind >= argc)
        return cli_usage_error("rm", "give at least one container");
    cleanup_free char *root = cli_store_root(g);
    int ret = EXIT_OK;
    for (int i = optind; i < argc; i++) {
        cleanup_free char *id = NULL;
        struct kiln_error *err = NULL;
        if (ctr_find(root, argv[i], &id, &err) < 0) {
            ret = cli_fail(err);
            continue;
        }
        json_t *st = ctr_load_state(root, id, NULL);
        const char *s = st ? json_get_str(st, "Status") : NULL;
        int running = s && (strcmp(s, "running") == 0 || strcmp(s, "restarting") == 0);
        json_decref(st);
        if (running && !force) {
            fprintf(stderr,
                    "kiln: container %s is running; stop it first (kiln stop %s) or use rm -f\n",
                    argv[i], argv[i]);
            ret = EXIT_FAIL;
            continue;
        }
        if (running && cli_stop_container(root, id, 0, &err) < 0) {
            ret = cli_fail(err);
            continue;
        }
        if (ctr_remove(root, id, &err) < 0) {
            ret = cli_fail(err);
            continue;
        }
        printf("%s\n", argv[i]);
    }
    return ret;
}

const struct cli_command cli_cmd_rm = {
    .name = "rm",
    .run = cmd_rm,
    .summary = "remove containers",
    .usage = "Usage: kiln rm [-f] NAME|ID...\n\n"
             "Removes stopped containers and their writable layer; -f stops running ones\n"
             "first (SIGKILL).\n",
};
