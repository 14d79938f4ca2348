/* kiln run: a container from an image, as `docker run` does it. Options stop
 * at the image name; everything after it is the command. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "cli/run.h"
#include "dockerfile/dockerfile.h"
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

/* What run's options fill, parsed by cli_parse into this one static record. */
static struct run_cli {
    struct launch_opts o;
    struct vec env, strings;
    struct rt_mount mounts[64];
    struct rt_rlimit limits[16];
    size_t n_mounts, n_limits;
    struct net_port *ports;
    size_t n_ports;
    int publish_all, network_given;
    const char *net_container, *pod;
    /* docker run's --health-* (durations in ns, 0 unset) and --no-healthcheck */
    const char *health_cmd;
    long long health_ns[4];
    long health_retries;
    int no_healthcheck;
    /* An option whose value failed (an --env-file that does not read, a bad -v or
     * -p): the first error, reported after parsing as kiln's own failure (125). */
    struct kiln_error *err;
} rf;

/* The --health-* durations, in the order of rf.health_ns, as config keys. */
static const char *const health_flags[4] = {"health-interval", "health-timeout",
                                            "health-start-period", "health-start-interval"};
static const char *const health_keys[4] = {"Interval", "Timeout", "StartPeriod", "StartInterval"};

static int opt_health(void *ctx, const struct cli_opt *opt, const char *arg)
{
    (void)ctx;
    if (strcmp(opt->long_name, "health-cmd") == 0) {
        rf.health_cmd = arg;
        return 0;
    }
    if (strcmp(opt->long_name, "health-retries") == 0) {
        char *end;
        rf.health_retries = strtol(arg, &end, 10);
        if (end == arg || *end != '\0' || rf.health_retries < 0)
            return cli_opt_error(opt, "%s: give a number of failures (0 or more)", arg);
        return 0;
    }
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(opt->long_name, health_flags[i]) != 0)
            continue;
        if (df_parse_duration(arg, &rf.health_ns[i]) < 0)
            return cli_opt_error(opt, "%s: give a duration such as 30s, 1m30s or 500ms", arg);
        /* Docker's daemon refuses these (a checker that never rests) */
        if (rf.health_ns[i] > 0 && rf.health_ns[i] < 1000000 && rf.err == NULL)
            kiln_error_set(&rf.err, KILN_E_USAGE, "%s in Healthcheck cannot be less than 1ms",
                           health_keys[i]);
    }
    return 0;
}

/* docker run's health check: {"Test": ["NONE"]} for --no-healthcheck, what
 * the --health-* options set (Test ["CMD-SHELL", CMD] with --health-cmd, else
 * the image's), or NULL when none was given. */
static json_t *health_opts_json(struct kiln_error **err)
{
    int given = rf.health_cmd != NULL || rf.health_retries != 0;
    for (size_t i = 0; i < 4; i++)
        given |= rf.health_ns[i] != 0;
    if (rf.no_healthcheck) {
        if (given)
            kiln_error_set(err, KILN_E_USAGE, "--no-healthcheck conflicts with --health-* options");
        return given ? NULL : json_pack("{s:[s]}", "Test", "NONE");
    }
    if (!given)
        return NULL;
    json_t *hc = json_object();
    if (rf.health_cmd != NULL)
        json_object_set_new(hc, "Test", json_pack("[s,s]", "CMD-SHELL", rf.health_cmd));
    for (size_t i = 0; i < 4; i++)
        if (rf.health_ns[i] != 0)
            json_object_set_new(hc, health_keys[i], json_integer(rf.health_ns[i]));
    if (rf.health_retries != 0)
        json_object_set_new(hc, "Retries", json_integer(rf.health_retries));
    return hc;
}

static int opt_env(void *ctx, const struct cli_opt *opt, const char *arg)
{
    (void)ctx;
    if (opt->short_name == 'e')
        vec_push(&rf.env, xstrdup(arg));
    else if (rf.err == NULL)
        read_env_file(arg, &rf.env, &rf.err);
    return 0;
}

