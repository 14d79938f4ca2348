/* What kiln kube's subcommands (src/cli/kube.c, kube_play.c) share. */
#ifndef KILN_CLI_KUBE_CLI_H
#define KILN_CLI_KUBE_CLI_H

#include "cli/cli.h"

/* The uid an image's USER names: 0 for none or root, -1 for a name (which only
 * the image's /etc/passwd could resolve; the kubelet refuses those too). */
long long kube_cli_image_uid(const char *user);

/* kiln kube play FILE ("-": standard input); down: remove what it made. */
int kube_play(struct cli_global *g, const char *file, int down);

#endif
