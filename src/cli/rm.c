/* kiln rm: removes container records (and their writable layer). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/json.h"

static int force;

static const struct cli_opt rm_opts[] = {
    {'f', "force", CLI_OPT_FLAG, &force, NULL, "stop running containers first (SIGKILL)", NULL},
    CLI_OPT_END,
};

static const struct cli_spec rm_spec = {
    .name = "rm",
    .args = "NAME|ID...",
    .summary = "remove containers",
    .text = "Removes stopped containers and their writable layer; -f stops running ones\n"
            "first (SIGKILL).\n",
    .opts = rm_opts,
    .min_args = 1,
    .max_args = -1,
};

static int cmd_rm(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&rm_spec, argc, argv);
    if (first <= 0)
        return -first;
    cleanup_free char *root = cli_store_root(g);
    int ret = EXIT_OK;
    for (int i = first; i < argc; i++) {
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
        if (running && ctr_stop(root, id, 0, &err) < 0) {
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
    .spec = &rm_spec,
};