static int opt_mount(void *ctx, const struct cli_opt *opt, const char *arg)
{
    (void)ctx;
    if (rf.n_mounts == 64)
        return cli_usage_error("run", "too many mounts");
    struct rt_mount *m = &rf.mounts[rf.n_mounts];
    if (opt->short_name == 'v') {
        if (rf.err != NULL || parse_volume(arg, m, &rf.err) < 0)
            return 0;
        vec_push(&rf.strings, (char *)m->source);
        vec_push(&rf.strings, (char *)m->target);
    } else {
        char *t = xstrdup(arg);
        char *colon = strchr(t, ':');
        if (colon)
            *colon++ = '\0';
        memset(m, 0, sizeof(*m));
        m->type = RT_MOUNT_TMPFS;
        m->target = t;
        m->options = colon;
        vec_push(&rf.strings, t);
    }
    rf.n_mounts++;
    return 0;
}

static int opt_network(void *ctx, const struct cli_opt *opt, const char *arg)
{
    (void)ctx;
    (void)opt;
    rf.network_given = 1;
    if (strcmp(arg, "host") == 0)
        rf.o.network = RT_NET_HOST;
    else if (strcmp(arg, "none") == 0)
        rf.o.network = RT_NET_NONE;
    else if (strcmp(arg, "private") == 0 || strcmp(arg, "bridge") == 0)
        rf.o.network = RT_NET_PRIVATE;
    else if (strncmp(arg, "container:", 10) == 0 && arg[10]) {
        rf.o.network = RT_NET_PRIVATE;
        rf.net_container = arg + 10;
    } else
        return cli_usage_error(
            "run", "--network %s: use host, none, private (bridge) or container:NAME", arg);
    return 0;
}

static int opt_publish(void *ctx, const struct cli_opt *opt, const char *arg)
{
    (void)ctx;
    (void)opt;
    if (rf.err != NULL)
        return 0;
    rf.ports = xrealloc(rf.ports, (rf.n_ports + 1) * sizeof(*rf.ports));
    if (net_parse_publish(arg, &rf.ports[rf.n_ports], &rf.err) == 0)
        rf.n_ports++;
    return 0;
}

static int opt_memory(void *ctx, const struct cli_opt *opt, const char *arg)
{
    (void)ctx;
    (void)opt;
    if ((rf.o.memory = parse_size(arg)) <= 0)
        return cli_usage_error("run", "--memory %s: give a size like 512m or 2g", arg);
    return 0;
}

static int opt_cpus(void *ctx, const struct cli_opt *opt, const char *arg)
{
    (void)ctx;
    (void)opt;
    rf.o.cpus = strtod(arg, NULL);
    if (rf.o.cpus <= 0)
        return cli_usage_error("run", "--cpus %s: give a positive number", arg);
    return 0;
}

static int opt_init(void *ctx, const struct cli_opt *opt, const char *arg)
{
    (void)ctx;
    (void)opt;
    rf.o.no_init = arg && (strcmp(arg, "false") == 0 || strcmp(arg, "0") == 0);
    return 0;
}

static int opt_userns(void *ctx, const struct cli_opt *opt, const char *arg)
{
    (void)ctx;
    (void)opt;
    if (strcmp(arg, "keep-id") == 0)
        rf.o.userns = RT_USERNS_KEEP_ID;
    else if (strcmp(arg, "host") == 0)
        rf.o.userns = RT_USERNS_HOST;
    else if (strcmp(arg, "auto") == 0 || strcmp(arg, "") == 0)
        rf.o.userns = RT_USERNS_AUTO;
    else
        return cli_usage_error("run", "--userns %s: use keep-id, host or auto", arg);
    return 0;
}

static int opt_ulimit(void *ctx, const struct cli_opt *opt, const char *arg)
{
    (void)ctx;
    (void)opt;
    if (rf.n_limits == 16 || parse_ulimit(arg, &rf.limits[rf.n_limits]) < 0)
        return cli_usage_error("run", "--ulimit %s: use e.g. nofile=1024:2048", arg);
    rf.n_limits++;
    return 0;
}

