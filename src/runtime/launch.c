/* launch_container: image config + options -> container record -> a
 * supervised runtime_run, in the foreground or detached (see launch.h). */
#include "runtime/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/net.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static const char **json_strv(const json_t *a)
{
    if (!json_is_array(a))
        return NULL;
    size_t n = json_array_size(a);
    const char **v = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        v[i] = s ? s : "";
    }
    return v;
}

/* Image ENV, then the user's entries replacing same-named ones. */
static json_t *merge_env(const json_t *image_env, const char *const *add, size_t n_add)
{
    json_t *env = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(image_env, i, v)
    {
        if (json_is_string(v))
            json_array_append(env, v);
    }
    for (size_t k = 0; k < n_add; k++) {
        const char *e = add[k];
        cleanup_free char *own = NULL;
        if (strchr(e, '=') == NULL) {
            const char *val = getenv(e);
            if (val == NULL)
                continue; /* Docker drops "-e NAME" when NAME is unset */
            own = xasprintf("%s=%s", e, val);
            e = own;
        }
        size_t klen = (size_t)(strchr(e, '=') - e);
        int replaced = 0;
        json_array_foreach(env, i, v)
        {
            const char *s = json_string_value(v);
            if (strncmp(s, e, klen) == 0 && s[klen] == '=') {
                json_array_set_new(env, i, json_string(e));
                replaced = 1;
                break;
            }
        }
        if (!replaced)
            json_array_append_new(env, json_string(e));
    }
    return env;
}

static const char *cfg_str(const json_t *c, const char *key)
{
    const char *s = c ? json_string_value(json_object_get(c, key)) : NULL;
    return s && s[0] ? s : NULL;
}

/* The record's config.json: what exec, health, stop and ps need later. */
static json_t *record_config(const struct launch_opts *o, char **argv, json_t *env)
{
    const json_t *ic = o->image_config;
    json_t *c = json_object();
    json_object_set_new(c, "Image", json_string(o->image ? o->image : o->rootfs));
    if (o->image_id)
        json_object_set_new(c, "ImageId", json_string(o->image_id));
    size_t n = 0;
    while (argv[n])
        n++;
    json_object_set_new(c, "Cmd", str_array((const char *const *)argv, n));
    json_object_set_new(c, "Env", json_incref(env));
    const char *user = o->user ? o->user : cfg_str(ic, "User");
    const char *wd = o->workdir ? o->workdir : cfg_str(ic, "WorkingDir");
    if (user)
        json_object_set_new(c, "User", json_string(user));
    if (wd)
        json_object_set_new(c, "WorkingDir", json_string(wd));
    const char *ss = o->stop_signal ? o->stop_signal : cfg_str(ic, "StopSignal");
    json_object_set_new(c, "StopSignal", json_string(ss ? ss : "SIGTERM"));
    /* Docker's merge: what the run's (or service's) check leaves unset, the
     * test included, comes from the image's HEALTHCHECK */
    json_t *hc =
        ctr_healthcheck_merge(o->healthcheck, ic ? json_object_get(ic, "Healthcheck") : NULL);
    if (hc)
        json_object_set_new(c, "Healthcheck", hc);
    json_t *shell = ic ? json_object_get(ic, "Shell") : NULL;
    if (json_is_array(shell)) /* a CMD-SHELL health check runs under it */
        json_object_set(c, "Shell", shell);
    if (o->hostname)
        json_object_set_new(c, "Hostname", json_string(o->hostname));
    json_object_set_new(c, "Userns", json_integer(o->userns));
    if (o->caps_set)
        json_object_set_new(c, "CapMask", json_integer((json_int_t)o->caps));
    json_object_set_new(c, "Detached", json_boolean(o->detach));
    json_object_set_new(c, "AutoRemove", json_boolean(o->rm));
    static const char *const modes[] = {"host", "none", "private"};
    json_object_set_new(c, "NetworkMode",
                        json_string(o->network_mode ? o->network_mode : modes[o->network]));
    json_object_set_new(c, "Ports", net_ports_to_json(o->ports, o->n_ports));
    if (o->pod)
        json_object_set_new(c, "Pod", json_string(o->pod));
    if (o->labels)
        json_object_set(c, "Labels", (json_t *)o->labels);
    if (o->restart && strcmp(o->restart, "no") != 0) {
        const char *colon = strchr(o->restart, ':');
        size_t len = colon ? (size_t)(colon - o->restart) : strlen(o->restart);
        json_object_set_new(c, "RestartPolicy",
                            json_pack("{s:s%,s:I}", "Name", o->restart, len, "MaximumRetryCount",
                                      (json_int_t)(colon ? atoll(colon + 1) : 0)));
    }
    if (o->stop_timeout > 0)
        json_object_set_new(c, "StopTimeout", json_integer(o->stop_timeout));
    return c;
}

