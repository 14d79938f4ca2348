/* One service of the model -> one kiln container in the project's pod:
 * environment, command/entrypoint, mounts (binds, named volumes, tmpfs,
 * secrets, configs), health check, labels and limits as launch_opts. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compose/internal.h"
#include "compose/stack.h"
#include "net/net.h"
#include "runtime/container.h"
#include "runtime/image.h"
#include "runtime/launch.h"
#include "runtime/runtime.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

char *compose_ctr_name(const char *project, const char *service)
{
    return compose_ctr_name_n(project, service, 1);
}

char *compose_ctr_name_n(const char *project, const char *service, long number)
{
    return xasprintf("%s-%s-%ld", project, service, number);
}

long compose_ctr_number(const char *project, const char *service, const char *name)
{
    size_t lp = strlen(project), ls = strlen(service);
    if (strncmp(name, project, lp) != 0 || name[lp] != '-' ||
        strncmp(name + lp + 1, service, ls) != 0 || name[lp + 1 + ls] != '-')
        return 0;
    const char *num = name + lp + ls + 2;
    char *end;
    long n = strtol(num, &end, 10);
    return num[0] >= '1' && num[0] <= '9' && *end == '\0' && n > 0 ? n : 0;
}

char *compose_pod_name(const char *project)
{
    return xasprintf("pod_%s", project);
}

char *compose_service_image(const struct compose_project *p, const char *service)
{
    json_t *svc = json_object_get(json_object_get(p->model, "services"), service);
    const char *img = json_string_value(json_object_get(svc, "image"));
    return img ? xstrdup(img) : xasprintf("%s-%s", p->name, service);
}

long compose_stop_timeout(const json_t *svc)
{
    const char *g = json_string_value(json_object_get(svc, "stop_grace_period"));
    long long ns = g ? compose_parse_duration_ns(g) : -1;
    if (ns < 0)
        return 10;
    return (long)((ns + 999999999LL) / 1000000000LL);
}

/* Strings the launch options point at, freed together. */
struct svc_strs {
    char **v;
    size_t n;
};

static char *keep(struct svc_strs *s, char *str)
{
    s->v = xrealloc(s->v, (s->n + 1) * sizeof(char *));
    s->v[s->n++] = str;
    return str;
}

