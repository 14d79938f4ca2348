/* kiln pod: network namespaces several containers share (podman's pods):
 * create (with published ports), rm, ps. Containers join with
 * `kiln run --pod NAME`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "net/net.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

static const char *create_name;
static struct net_port *create_ports;
static size_t n_create_ports;

static int opt_publish(void *ctx, const struct cli_opt *opt, const char *arg)
{
    (void)ctx;
    (void)opt;
    struct kiln_error *err = NULL;
    create_ports = xrealloc(create_ports, (n_create_ports + 1) * sizeof(*create_ports));
    if (net_parse_publish(arg, &create_ports[n_create_ports], &err) < 0)
        return cli_fail(err);
    n_create_ports++;
    return 0;
}

static const struct cli_opt create_opts[] = {
    {'n', "name", CLI_OPT_STRING, &create_name, "NAME", "the pod's name (default: generated)",
     NULL},
    {'p', "publish", CLI_OPT_FUNC, NULL, "[IP:][HOSTPORT:]PORT[/PROTO]",
     "publish a port of the pod's network on the host (repeatable)", opt_publish},
    CLI_OPT_END,
};

static const struct cli_spec create_spec = {
    .name = "pod create",
    .summary = "create a pod (its network namespace and published ports)",
    .opts = create_opts,
    .max_args = 0,
};

static int rm_force;

static const struct cli_opt rm_opts[] = {
    {'f', "force", CLI_OPT_FLAG, &rm_force, NULL, "stop and remove the pod's containers first",
     NULL},
    CLI_OPT_END,
};

static const struct cli_spec rm_spec = {
    .name = "pod rm",
    .args = "NAME...",
    .summary = "stop and remove pods (-f: their containers too)",
    .opts = rm_opts,
    .min_args = 1,
    .max_args = -1,
};

static const struct cli_spec ps_spec = {
    .name = "pod ps",
    .summary = "list pods (also: pod ls)",
    .max_args = 0,
};

static const struct cli_spec *const pod_subcommands[] = {&create_spec, &rm_spec, &ps_spec, NULL};

static const struct cli_spec pod_spec = {
    .name = "pod",
    .args = "COMMAND [ARGS...]",
    .summary = "create, list and remove pods (containers sharing one network)",
    .text = "A pod is a private network namespace (with slirp4netns for outbound traffic,\n"
            "kiln's forwarder for its ports) that containers join with `kiln run --pod NAME`: they\n"
            "reach each other on 127.0.0.1 and by name (each container's /etc/hosts names\n"
            "the pod's containers). pod rm stops the pod; -f stops and removes its\n"
            "containers first (without -f a running one is an error).\n\n"
            "Example:\n"
            "  kiln pod create --name web -p 127.0.0.1:8080:8000\n"
            "  kiln run -d --pod web --name api dataenv:latest-prod\n"
            "  kiln run --rm --pod web dataenv:latest-prod curl -s api:8000/health\n"
            "  kiln pod rm -f web\n",
    .min_args = 1,
    .max_args = -1,
    .flags = CLI_SPEC_STOP_AT_OPERAND,
};

static int pod_create_cmd(const char *root, int argc, char **argv)
{
    int first = cli_parse(&create_spec, argc, argv);
    if (first <= 0)
        return -first;
    const char *name = create_name;
    struct net_port *ports = create_ports;
    size_t n = n_create_ports;
    struct kiln_error *err = NULL;
    char *made = NULL;
    if ((n > 0 && net_ports_reserve(&ports, &n, &err) < 0) ||
        pod_create(root, name, ports, n, runtime_map_ids, NULL, &made, &err) < 0) {
        free(ports);
        return cli_fail(err);
    }
    printf("%s\n", made);
    free(made);
    free(ports);
    return EXIT_OK;
}

/* The pod's containers: stopped first with -f; a running one without -f is
 * an error. Their records go with the pod. */
