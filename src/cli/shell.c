/* kiln shell: an interactive login shell in a new container from an image, as
 * the image's user (the login shell from the image's /etc/passwd, else bash,
 * else sh). Options before IMAGE are kiln run's. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/strbuf.h"

extern const struct cli_command cli_cmd_run;

/* Runs inside the container: find the user's login shell and exec it. */
static const char login_script[] =
    "u=$(id -un 2>/dev/null || id -u); "
    "s=$(grep \"^$u:\" /etc/passwd 2>/dev/null | cut -d: -f7); "
    "for c in \"$s\" /bin/bash /bin/sh; do "
    "[ -n \"$c\" ] && [ -x \"$c\" ] && case \"$c\" in */nologin|*/false) ;; *) exec \"$c\" -l;; "
    "esac; done; exec /bin/sh";

static int cmd_shell(struct cli_global *g, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(cli_cmd_run.usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    char **v = xcalloc((size_t)argc + 8, sizeof(char *));
    int n = 0;
    v[n++] = "run";
    v[n++] = "--rm";
    v[n++] = "-i";
    if (isatty(0))
        v[n++] = "-t";
    /* The image is the last argument; what comes before it are run options. */
    for (int i = 1; i < argc - 1; i++)
        v[n++] = argv[i];
    v[n++] = "--entrypoint";
    v[n++] = "/bin/sh";
    v[n++] = argv[argc - 1];
    v[n++] = "-c";
    v[n++] = (char *)login_script;
    v[n] = NULL;
    optind = 0;
    int r = cli_cmd_run.run(g, n, v);
    free(v);
    return r;
}

const struct cli_command cli_cmd_shell = {
    .name = "shell",
    .run = cmd_shell,
    .summary = "open an interactive login shell in a new container",
    .usage = "Usage: kiln shell [RUN OPTIONS] IMAGE\n\n"
             "Starts a throw-away container from IMAGE and opens the image user's login\n"
             "shell in it (a terminal when stdin is one). Options are kiln run's, e.g.\n"
             "-v $PWD:/workspace -w /workspace -u root.\n",
};
