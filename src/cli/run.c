/* kiln run: a container from an image, as `docker run` does it. Options stop
 * at the image name; everything after it is the command. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "net/net.h"
#include "runtime/container.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "runtime/binfmt.h"
#include "util/fs.h"
#include "util/platform.h"
#include "util/strbuf.h"

int run_fail(struct kiln_error *err, int status)
{
    fprintf(stderr, "kiln: %s\n", err && err->msg ? err->msg : "failed");
    kiln_error_free(err);
    return status >= RT_EXIT_SETUP && status <= RT_EXIT_NOTFOUND ? status : RT_EXIT_SETUP;
}

int run_image_open(const char *root, const char *name, struct run_image *ri, struct launch_opts *o,
                   struct kiln_error **err)
{
    memset(ri, 0, sizeof(*ri));
    if (store_open_reader(root, &ri->store, err) < 0)
        return -1;
    struct platform want;
    if (o->platform != NULL &&
        (platform_parse(o->platform, &want, err) < 0 || platform_check_buildable(&want, err) < 0))
        return -1;
    if (store_image_load_platform(ri->store, name, o->platform ? &want : NULL, &ri->img, err) < 0)
        return -1;
    /* a foreign image runs under QEMU: its binfmt_misc handler must be there */
    struct platform have;
    if (platform_from_json(ri->img->config_json, &have) == 0 && binfmt_ensure(&have, err) < 0)
        return kiln_error_prefix(err, "image %s", name);
    size_t n = ri->img->n_layers;
    ri->lowerdirs = xcalloc(n + 1, sizeof(char *));
    ri->holds = xcalloc(n + 1, sizeof(int));
    for (size_t i = 0; i < n; i++)
        ri->holds[i] = -1;
    ri->n_lowerdirs = n;
    for (size_t i = 0; i < n; i++) {
        const struct image_layer *l = &ri->img->layers[i];
        /* The hold keeps prune off the snapshot for as long as this process
         * (for -d: the supervisor, which inherits it) lives, even where prune
         * cannot see the container's mounts (another pid namespace). A prune
         * that won the race removed it: unpack it again, once. */
        for (int attempt = 0; attempt < 2 && ri->holds[i] < 0; attempt++) {
            char *p = NULL;
            if (store_snapshot_ensure(ri->store, l, &p, err) < 0)
                return kiln_error_prefix(err, "image %s", name);
            free(ri->lowerdirs[n - 1 - i]);
            ri->lowerdirs[n - 1 - i] = p; /* overlay wants the top layer first */
            struct kiln_error *e = NULL;
            ri->holds[i] = store_snapshot_hold(ri->store, &l->diffid, &e);
            if (ri->holds[i] < 0 && (attempt == 1 || e->code != KILN_E_NOTFOUND)) {
                *err = e;
                return kiln_error_prefix(err, "image %s", name);
            }
            kiln_error_free(e);
        }
    }
    ri->image_id = xasprintf("sha256:%s", ri->img->config.digest.hex);
    o->image = name;
    o->image_id = ri->image_id;
    o->image_config = json_object_get(ri->img->config_json, "config");
    o->lowerdirs = (const char *const *)ri->lowerdirs;
    o->n_lowerdirs = n;
    if (n == 0)
        return kiln_error_set(err, KILN_E_INVALID, "image %s has no layers to run", name);
    return 0;
}

void run_image_close(struct run_image *ri)
{
    for (size_t i = 0; i < ri->n_lowerdirs; i++) {
        free(ri->lowerdirs[i]);
        if (ri->holds[i] >= 0)
            close(ri->holds[i]);
    }
    free(ri->lowerdirs);
    free(ri->holds);
    free(ri->image_id);
    if (ri->img)
        image_free(ri->img);
    if (ri->store)
        store_close(ri->store);
    memset(ri, 0, sizeof(*ri));
}

/* "512m", "1g", "100000" (bytes) */
static long long parse_size(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v <= 0)
        return -1;
    switch (*end) {
    case 'k':
    case 'K':
        v *= 1024;
        end++;
        break;
    case 'm':
    case 'M':
        v *= 1024 * 1024;
        end++;
        break;
    case 'g':
    case 'G':
        v *= 1024.0 * 1024 * 1024;
        end++;
        break;
    case 'b':
    case 'B':
        end++;
        break;
    default:
        break;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    return *end ? -1 : (long long)v;
}

