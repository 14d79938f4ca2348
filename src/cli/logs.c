/* kiln logs: what a detached container wrote to stdout and stderr. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

static int copy_available(int fd)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        if (write_all(1, buf, (size_t)n) < 0)
            return -1;
    return n < 0 && errno != EINTR ? -1 : 0;
}

static int follow;

static const struct cli_opt logs_opts[] = {
    {'f', "follow", CLI_OPT_FLAG, &follow, NULL, "keep following until the container exits", NULL},
    CLI_OPT_END,
};

static const struct cli_spec logs_spec = {
    .name = "logs",
    .args = "NAME|ID",
    .summary = "print a detached container's output",
    .text = "Prints what the container wrote to stdout and stderr; -f keeps following\n"
            "until the container exits.\n",
    .opts = logs_opts,
    .min_args = 1,
    .max_args = 1,
};

static int cmd_logs(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&logs_spec, argc, argv);
    if (first <= 0)
        return -first;
    cleanup_free char *root = cli_store_root(g);
    cleanup_free char *id = NULL;
    struct kiln_error *err = NULL;
    if (ctr_find(root, argv[first], &id, &err) < 0)
        return cli_fail(err);
    cleanup_free char *dir = ctr_dir(root, id);
    cleanup_free char *logp = xasprintf("%s/ctr.log", dir);
    cleanup_close int fd = open(logp, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? EXIT_OK : cli_fail(NULL);
    if (copy_available(fd) < 0)
        return EXIT_FAIL;
    while (follow) {
        int alive = ctr_supervisor_alive(root, id);
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
        if (copy_available(fd) < 0)
            return EXIT_FAIL;
        if (!alive)
            break;
    }
    return EXIT_OK;
}

const struct cli_command cli_cmd_logs = {
    .name = "logs",
    .run = cmd_logs,
    .spec = &logs_spec,
};