static void svc_strs_free(struct svc_strs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

struct mounts {
    struct rt_mount *v;
    size_t n;
    size_t *fresh; /* indexes of new volumes to fill from the image */
    size_t n_fresh;
};

static struct rt_mount *mount_add(struct mounts *m)
{
    m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
    memset(&m->v[m->n], 0, sizeof(*m->v));
    return &m->v[m->n++];
}

/* KILN_ROOT/volumes/NAME, made on first use (*made then 1). */
static char *volume_dir(const char *root, const char *name, int *made, struct kiln_error **err)
{
    char *d = xasprintf("%s/volumes/%s", root, name);
    *made = !path_exists(d);
    if (mkdir_p(d, 0755, err) < 0) {
        free(d);
        return NULL;
    }
    return d;
}

static int volumes_mounts(const char *root, const struct compose_project *p, const char *service,
                          long number, const json_t *svc, struct mounts *m, struct svc_strs *keepv,
                          struct kiln_error **err)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(svc, "volumes"), i, v)
    {
        const char *type = json_get_str(v, "type");
        const char *src = json_get_str(v, "source");
        const char *dst = json_get_str(v, "target");
        if (type == NULL || dst == NULL)
            continue;
        struct rt_mount *mt = mount_add(m);
        mt->target = dst;
        mt->readonly = json_is_true(json_object_get(v, "read_only"));
        if (strcmp(type, "bind") == 0) {
            mt->type = RT_MOUNT_BIND;
            if (!path_exists(src)) {
                json_t *cr = json_object_get(json_object_get(v, "bind"), "create_host_path");
                if (cr != NULL && !json_is_true(cr))
                    return kiln_error_set(err, KILN_E_NOTFOUND,
                                          "service %s: bind source %s does not exist", service,
                                          src);
                if (mkdir_p(src, 0755, err) < 0)
                    return kiln_error_prefix(err, "service %s", service);
            }
            mt->source = src;
        } else if (strcmp(type, "volume") == 0) {
            const char *name = NULL;
            cleanup_free char *anon = NULL;
            if (src != NULL && src[0]) {
                json_t *top = json_object_get(json_object_get(p->model, "volumes"), src);
                name = json_get_str(top, "name");
                if (name == NULL)
                    name = src;
            } else {
                /* each replica its own: PROJECT_SERVICE_anonI, then _anonI_N */
                anon = number > 1 ? xasprintf("%s_%s_anon%zu_%ld", p->name, service, i, number)
                                  : xasprintf("%s_%s_anon%zu", p->name, service, i);
                name = anon;
            }
            int made = 0;
            char *d = volume_dir(root, name, &made, err);
            if (d == NULL)
                return kiln_error_prefix(err, "service %s: volume %s", service, name);
            json_t *nocopy = json_object_get(json_object_get(v, "volume"), "nocopy");
            if (made && !json_is_true(nocopy)) {
                m->fresh = xrealloc(m->fresh, (m->n_fresh + 1) * sizeof(size_t));
                m->fresh[m->n_fresh++] = m->n - 1;
            }
            mt->type = RT_MOUNT_BIND;
            mt->source = keep(keepv, d);
        } else if (strcmp(type, "tmpfs") == 0) {
            mt->type = RT_MOUNT_TMPFS;
            json_t *t = json_object_get(v, "tmpfs");
            json_t *size = json_object_get(t, "size");
            json_t *mode = json_object_get(t, "mode");
            struct strbuf sb;
            strbuf_init(&sb);
            if (json_is_integer(size))
                strbuf_addf(&sb, "size=%lld", (long long)json_integer_value(size));
            else if (json_is_string(size))
                strbuf_addf(&sb, "size=%s", json_string_value(size));
            if (json_is_integer(mode))
                strbuf_addf(&sb, "%smode=%llo", sb.len ? "," : "",
                            (long long)json_integer_value(mode));
            mt->options = sb.len ? keep(keepv, strbuf_detach(&sb)) : NULL;
            strbuf_release(&sb);
        } else {
            return kiln_error_set(err, KILN_E_USAGE,
                                  "service %s: volume type \"%s\" is not supported by kiln",
                                  service, type);
        }
    }
    json_array_foreach(json_object_get(svc, "tmpfs"), i, v)
    {
        const char *t = json_string_value(v);
        if (t == NULL)
            continue;
        char *copy = keep(keepv, xstrdup(t));
        char *colon = strchr(copy, ':');
        if (colon)
            *colon++ = '\0';
        struct rt_mount *mt = mount_add(m);
        mt->type = RT_MOUNT_TMPFS;
        mt->target = copy;
        mt->options = colon;
    }
    return 0;
}

static int lookup_id(const char *s, int group, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s && *end == '\0') {
        *out = (unsigned)v;
        return 0;
    }
    (void)group;
    return -1;
}

/* Secrets and configs: the file (or content, or environment variable) copied
 * to KILN_ROOT/compose/PROJECT/SERVICE/KIND/N with its mode and owner, then
 * bound read-only at its target. */