struct vec {
    char **v;
    size_t n;
};

static void vec_push(struct vec *a, char *s)
{
    a->v = xrealloc(a->v, (a->n + 2) * sizeof(char *));
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static void vec_free(struct vec *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
}

static int read_env_file(const char *path, struct vec *env, struct kiln_error **err)
{
    cleanup_free char *text = NULL;
    if (read_file(path, 1 << 20, &text, NULL, err) < 0)
        return kiln_error_prefix(err, "--env-file");
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (*line && *line != '#')
            vec_push(env, xstrdup(line));
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

/* -v SRC:DST[:ro|rw] (SRC must be an absolute host path: kiln has no named volumes). */
static int parse_volume(const char *arg, struct rt_mount *m, struct kiln_error **err)
{
    cleanup_free char *copy = xstrdup(arg);
    char *dst = strchr(copy, ':');
    if (dst == NULL || copy[0] != '/')
        return kiln_error_set(err, KILN_E_USAGE, "-v %s: use -v /host/path:/container/path[:ro]",
                              arg);
    *dst++ = '\0';
    char *mode = strchr(dst, ':');
    if (mode)
        *mode++ = '\0';
    if (dst[0] != '/')
        return kiln_error_set(err, KILN_E_USAGE, "-v %s: the container path must be absolute", arg);
    memset(m, 0, sizeof(*m));
    m->type = RT_MOUNT_BIND;
    if (mode) {
        if (strcmp(mode, "ro") == 0)
            m->readonly = 1;
        else if (strcmp(mode, "rw") != 0 && strcmp(mode, "z") && strcmp(mode, "Z"))
            return kiln_error_set(err, KILN_E_USAGE, "-v %s: mode must be ro or rw", arg);
    }
    char *real = realpath(copy, NULL);
    if (real == NULL)
        return kiln_error_errno(err, errno, "-v %s: host path %s", arg, copy);
    m->source = real;
    m->target = xstrdup(dst);
    return 0;
}

static int parse_ulimit(const char *arg, struct rt_rlimit *l)
{
    static const struct {
        const char *name;
        int res;
    } names[] = {{"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},
                 {"core", RLIMIT_CORE},       {"stack", RLIMIT_STACK},
                 {"memlock", RLIMIT_MEMLOCK}, {"fsize", RLIMIT_FSIZE},
                 {"cpu", RLIMIT_CPU},         {"as", RLIMIT_AS}};
    const char *eq = strchr(arg, '=');
    if (!eq)
        return -1;
    l->resource = -1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i].name) == (size_t)(eq - arg) &&
            strncmp(arg, names[i].name, (size_t)(eq - arg)) == 0)
            l->resource = names[i].res;
    if (l->resource < 0)
        return -1;
    char *end;
    l->soft = strtoull(eq + 1, &end, 10);
    l->hard = l->soft;
    if (*end == ':')
        l->hard = strtoull(end + 1, &end, 10);
    return *end ? -1 : 0;
}

/* Settles the network from --network, -p and --pod: ports alone mean a private
 * namespace (as Docker's bridge); container:NAME and a pod mean joining a
 * running namespace, which publishes no ports of its own. */
static int run_network(const char *root, struct launch_opts *o, int network_given,
                       const char *net_container, const char *pod, int have_ports, char **mode_text,
                       char **pod_hosts, struct kiln_error **err)
{
    if (pod != NULL) {
        if (network_given)
            return kiln_error_set(err, KILN_E_USAGE, "--pod and --network cannot go together");
        if (have_ports)
            return kiln_error_set(err, KILN_E_USAGE,
                                  "-p with --pod: publish ports on the pod (kiln pod create -p)");
        struct pod_info pi;
        if (pod_lookup(root, pod, &pi, err) < 0)
            return -1;
        o->network = RT_NET_PRIVATE;
        o->net_holder = pi.holder;
        o->pod = pod;
        *pod_hosts = pi.hosts_file;
        o->hosts_file = *pod_hosts;
        *mode_text = xasprintf("pod:%s", pod);
        o->network_mode = *mode_text;
        return 0;
    }
    if (net_container != NULL) {
        if (have_ports)
            return kiln_error_set(err, KILN_E_USAGE,
                                  "-p with --network container:%s: publish on that container",
                                  net_container);
        cleanup_free char *id = NULL;
        if (ctr_find(root, net_container, &id, err) < 0)
            return -1;
        json_t *st = ctr_load_state(root, id, err);
        if (st == NULL)
            return -1;
        const char *status = json_string_value(json_object_get(st, "Status"));
        pid_t pid = (pid_t)json_integer_value(json_object_get(st, "Pid"));
        int running = status && strcmp(status, "running") == 0 && pid > 0;
        json_decref(st);
        if (!running)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "--network container:%s: that container is not running",
                                  net_container);
        o->net_holder = pid;
        *mode_text = xasprintf("container:%s", net_container);
        o->network_mode = *mode_text;
        return 0;
    }
    if (have_ports) {
        if (network_given && o->network != RT_NET_PRIVATE)
            return kiln_error_set(err, KILN_E_USAGE,
                                  "-p needs --network private (the default with -p), not %s",
                                  o->network == RT_NET_HOST ? "host" : "none");
        o->network = RT_NET_PRIVATE;
    }
    return 0;
}