static int remove_members(const char *root, const char *pod, int force, struct kiln_error **err)
{
    char **ids;
    size_t n;
    if (ctr_list(root, &ids, &n, err) < 0)
        return -1;
    int ret = 0;
    for (int pass = 0; pass < 2 && ret == 0; pass++)
        for (size_t i = 0; i < n && ret == 0; i++) {
            json_t *cfg = ctr_load_config(root, ids[i], NULL);
            const char *p = cfg ? json_get_str(cfg, "Pod") : NULL;
            int member = p && strcmp(p, pod) == 0;
            json_decref(cfg);
            if (!member)
                continue;
            json_t *st = ctr_load_state(root, ids[i], NULL);
            const char *s = st ? json_get_str(st, "Status") : NULL;
            int running = s && strcmp(s, "running") == 0;
            json_decref(st);
            if (pass == 0) {
                if (running && !force)
                    ret = kiln_error_set(err, KILN_E_INVALID,
                                         "pod %s has running container %.12s; stop it or use "
                                         "pod rm -f",
                                         pod, ids[i]);
                continue;
            }
            if (running && ctr_stop(root, ids[i], 0, err) < 0)
                ret = -1;
            else if (ctr_remove(root, ids[i], err) < 0)
                ret = -1;
        }
    ctr_list_free(ids, n);
    return ret;
}

static int pod_rm_cmd(const char *root, int argc, char **argv)
{
    int first = cli_parse(&rm_spec, argc, argv);
    if (first <= 0)
        return -first;
    int force = rm_force, ret = EXIT_OK;
    int i = first;
    for (; i < argc; i++) {
        struct kiln_error *err = NULL;
        json_t *pod = pod_load(root, argv[i], &err);
        if (pod == NULL || remove_members(root, argv[i], force, &err) < 0 ||
            pod_remove(root, argv[i], &err) < 0) {
            json_decref(pod);
            ret = cli_fail(err);
            continue;
        }
        json_decref(pod);
        printf("%s\n", argv[i]);
    }
    return ret;
}

static int pod_ps_cmd(const char *root)
{
    char **names;
    size_t n;
    struct kiln_error *err = NULL;
    if (pod_list(root, &names, &n, &err) < 0)
        return cli_fail(err);
    printf("%-24s  %-10s  %s\n", "NAME", "STATUS", "PORTS");
    for (size_t i = 0; i < n; i++) {
        json_t *pod = pod_load(root, names[i], NULL);
        if (pod == NULL)
            continue;
        struct net_port *p;
        size_t np;
        net_ports_from_json(json_object_get(pod, "Ports"), &p, &np);
        cleanup_free char *ports = net_ports_describe(p, np);
        free(p);
        printf("%-24s  %-10s  %s\n", names[i], json_get_str(pod, "Status"), ports);
        json_decref(pod);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return EXIT_OK;
}

static int cmd_pod(struct cli_global *g, int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return cli_print_help("pod"); /* with the list of subcommands */
    int first = cli_parse(&pod_spec, argc, argv);
    if (first <= 0)
        return -first;
    cleanup_free char *root = cli_store_root(g);
    const char *sub = argv[first];
    argc -= first;
    argv += first;
    if (strcmp(sub, "create") == 0)
        return pod_create_cmd(root, argc, argv);
    if (strcmp(sub, "rm") == 0)
        return pod_rm_cmd(root, argc, argv);
    if (strcmp(sub, "ps") == 0 || strcmp(sub, "ls") == 0) {
        int r = cli_parse(&ps_spec, argc, argv);
        return r <= 0 ? -r : pod_ps_cmd(root);
    }
    return cli_usage_error("pod", "unknown subcommand %s (create, rm, ps)", sub);
}

const struct cli_command cli_cmd_pod = {
    .name = "pod",
    .run = cmd_pod,
    .spec = &pod_spec,
    .subcommands = pod_subcommands,
};