static int file_mounts(const char *root, const struct compose_project *p, const char *service,
                       const json_t *svc, const char *kind, struct mounts *m,
                       struct svc_strs *keepv, struct kiln_error **err)
{
    int secret = strcmp(kind, "secrets") == 0;
    size_t i;
    json_t *ref;
    json_array_foreach(json_object_get(svc, kind), i, ref)
    {
        const char *src = json_get_str(ref, "source");
        json_t *top = json_object_get(json_object_get(p->model, kind), src);
        if (src == NULL || top == NULL)
            return kiln_error_set(err, KILN_E_NOTFOUND, "service %s: %s %s is not defined", service,
                                  kind, src ? src : "?");
        cleanup_free char *data = NULL;
        size_t len = 0;
        const char *file = json_get_str(top, "file");
        const char *envname = json_get_str(top, "environment");
        const char *content = json_get_str(top, "content");
        if (file != NULL) {
            if (read_file(file, 64 << 20, &data, &len, err) < 0)
                return kiln_error_prefix(err, "service %s: %s %s", service,
                                         secret ? "secret" : "config", src);
        } else if (envname != NULL || content != NULL) {
            const char *val = content ? content : getenv(envname);
            if (val == NULL)
                return kiln_error_set(err, KILN_E_NOTFOUND,
                                      "service %s: secret %s: environment variable %s is not set",
                                      service, src, envname);
            data = xstrdup(val);
            len = strlen(val);
        } else {
            return kiln_error_set(err, KILN_E_USAGE,
                                  "service %s: %s %s: only file, environment and content sources "
                                  "are supported by kiln (external ones need a swarm)",
                                  service, kind, src);
        }
        const char *target = json_get_str(ref, "target");
        char *tgt;
        if (target == NULL)
            tgt = secret ? xasprintf("/run/secrets/%s", src) : xasprintf("/%s", src);
        else if (target[0] == '/')
            tgt = xstrdup(target);
        else
            tgt = xasprintf(secret ? "/run/secrets/%s" : "/%s", target);
        keep(keepv, tgt);
        cleanup_free char *dir = xasprintf("%s/compose/%s/%s/%s", root, p->name, service, kind);
        if (mkdir_p(dir, 0700, err) < 0)
            return -1;
        char *path = keep(keepv, xasprintf("%s/%zu", dir, i));
        json_t *mode = json_object_get(ref, "mode");
        mode_t md = json_is_integer(mode) ? (mode_t)json_integer_value(mode) : 0444;
        unlink(path);
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0 || write_all(fd, data, len) < 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            return kiln_error_errno(err, e, "writing %s", path);
        }
        unsigned uid = 0, gid = 0;
        const char *us = json_get_str(ref, "uid"), *gs = json_get_str(ref, "gid");
        if ((us && lookup_id(us, 0, &uid) < 0) || (gs && lookup_id(gs, 1, &gid) < 0)) {
            close(fd);
            return kiln_error_set(err, KILN_E_USAGE,
                                  "service %s: %s %s: uid and gid must be numbers", service, kind,
                                  src);
        }
        if (fchown(fd, uid, gid) < 0 || fchmod(fd, md) < 0) {
            int e = errno;
            close(fd);
            return kiln_error_errno(err, e, "%s", path);
        }
        close(fd);
        struct rt_mount *mt = mount_add(m);
        mt->type = RT_MOUNT_BIND;
        mt->source = path;
        mt->target = tgt;
        mt->readonly = 1;
    }
    return 0;
}

int compose_service_caps(const char *service, const json_t *svc, int *set, unsigned long long *mask,
                         struct kiln_error **err)
{
    json_t *add = json_object_get(svc, "cap_add"), *drop = json_object_get(svc, "cap_drop");
    size_t na = json_array_size(add), nd = json_array_size(drop);
    *set = na + nd > 0;
    *mask = 0;
    if (!*set)
        return 0;
    cleanup_free const char **a = xcalloc(na + 1, sizeof(char *));
    cleanup_free const char **d = xcalloc(nd + 1, sizeof(char *));
    for (size_t i = 0; i < na; i++)
        a[i] = json_string_value(json_array_get(add, i));
    for (size_t i = 0; i < nd; i++)
        d[i] = json_string_value(json_array_get(drop, i));
    for (size_t i = 0; i < na + nd; i++)
        if ((i < na ? a[i] : d[i - na]) == NULL)
            return kiln_error_set(err, KILN_E_USAGE, "service %s: %s: names must be strings",
                                  service, i < na ? "cap_add" : "cap_drop");
    if (rt_caps_mask(a, na, d, nd, mask, err) < 0)
        return kiln_error_prefix(err, "service %s: cap_add/cap_drop", service);
    return 0;
}