const struct cli_opt cli_run_opts[] = {
    {0, "rm", CLI_OPT_FLAG, &rf.o.rm, NULL, "remove the container when it exits", NULL},
    {'d', "detach", CLI_OPT_FLAG, &rf.o.detach, NULL,
     "run in the background under a supervisor; print the id", NULL},
    {'i', "interactive", CLI_OPT_FLAG, &rf.o.interactive, NULL, "keep stdin open", NULL},
    {'t', "tty", CLI_OPT_FLAG, &rf.o.tty, NULL, "allocate a terminal", NULL},
    {0, "name", CLI_OPT_STRING, &rf.o.name, "NAME", "name the container", NULL},
    {'e', "env", CLI_OPT_FUNC, NULL, "K=V", "set an environment variable (K alone copies kiln's)",
     opt_env},
    {0, "env-file", CLI_OPT_FUNC, NULL, "FILE", "read K=V lines from FILE", opt_env},
    {'v', "volume", CLI_OPT_FUNC, NULL, "SRC:DST[:ro]", "bind-mount a host path", opt_mount},
    {0, "tmpfs", CLI_OPT_FUNC, NULL, "DST[:OPTS]", "mount a tmpfs", opt_mount},
    {'u', "user", CLI_OPT_STRING, &rf.o.user, "USER",
     "user[:group] or uid[:gid] (resolved in the image)", NULL},
    {'w', "workdir", CLI_OPT_STRING, &rf.o.workdir, "DIR", "working directory (created if missing)",
     NULL},
    {0, "entrypoint", CLI_OPT_STRING, &rf.o.entrypoint, "CMD",
     "override the image's ENTRYPOINT (\"\" clears it)", NULL},
    {0, "hostname", CLI_OPT_STRING, &rf.o.hostname, "NAME",
     "container hostname (default: short id)", NULL},
    {0, "network", CLI_OPT_FUNC, NULL, "MODE",
     "host (default): the host's network; none: loopback only;\n"
     "private (or bridge): a network namespace of its own that\n"
     "reaches out through slirp4netns; container:NAME: the\n"
     "namespace of a running container",
     opt_network},
    {0, "net", CLI_OPT_FUNC, NULL, "MODE", "the same as --network", opt_network},
    {'p', "publish", CLI_OPT_FUNC, NULL, "[IP:][HOSTPORT:]PORT[/tcp|/udp]",
     "publish a container port (or range A-B) on the host; no\n"
     "HOSTPORT: a random one (see kiln port); implies --network private",
     opt_publish},
    {'P', "publish-all", CLI_OPT_FLAG, &rf.publish_all, NULL,
     "publish every EXPOSEd port on a random host port", NULL},
    {0, "pod", CLI_OPT_STRING, &rf.pod, "NAME", "join pod NAME's network (kiln pod create)", NULL},
    {0, "read-only", CLI_OPT_FLAG, &rf.o.read_only, NULL, "mount the root file system read-only",
     NULL},
    {'m', "memory", CLI_OPT_FUNC, NULL, "SIZE", "memory limit (cgroup v2)", opt_memory},
    {0, "cpus", CLI_OPT_FUNC, NULL, "N", "CPU limit (cgroup v2)", opt_cpus},
    {0, "init", CLI_OPT_FUNC_OPTARG, NULL, "false",
     "run the command as PID 1 instead of under kiln's init", opt_init},
    {0, "userns", CLI_OPT_FUNC, NULL, "keep-id",
     "rootless: keep your uid inside (default maps you to root)", opt_userns},
    {0, "ulimit", CLI_OPT_FUNC, NULL, "NAME=SOFT[:HARD]",
     "resource limit (never above kiln's own hard limit)", opt_ulimit},
    {0, "health-cmd", CLI_OPT_FUNC, NULL, "CMD",
     "the health check: CMD run by the image's SHELL (/bin/sh -c)", opt_health},
    {0, "health-interval", CLI_OPT_FUNC, NULL, "DURATION", "time between checks (30s)", opt_health},
    {0, "health-timeout", CLI_OPT_FUNC, NULL, "DURATION",
     "a check that runs longer is killed and fails (30s)", opt_health},
    {0, "health-start-period", CLI_OPT_FUNC, NULL, "DURATION",
     "failures this soon after the start do not count (0s)", opt_health},
    {0, "health-start-interval", CLI_OPT_FUNC, NULL, "DURATION",
     "time between checks within the start period (5s)", opt_health},
    {0, "health-retries", CLI_OPT_FUNC, NULL, "N", "failures in a row that make it unhealthy (3)",
     opt_health},
    {0, "no-healthcheck", CLI_OPT_FLAG, &rf.no_healthcheck, NULL,
     "run no health check (not the image's HEALTHCHECK)", NULL},
    {0, "rootfs", CLI_OPT_STRING, &rf.o.rootfs, "DIR",
     "run from a plain root directory instead of an image", NULL},
    {0, "platform", CLI_OPT_STRING, &rf.o.platform, "P",
     "the image of an index to run (default: this machine's);\n"
     "foreign ones run under QEMU through binfmt_misc",
     NULL},
    CLI_OPT_END,
};