void launch_exec_spec(const json_t *cfg, struct rt_spec *s, const char ***env_out)
{
    *env_out = json_strv(json_object_get(cfg, "Env"));
    s->env = *env_out;
    s->user = cfg_str(cfg, "User");
    s->cwd = cfg_str(cfg, "WorkingDir");
    s->hostname = cfg_str(cfg, "Hostname");
    s->userns = (enum rt_userns)json_integer_value(json_object_get(cfg, "Userns"));
    const json_t *caps = json_object_get(cfg, "CapMask");
    s->caps_set = json_is_integer(caps);
    s->caps = (unsigned long long)json_integer_value(caps);
}

/* Runs the supervisor; returns its status. Removes the record with --rm. */
static int supervise(const struct launch_opts *o, const char *id, struct rt_spec *s,
                     const json_t *cfg, int ready_fd, int *status, struct kiln_error **err)
{
    struct ctr_healthcheck hc = {0};
    ctr_healthcheck_from_json(json_object_get(cfg, "Healthcheck"), json_object_get(cfg, "Shell"),
                              &hc, NULL);
    int r = ctr_supervise(o->root, id, s, &hc, ready_fd, o->rm, status, err);
    ctr_healthcheck_release(&hc);
    return r;
}

/* Detached: fork, setsid, fork again; the grandchild supervises with its
 * output going to ctr.log. The caller waits for the ready byte. */