enum {
    OPT_RM = 256,
    OPT_NAME,
    OPT_ENVFILE,
    OPT_TMPFS,
    OPT_ENTRYPOINT,
    OPT_HOSTNAME,
    OPT_NETWORK,
    OPT_READONLY,
    OPT_CPUS,
    OPT_INIT,
    OPT_USERNS,
    OPT_ROOTFS,
    OPT_ULIMIT,
    OPT_POD,
    OPT_PLATFORM,
};

static const char usage[] =
    "Usage: kiln run [OPTIONS] IMAGE [COMMAND [ARG...]]\n"
    "       kiln run [OPTIONS] --rootfs DIR COMMAND [ARG...]\n\n"
    "Runs a command in a new container from IMAGE (Docker's ENTRYPOINT/CMD rules).\n\n"
    "Options:\n"
    "  --rm                 remove the container when it exits\n"
    "  -d, --detach         run in the background under a supervisor; print the id\n"
    "  -i, --interactive    keep stdin open\n"
    "  -t, --tty            allocate a terminal\n"
    "  --name NAME          name the container\n"
    "  -e, --env K=V        set an environment variable (K alone copies kiln's)\n"
    "  --env-file FILE      read K=V lines from FILE\n"
    "  -v, --volume SRC:DST[:ro]  bind-mount a host path\n"
    "  --tmpfs DST[:OPTS]   mount a tmpfs\n"
    "  -u, --user USER      user[:group] or uid[:gid] (resolved in the image)\n"
    "  -w, --workdir DIR    working directory (created if missing)\n"
    "  --entrypoint CMD     override the image's ENTRYPOINT (\"\" clears it)\n"
    "  --hostname NAME      container hostname (default: short id)\n"
    "  --network MODE       host (default): the host's network; none: loopback only;\n"
    "                       private (or bridge): a network namespace of its own that\n"
    "                       reaches out as the host does (pasta); container:NAME: the\n"
    "                       namespace of a running container\n"
    "  -p, --publish [IP:][HOSTPORT:]PORT[/tcp|/udp]  publish a container port (or\n"
    "                       range A-B) on the host; no HOSTPORT: a random one\n"
    "                       (see kiln port); implies --network private\n"
    "  -P, --publish-all    publish every EXPOSEd port on a random host port\n"
    "  --pod NAME           join pod NAME's network (kiln pod create)\n"
    "  --read-only          mount the root file system read-only\n"
    "  -m, --memory SIZE    memory limit (cgroup v2)\n"
    "  --cpus N             CPU limit (cgroup v2)\n"
    "  --init=false         run the command as PID 1 instead of under kiln's init\n"
    "  --userns keep-id     rootless: keep your uid inside (default maps you to root)\n"
    "  --ulimit NAME=SOFT[:HARD]  resource limit (never above kiln's own hard limit)\n"
    "  --rootfs DIR         run from a plain root directory instead of an image\n"
    "  --platform P         the image of an index to run (default: this machine's);\n"
    "                       foreign ones run under QEMU through binfmt_misc\n\n"
    "Exit status: the command's, 128+N if it died of signal N; 125 if kiln failed,\n"
    "126 if the command cannot be executed, 127 if it was not found.\n";