/* The compose healthcheck in the image config's form (nanoseconds). */
static json_t *healthcheck_json(const json_t *hc)
{
    if (hc == NULL)
        return NULL;
    json_t *out = json_object();
    if (json_is_true(json_object_get(hc, "disable"))) {
        json_object_set_new(out, "Test", json_pack("[s]", "NONE"));
        return out;
    }
    json_t *t = json_object_get(hc, "test");
    if (t)
        json_object_set(out, "Test", t);
    static const char *const keys[][2] = {{"interval", "Interval"},
                                          {"timeout", "Timeout"},
                                          {"start_period", "StartPeriod"},
                                          {"start_interval", "StartInterval"}};
    for (size_t i = 0; i < 4; i++) {
        const char *d = json_string_value(json_object_get(hc, keys[i][0]));
        long long ns = d ? compose_parse_duration_ns(d) : -1;
        if (ns > 0)
            json_object_set_new(out, keys[i][1], json_integer(ns));
    }
    json_t *r = json_object_get(hc, "retries");
    if (json_is_integer(r))
        json_object_set(out, "Retries", r);
    return out;
}

int compose_start_service(const char *root, const struct compose_project *p, const char *service,
                          const struct compose_start *how, int *status, char **id_out,
                          struct kiln_error **err)
{
    const json_t *svc = json_object_get(json_object_get(p->model, "services"), service);
    *status = RT_EXIT_SETUP;
    if (svc == NULL)
        return kiln_error_set(err, KILN_E_NOTFOUND, "no such service: %s", service);
    struct launch_opts o = {0};
    struct svc_strs strs = {0};
    struct mounts m = {0};
    struct run_image ri = {0};
    json_t *labels = NULL, *hc = NULL;
    cleanup_free const char **env = NULL, **cmdv = NULL;
    cleanup_free char *image = compose_service_image(p, service);
    long number = how->number > 0 ? how->number : 1;
    cleanup_free char *name =
        how->name ? xstrdup(how->name) : compose_ctr_name_n(p->name, service, number);
    cleanup_free char *pod = compose_pod_name(p->name);
    cleanup_free char *mode_text = NULL;
    struct pod_info pi = {0};
    int r = -1;

    o.root = root;
    o.name = name;
    o.rm = how->rm;
    o.detach = how->detach;
    o.tty = how->tty;
    o.interactive = how->interactive;
    o.hostname = service; /* the pod's /etc/hosts then names the service */

    const char *nm = json_get_str(svc, "network_mode");
    if (nm != NULL && strcmp(nm, "host") == 0) {
        o.network = RT_NET_HOST;
    } else if (nm != NULL && strcmp(nm, "none") == 0) {
        o.network = RT_NET_NONE;
    } else {
        if (pod_lookup(root, pod, &pi, err) < 0) {
            kiln_error_prefix(err, "service %s: the project's pod (run compose up)", service);
            goto out;
        }
        o.network = RT_NET_PRIVATE;
        o.net_holder = pi.holder;
        o.pod = pod;
        o.hosts_file = pi.hosts_file;
        mode_text = xasprintf("pod:%s", pod);
        o.network_mode = mode_text;
    }

    /* environment: {K: V} (V null: copied from kiln's own environment) */
    json_t *envm = json_object_get(svc, "environment");
    env = xcalloc(json_object_size(envm) + 1, sizeof(char *));
    const char *k;
    json_t *v;
    json_object_foreach(envm, k, v)
    {
        cleanup_free char *s = compose_scalar_string(v);
        env[o.n_env++] = s ? keep(&strs, xasprintf("%s=%s", k, s)) : k;
    }
    o.env = env;