static int detach(const struct launch_opts *o, const char *id, struct rt_spec *s, const json_t *cfg,
                  int *status, struct kiln_error **err)
{
    cleanup_free char *dir = ctr_dir(o->root, id);
    cleanup_free char *logp = xasprintf("%s/ctr.log", dir);
    int logfd = open(logp, O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0)
        return kiln_error_errno(err, errno, "%s", logp);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        close(logfd);
        return kiln_error_errno(err, errno, "pipe");
    }
    fflush(NULL);
    pid_t first = fork();
    if (first == 0) {
        close(p[0]);
        setsid();
        signal(SIGHUP, SIG_IGN);
        if (fork() != 0)
            _exit(0);
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        int keep[] = {p[1], logfd};
        fd_close_inherited(keep, 2);
        if (chdir("/") < 0)
            _exit(1);
        s->stdio[0] = -1;
        s->stdio[1] = logfd;
        s->stdio[2] = logfd;
        s->tty = 0;
        int st;
        struct kiln_error *e = NULL;
        supervise(o, id, s, cfg, p[1], &st, &e);
        _exit(0);
    }
    close(p[1]);
    close(logfd);
    if (first > 0)
        waitpid(first, NULL, 0);
    char buf[600];
    ssize_t n, got = 0;
    while ((n = read(p[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
        got += n;
    close(p[0]);
    if (got == 1 && buf[0] == 0) {
        *status = 0;
        return 0;
    }
    buf[got > 0 ? got : 0] = '\0';
    *status = got > 0 ? (unsigned char)buf[0] : RT_EXIT_SETUP;
    return kiln_error_set(err, KILN_E_FAIL, "%s", got > 1 ? buf + 1 : "the supervisor failed");
}

/* Builds the spec for container id and runs it (foreground or detached). */
static int start(const struct launch_opts *o, const char *id, char **argv, json_t *env, json_t *cfg,
                 int *status, struct kiln_error **err)
{
    char shortid[13];
    snprintf(shortid, sizeof(shortid), "%.12s", id);
    const char *hostname = cfg_str(cfg, "Hostname"); /* set by ctr_create */

    struct rt_spec s;
    rt_spec_init(&s);
    cleanup_free char *dir = ctr_dir(o->root, id);
    cleanup_free char *upper = xasprintf("%s/upper", dir);
    cleanup_free char *work = xasprintf("%s/work", dir);
    cleanup_free const char **envv = json_strv(env);
    s.lowerdirs = o->lowerdirs;
    s.n_lowerdirs = o->n_lowerdirs;
    s.rootfs = o->rootfs;
    if (o->n_lowerdirs > 0) {
        s.upperdir = upper;
        s.workdir = work;
        s.volatile_upper = 1; /* a container's writable layer is not stored data */
        s.discard_upper = o->rm;
    }
    s.readonly_root = o->read_only;
    s.caps_set = o->caps_set;
    s.caps = o->caps;
    s.argv = (const char *const *)argv;
    s.env = envv;
    s.cwd = cfg_str(cfg, "WorkingDir");
    s.user = cfg_str(cfg, "User");
    s.hostname = hostname;
    s.network = o->network;
    s.net_holder = o->net_holder;
    s.ports = o->ports;
    s.n_ports = o->n_ports;
    s.hosts_file = o->hosts_file;
    s.userns = o->userns;
    s.mounts = o->mounts;
    s.n_mounts = o->n_mounts;
    s.no_init = o->no_init;
    s.rlimits = o->rlimits;
    s.n_rlimits = o->n_rlimits;
    s.memory_bytes = o->memory;
    s.cpus = o->cpus;
    s.cgroup_name = shortid;
    s.tty = o->tty && !o->detach;
    if (!o->interactive && !s.tty)
        s.stdio[0] = -1;
    if (o->detach)
        return detach(o, id, &s, cfg, status, err);
    return supervise(o, id, &s, cfg, -1, status, err);
}

int launch_container(const struct launch_opts *o, int *status, char **id_out,
                     struct kiln_error **err)
{
    const json_t *ic = o->image_config;
    *status = RT_EXIT_SETUP;
    cleanup_free const char **ep = json_strv(ic ? json_object_get(ic, "Entrypoint") : NULL);
    cleanup_free const char **cmd = json_strv(ic ? json_object_get(ic, "Cmd") : NULL);
    char **argv = NULL;
    if (rt_resolve_argv(ep, cmd, o->entrypoint, o->cmd, o->n_cmd, &argv, err) < 0)
        return -1;
    json_t *env = merge_env(ic ? json_object_get(ic, "Env") : NULL, o->env, o->n_env);
    json_t *cfg = record_config(o, argv, env);
    char *id = NULL;
    int r = ctr_create(o->root, o->name, cfg, &id, err);
    if (r == 0 && o->hosts_file) {
        /* The pod's other containers find this one by name. */
        const char *nm = cfg_str(cfg, "Name"), *hn = cfg_str(cfg, "Hostname");
        cleanup_free char *names = xasprintf("%s %s", nm ? nm : "", hn ? hn : "");
        r = pod_add_host(o->hosts_file, names, err);
    }
    if (r == 0)
        r = start(o, id, argv, env, cfg, status, err);
    if (id_out && id)
        *id_out = xstrdup(id);
    free(id);
    rt_argv_free(argv);
    json_decref(env);
    json_decref(cfg);
    return r;
}