static int cmd_run(struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"rm", no_argument, NULL, OPT_RM},
        {"detach", no_argument, NULL, 'd'},
        {"interactive", no_argument, NULL, 'i'},
        {"tty", no_argument, NULL, 't'},
        {"name", required_argument, NULL, OPT_NAME},
        {"env", required_argument, NULL, 'e'},
        {"env-file", required_argument, NULL, OPT_ENVFILE},
        {"volume", required_argument, NULL, 'v'},
        {"tmpfs", required_argument, NULL, OPT_TMPFS},
        {"user", required_argument, NULL, 'u'},
        {"workdir", required_argument, NULL, 'w'},
        {"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},
        {"hostname", required_argument, NULL, OPT_HOSTNAME},
        {"network", required_argument, NULL, OPT_NETWORK},
        {"net", required_argument, NULL, OPT_NETWORK},
        {"read-only", no_argument, NULL, OPT_READONLY},
        {"memory", required_argument, NULL, 'm'},
        {"cpus", required_argument, NULL, OPT_CPUS},
        {"init", optional_argument, NULL, OPT_INIT},
        {"userns", required_argument, NULL, OPT_USERNS},
        {"rootfs", required_argument, NULL, OPT_ROOTFS},
        {"ulimit", required_argument, NULL, OPT_ULIMIT},
        {"publish", required_argument, NULL, 'p'},
        {"publish-all", no_argument, NULL, 'P'},
        {"pod", required_argument, NULL, OPT_POD},
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct launch_opts o = {0};
    struct vec env = {0}, strings = {0};
    struct rt_mount mounts[64];
    struct rt_rlimit limits[16];
    size_t n_mounts = 0, n_limits = 0;
    struct net_port *ports = NULL;
    size_t n_ports = 0;
    int publish_all = 0, network_given = 0;
    const char *net_container = NULL, *pod = NULL;
    cleanup_free char *mode_text = NULL, *pod_hosts = NULL;
    struct kiln_error *err = NULL;
    int c, ret = RT_EXIT_SETUP;
    cleanup_free char *root = cli_store_root(g);
    o.root = root;
    while ((c = getopt_long(argc, argv, "+dite:v:u:w:m:p:Ph", opts, NULL)) != -1) {
        switch (c) {
        case OPT_RM:
            o.rm = 1;
            break;
        case 'd':
            o.detach = 1;
            break;
        case 'i':
            o.interactive = 1;
            break;
        case 't':
            o.tty = 1;
            break;
        case OPT_NAME:
            o.name = optarg;
            break;
        case 'e':
            vec_push(&env, xstrdup(optarg));
            break;
        case OPT_ENVFILE:
            if (read_env_file(optarg, &env, &err) < 0)
                goto fail;
            break;
        case 'v':
        case OPT_TMPFS:
            if (n_mounts == 64) {
                ret = cli_usage_error("run", "too many mounts");
                goto out;
            }
            if (c == 'v') {
                if (parse_volume(optarg, &mounts[n_mounts], &err) < 0)
                    goto fail;
                vec_push(&strings, (char *)mounts[n_mounts].source);
                vec_push(&strings, (char *)mounts[n_mounts].target);
            } else {
                char *t = xstrdup(optarg);
                char *colon = strchr(t, ':');
                if (colon)
                    *colon++ = '\0';
                memset(&mounts[n_mounts], 0, sizeof(mounts[0]));
                mounts[n_mounts].type = RT_MOUNT_TMPFS;
                mounts[n_mounts].target = t;
                mounts[n_mounts].options = colon;
                vec_push(&strings, t);
            }
            n_mounts++;
            break;
        case 'u':
            o.user = optarg;
            break;
        case 'w':
            o.workdir = optarg;
            break;
        case OPT_ENTRYPOINT:
            o.entrypoint = optarg;
            break;
        case OPT_HOSTNAME:
            o.hostname = optarg;
            break;
        case OPT_NETWORK:
            network_given = 1;
            if (strcmp(optarg, "host") == 0)
                o.network = RT_NET_HOST;
            else if (strcmp(optarg, "none") == 0)
                o.network = RT_NET_NONE;
            else if (strcmp(optarg, "private") == 0 || strcmp(optarg, "bridge") == 0)
                o.network = RT_NET_PRIVATE;
            else if (strncmp(optarg, "container:", 10) == 0 && optarg[10]) {
                o.network = RT_NET_PRIVATE;
                net_container = optarg + 10;
            } else {
                ret = cli_usage_error(
                    "run", "--network %s: use host, none, private (bridge) or container:NAME",
                    optarg);
                goto out;
            }
            break;
        case 'p':
            ports = xrealloc(ports, (n_ports + 1) * sizeof(*ports));
            if (net_parse_publish(optarg, &ports[n_ports], &err) < 0)
                goto fail;
            n_ports++;
            break;
        case 'P':
            publish_all = 1;
            break;
        case OPT_POD:
            pod = optarg;
            break;
        case OPT_READONLY:
            o.read_only = 1;
            break;
        case 'm':
            if ((o.memory = parse_size(optarg)) <= 0) {
                ret = cli_usage_error("run", "--memory %s: give a size like 512m or 2g", optarg);
                goto out;
            }
            break;
        case OPT_CPUS:
            o.cpus = strtod(optarg, NULL);
            if (o.cpus <= 0) {
                ret = cli_usage_error("run", "--cpus %s: give a positive number", optarg);
                goto out;
            }
            break;
        case OPT_INIT:
            o.no_init = optarg && (strcmp(optarg, "false") == 0 || strcmp(optarg, "0") == 0);
            break;
        case OPT_USERNS:
            if (strcmp(optarg, "keep-id") == 0)
                o.userns = RT_USERNS_KEEP_ID;
            else if (strcmp(optarg, "host") == 0)
                o.userns = RT_USERNS_HOST;
            else if (strcmp(optarg, "auto") == 0 || strcmp(optarg, "") == 0)
                o.userns = RT_USERNS_AUTO;
            else {
                ret = cli_usage_error("run", "--userns %s: use keep-id, host or auto", optarg);
                goto out;
            }
            break;
        case OPT_ROOTFS:
            o.rootfs = optarg;
            break;
        case OPT_PLATFORM:
            o.platform = optarg;
            break;
        case OPT_ULIMIT:
            if (n_limits == 16 || parse_ulimit(optarg, &limits[n_limits]) < 0) {
                ret = cli_usage_error("run", "--ulimit %s: use e.g. nofile=1024:2048", optarg);
                goto out;
            }
            n_limits++;
            break;
        case 'h':
            fputs(usage, stdout);
            ret = 0;
            goto out;
        default:
            ret = cli_usage_error("run", "unknown option");
            goto out;
        }
    }
    struct run_image ri = {0};
    if (o.rootfs == NULL) {
        if (optind >= argc) {
            ret = cli_usage_error("run", "an image name is required");
            goto out;
        }
        const char *image = argv[optind++];
        if (run_image_open(root, image, &ri, &o, &err) < 0) {
            run_image_close(&ri);
            goto fail;
        }
    }
    if (publish_all && o.image_config) {
        /* Every EXPOSE ("8000/tcp") on a random host port. */
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)json_object_get(o.image_config, "ExposedPorts"), key, v)
        {
            cleanup_free char *spec = xstrdup(key);
            ports = xrealloc(ports, (n_ports + 1) * sizeof(*ports));
            if (net_parse_publish(spec, &ports[n_ports], &err) < 0) {
                run_image_close(&ri);
                goto fail;
            }
            n_ports++;
        }
    }
    if (run_network(root, &o, network_given, net_container, pod, n_ports > 0, &mode_text,
                    &pod_hosts, &err) < 0 ||
        (n_ports > 0 && net_ports_reserve(&ports, &n_ports, &err) < 0)) {
        run_image_close(&ri);
        goto fail;
    }
    o.ports = ports;
    o.n_ports = n_ports;
    o.cmd = argv + optind;
    o.n_cmd = (size_t)(argc - optind);
    o.env = (const char *const *)env.v;
    o.n_env = env.n;
    o.mounts = mounts;
    o.n_mounts = n_mounts;
    o.rlimits = limits;
    o.n_rlimits = n_limits;
    if (o.tty && !isatty(0) && !o.detach)
        cli_warn("-t: stdin is not a terminal");
    int status = RT_EXIT_SETUP;
    char *id = NULL;
    int r = launch_container(&o, &status, &id, &err);
    run_image_close(&ri);
    if (r < 0) {
        free(id);
        ret = run_fail(err, status);
        err = NULL;
        goto out;
    }
    if (o.detach)
        printf("%s\n", id);
    free(id);
    ret = status;
    goto out;
fail:
    ret = run_fail(err, RT_EXIT_SETUP);
out:
    vec_free(&env);
    vec_free(&strings);
    free(ports);
    return ret;
}

const struct cli_command cli_cmd_run = {
    .name = "run",
    .run = cmd_run,
    .summary = "run a command in a new container",
    .usage = usage,
};
