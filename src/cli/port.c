/* kiln port: a container's published ports, as `docker port` prints them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "net/net.h"
#include "runtime/container.h"
#include "util/cleanup.h"

static const struct cli_spec port_spec = {
    .name = "port",
    .args = "CONTAINER [PORT[/PROTO]]",
    .summary = "list a container's published ports",
    .text = "Prints one line per published port, \"8000/tcp -> 127.0.0.1:18080\"; with PORT,\n"
            "only the host address it is published on.\n\n"
            "Example:\n"
            "  kiln run -d --name web -p 127.0.0.1::8000 dataenv:latest-prod\n"
            "  kiln port web 8000     # 127.0.0.1:41235\n",
    .min_args = 1,
    .max_args = 2,
};

static int cmd_port(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&port_spec, argc, argv);
    if (first <= 0)
        return -first;
    const char *name = argv[first], *port = first + 1 < argc ? argv[first + 1] : NULL;
    cleanup_free char *root = cli_store_root(g);
    cleanup_free char *id = NULL;
    struct kiln_error *err = NULL;
    if (ctr_find(root, name, &id, &err) < 0)
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
    if (port != NULL) {
        /* "8000" or "8000/tcp": only that port's lines, without the key. */
        char want[32];
        snprintf(want, sizeof(want), "%s%s -> ", port, strchr(port, '/') ? "" : "/tcp");
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
            fprintf(stderr, "kiln: no public port %s published for %s\n", port, name);
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
    .spec = &port_spec,
};
