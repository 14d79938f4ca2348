/* kiln port: a container's published ports, as `docker port` prints them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "net/net.h"
#include "runtime/container.h"
#include "util/cleanup.h"

static int cmd_port(struct cli_global *g, int argc, char **argv)
{
    if (argc < 2 || argc > 3 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
        return argc == 2
                   ? cli_print_help("port")
                   : cli_usage_error("port", "give a container and optionally a PORT[/PROTO]");
    cleanup_free char *root = cli_store_root(g);
    cleanup_free char *id = NULL;
    struct kiln_error *err = NULL;
    if (ctr_find(root, argv[1], &id, &err) < 0)
        return cli_fail(err);
    json_t *cfg = ctr_load_config(root, id, &err);
    if (cfg == NULL)
        return cli_fail(err);
    struct net_port *p;
    size_t n;
    net_ports_from_json(json_object_get(cfg, "Ports"), &p, &n);
    json_decref(cfg);
    cleanup_free char *lines = net_ports_lines(p, n);
    free(p);
    if (argc == 3) {
        /* "8000" or "8000/tcp": only that port's lines, without the key. */
        char want[32];
        snprintf(want, sizeof(want), "%s%s -> ", argv[2], strchr(argv[2], '/') ? "" : "/tcp");
        int found = 0;
        for (char *l = lines; l && *l;) {
            char *nl = strchr(l, '\n');
            if (nl)
                *nl = '\0';
            if (strncmp(l, want, strlen(want)) == 0) {
                printf("%s\n", l + strlen(want));
                found = 1;
            }
            l = nl ? nl + 1 : NULL;
        }
        if (!found) {
            fprintf(stderr, "kiln: no public port %s published for %s\n", argv[2], argv[1]);
            return EXIT_FAIL;
        }
        return EXIT_OK;
    }
    fputs(lines, stdout);
    return EXIT_OK;
}

const struct cli_command cli_cmd_port = {
    .name = "port",
    .run = cmd_port,
    .summary = "list a container's published ports",
    .usage = "Usage: kiln port CONTAINER [PORT[/PROTO]]\n\n"
             "Prints one line per published port, \"8000/tcp -> 127.0.0.1:18080\"; with PORT,\n"
             "only the host address it is published on.\n\n"
             "Example:\n"
             "  kiln run -d --name web -p 127.0.0.1::8000 dataenv:latest-prod\n"
             "  kiln port web 8000     # 127.0.0.1:41235\n",
};
