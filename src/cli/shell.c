/* kiln shell: an interactive login shell in a new container from an image, as
 * the image's user (the login shell from the image's /etc/passwd, else bash,
 * else sh). Options before IMAGE are kiln run's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "util/strbuf.h"

/* Runs inside the container: find the user's login shell and exec it. */
static const char login_script[] =
    "u=$(id -un 2>/dev/null || id -u); "
    "s=$(grep \"^$u:\" /etc/passwd 2>/dev/null | cut -d: -f7); "
    "for c in \"$s\" /bin/bash /bin/sh; do "
    "[ -n \"$c\" ] && [ -x \"$c\" ] && case \"$c\" in */nologin|*/false) ;; *) exec \"$c\" -l;; "
    "esac; done; exec /bin/sh";

static const struct cli_spec shell_spec = {
    .name = "shell",
    .args = "IMAGE",
    .summary = "open an interactive login shell in a new container",
    .text = "Starts a throw-away container from IMAGE and opens the image user's login\n"
            "shell in it (a terminal when stdin is one). The options are kiln run's, e.g.\n"
            "-v $PWD:/workspace -w /workspace -u root.\n",
    .opts = cli_run_opts,
    .min_args = 1,
    .max_args = 1,
    .flags = CLI_SPEC_STOP_AT_OPERAND,
};

static int cmd_shell(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&shell_spec, argc, argv);
    if (first <= 0)
        return -first;
    cli_run_as_shell("/bin/sh");
    char *v[] = {argv[first], "-c", (char *)login_script, NULL};
    return cli_run_parsed(g, 3, v, 0);
}

const struct cli_command cli_cmd_shell = {
    .name = "shell",
    .run = cmd_shell,
    .spec = &shell_spec,
};