static const struct cli_spec run_spec = {
    .name = "run",
    .args = "IMAGE [COMMAND [ARG...]]",
    .summary = "run a command in a new container",
    .text =
        "Runs a command in a new container from IMAGE (Docker's ENTRYPOINT/CMD rules).\n"
        "With --rootfs DIR there is no IMAGE: kiln run [OPTIONS] --rootfs DIR COMMAND [ARG...]\n"
        "\n"
        "Exit status: the command's, 128+N if it died of signal N; 125 if kiln failed,\n"
        "126 if the command cannot be executed, 127 if it was not found.\n",
    .opts = cli_run_opts,
    .min_args = 0,
    .max_args = -1,
    .flags = CLI_SPEC_STOP_AT_OPERAND,
};

void cli_run_as_shell(const char *entrypoint)
{
    rf.o.rm = 1;
    rf.o.interactive = 1;
    if (isatty(0))
        rf.o.tty = 1;
    rf.o.entrypoint = entrypoint;
}

static int cmd_run(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&run_spec, argc, argv);
    if (first <= 0)
        return -first;
    return cli_run_parsed(g, argc, argv, first);
}

int cli_run_parsed(struct cli_global *g, int argc, char **argv, int first)
{
    struct launch_opts o = rf.o;
    struct vec env = rf.env, strings = rf.strings;
    struct rt_mount *mounts = rf.mounts;
    struct rt_rlimit *limits = rf.limits;
    size_t n_mounts = rf.n_mounts, n_limits = rf.n_limits;
    struct net_port *ports = rf.ports;
    size_t n_ports = rf.n_ports;
    int publish_all = rf.publish_all, network_given = rf.network_given;
    const char *net_container = rf.net_container, *pod = rf.pod;
    cleanup_free char *mode_text = NULL, *pod_hosts = NULL;
    struct kiln_error *err = rf.err;
    int ret = RT_EXIT_SETUP;
    cleanup_free char *root = cli_store_root(g);
    o.root = root;
    json_t *health = NULL;
    if (err != NULL)
        goto fail;
    /* what they leave unset comes from the image (launch_container merges) */
    health = health_opts_json(&err);
    if (err != NULL)
        goto fail;
    o.healthcheck = health;
    struct run_image ri = {0};
    if (o.rootfs == NULL) {
        if (first >= argc) {
            ret = cli_usage_error("run", "an image name is required");
            goto out;
        }
        const char *image = argv[first++];
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
    o.cmd = argv + first;
    o.n_cmd = (size_t)(argc - first);
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
    json_decref(health);
    vec_free(&env);
    vec_free(&strings);
    free(ports);
    return ret;
}

const struct cli_command cli_cmd_run = {
    .name = "run",
    .run = cmd_run,
    .spec = &run_spec,
};