    /* entrypoint replaces the image's (and drops its CMD); launch takes its
     * first word, the rest goes before the command */
    json_t *ep = json_object_get(svc, "entrypoint");
    json_t *cmd = json_object_get(svc, "command");
    size_t n_ep = json_array_size(ep), n_cmd = how->cmd ? how->n_cmd : json_array_size(cmd);
    cmdv = xcalloc(n_ep + n_cmd + 1, sizeof(char *));
    size_t nc = 0;
    if (ep != NULL) {
        o.entrypoint = n_ep ? json_string_value(json_array_get(ep, 0)) : "";
        for (size_t i = 1; i < n_ep; i++)
            cmdv[nc++] = json_string_value(json_array_get(ep, i));
    }
    for (size_t i = 0; i < n_cmd; i++)
        cmdv[nc++] = how->cmd ? how->cmd[i] : json_string_value(json_array_get(cmd, i));
    o.cmd = (char *const *)cmdv;
    o.n_cmd = nc;

    o.user = json_get_str(svc, "user");
    o.workdir = json_get_str(svc, "working_dir");
    o.read_only = json_is_true(json_object_get(svc, "read_only"));
    json_t *init = json_object_get(svc, "init");
    o.no_init = init != NULL && json_is_false(init);
    json_t *mem = json_object_get(svc, "mem_limit");
    o.memory = json_is_integer(mem) ? json_integer_value(mem) : 0;
    json_t *cpus = json_object_get(svc, "cpus");
    o.cpus = json_is_number(cpus) ? json_number_value(cpus) : 0;
    o.stop_signal = json_get_str(svc, "stop_signal");
    o.stop_timeout = compose_stop_timeout(svc);
    o.platform = json_get_str(svc, "platform");
    o.restart = how->rm ? NULL : json_get_str(svc, "restart");
    if (compose_service_caps(service, svc, &o.caps_set, &o.caps, err) < 0)
        goto out;

    labels = json_object();
    json_object_update(labels, json_object_get(svc, "labels"));
    json_object_set_new(labels, COMPOSE_LABEL_PROJECT, json_string(p->name));
    json_object_set_new(labels, COMPOSE_LABEL_SERVICE, json_string(service));
    json_object_set_new(labels, COMPOSE_LABEL_CONFIG_HASH,
                        json_string_nocheck(keep(&strs, compose_config_hash(p, service))));
    if (how->rm || how->name)
        json_object_set_new(labels, "com.docker.compose.oneoff", json_string("True"));
    else
        json_object_set_new(labels, COMPOSE_LABEL_NUMBER,
                            json_string_nocheck(keep(&strs, xasprintf("%ld", number))));
    o.labels = labels;
    hc = healthcheck_json(json_object_get(svc, "healthcheck"));
    o.healthcheck = hc;

    if (volumes_mounts(root, p, service, number, svc, &m, &strs, err) < 0 ||
        file_mounts(root, p, service, svc, "secrets", &m, &strs, err) < 0 ||
        file_mounts(root, p, service, svc, "configs", &m, &strs, err) < 0)
        goto out;
    o.mounts = m.v;
    o.n_mounts = m.n;

    /* Opened last: the supervisor forked below inherits only this image's
     * snapshot holds. */
    if (run_image_open(root, image, &ri, &o, err) < 0) {
        kiln_error_prefix(err, "service %s", service);
        goto out;
    }
    for (size_t i = 0; i < m.n_fresh; i++) {
        const struct rt_mount *mt = &m.v[m.fresh[i]];
        if (compose_volume_populate(mt->source, ri.lowerdirs, ri.n_lowerdirs, mt->target, err) <
            0) {
            kiln_error_prefix(err, "service %s: volume %s", service, mt->source);
            rm_rf(mt->source, NULL); /* filled next time, not left half-filled */
            goto out;
        }
    }
    r = launch_container(&o, status, id_out, err);
    if (r < 0)
        kiln_error_prefix(err, "service %s", service);
out:
    run_image_close(&ri);
    free(pi.hosts_file);
    free(m.v);
    free(m.fresh);
    json_decref(labels);
    json_decref(hc);
    svc_strs_free(&strs);
    return r;
}
