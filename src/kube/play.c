/* kube play's plan from a manifest (see play.h): names, published ports,
 * env and volumes filled from the manifest's ConfigMaps and Secrets, probes as
 * one health check, the security context as run options. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kube/play.h"
#include "kube/read.h"
#include "util/strbuf.h"

#define SEC 1000000000LL

struct ctx {
    const char *file;
    const struct kube_manifest *m;
    struct kube_play_plan *p;
    struct kiln_error **err;
};

static int bad(struct ctx *x, const struct kube_object *o, unsigned line, unsigned col,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int bad(struct ctx *x, const struct kube_object *o, unsigned line, unsigned col,
               const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    kiln_error_set(x->err, KILN_E_INVALID, "%s:%u:%u: %s/%s: %s", x->file, line, col, o->kind_name,
                   o->name, sb.buf);
    strbuf_release(&sb);
    return -1;
}

static void warn(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct ctx *x, const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    x->p->warnings = xrealloc(x->p->warnings, (x->p->n_warnings + 1) * sizeof(char *));
    x->p->warnings[x->p->n_warnings++] = strbuf_detach(&sb);
}

/* The ConfigMap or Secret named name, or NULL. */
static const struct kube_object *find_data(const struct kube_manifest *m, enum kube_kind kind,
                                           const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->objects[i].kind == kind && strcmp(m->objects[i].name, name) == 0)
            return &m->objects[i];
    return NULL;
}

static const char *kv_get(const struct kube_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

static int env_of(struct ctx *x, const struct kube_object *o, const struct kube_container *c,
                  struct kube_play_container *pc)
{
    /* envFrom first: env of the same name wins */
    for (size_t i = 0; i < c->n_env_from; i++) {
        const struct kube_env_source *s = &c->env_from[i];
        const struct kube_object *d =
            find_data(x->m, s->secret ? KUBE_KIND_SECRET : KUBE_KIND_CONFIGMAP, s->name);
        if (d == NULL && s->optional)
            continue;
        if (d == NULL)
            return bad(x, o, c->line, c->col, "container %s: envFrom: %s %s is not in the manifest",
                       c->name, s->secret ? "Secret" : "ConfigMap", s->name);
        pc->env = xrealloc(pc->env, (pc->n_env + d->n_data + 1) * sizeof(char *));
        for (size_t k = 0; k < d->n_data; k++)
            pc->env[pc->n_env++] =
                xasprintf("%s%s=%s", s->prefix ? s->prefix : "", d->data[k].key, d->data[k].value);
    }
    for (size_t i = 0; i < c->n_env; i++) {
        const struct kube_env *e = &c->env[i];
        const char *v = e->value ? e->value : "";
        if (e->from == KUBE_ENV_OTHER)
            return bad(x, o, c->line, c->col,
                       "container %s: env %s: only configMapKeyRef and secretKeyRef are "
                       "provided by kube play",
                       c->name, e->name);
        if (e->from == KUBE_ENV_CONFIGMAP || e->from == KUBE_ENV_SECRET) {
            int cm = e->from == KUBE_ENV_CONFIGMAP;
            const struct kube_object *d =
                find_data(x->m, cm ? KUBE_KIND_CONFIGMAP : KUBE_KIND_SECRET, e->ref_name);
            v = d ? kv_get(d->data, d->n_data, e->ref_key) : NULL;
            if (v == NULL && e->optional)
                continue;
            if (v == NULL)
                return bad(x, o, c->line, c->col, "container %s: env %s: %s %s%s%s not in %s",
                           c->name, e->name, cm ? "ConfigMap" : "Secret", e->ref_name,
                           d ? " has no key " : "", d ? e->ref_key : "", d ? "it" : "the manifest");
        }
        pc->env = xrealloc(pc->env, (pc->n_env + 1) * sizeof(char *));
        pc->env[pc->n_env++] = xasprintf("%s=%s", e->name, v);
    }
    return 0;
}

/* The container port a probe names (a number, or a port's name). */
static int probe_port(struct ctx *x, const struct kube_object *o, const struct kube_container *c,
                      const struct kube_probe *pr, const char *which)
{
    if (pr->port_name == NULL)
        return pr->port;
    for (size_t i = 0; i < c->n_ports; i++)
        if (c->ports[i].name && strcmp(c->ports[i].name, pr->port_name) == 0)
            return c->ports[i].container_port;
    return bad(x, o, c->line, c->col, "container %s: %s: no port named \"%s\"", c->name, which,
               pr->port_name);
}

/* readiness (else liveness, else startup) as the health check; the startup
 * probe's window as its start period, probed at the startup probe's period. */
static int health_of(struct ctx *x, const struct kube_object *o, const struct kube_container *c,
                     struct kube_play_container *pc)
{
    const struct kube_probe *pr = c->readiness.type  ? &c->readiness
                                  : c->liveness.type ? &c->liveness
                                                     : &c->startup;
    const char *which = pr == &c->readiness  ? "readinessProbe"
                        : pr == &c->liveness ? "livenessProbe"
                                             : "startupProbe";
    json_t *test = json_array();
    pc->healthcheck = json_pack("{s:o}", "Test", test);
    if (pr->type == KUBE_PROBE_NONE) {
        json_array_append_new(test, json_string("NONE"));
        return 0;
    }
    if (pr->type == KUBE_PROBE_EXEC) {
        json_array_append_new(test, json_string("CMD"));
        for (size_t i = 0; i < pr->n_command; i++)
            json_array_append_new(test, json_string(pr->command[i]));
    } else {
        int port = probe_port(x, o, c, pr, which);
        if (port < 0)
            return -1;
        char num[16];
        snprintf(num, sizeof(num), "%d", port);
        json_array_append_new(
            test, json_string(pr->type == KUBE_PROBE_HTTP ? "KILN-HTTPGET" : "KILN-TCP"));
        json_array_append_new(test, json_string(num));
        if (pr->type == KUBE_PROBE_HTTP)
            json_array_append_new(test, json_string(pr->path ? pr->path : "/"));
    }
    const struct kube_probe *st = c->startup.type && pr != &c->startup ? &c->startup : NULL;
    long long start = (long long)pr->initial_delay * SEC;
    if (st != NULL)
        start += (long long)st->initial_delay * SEC +
                 (long long)st->period * st->failure_threshold * SEC;
    json_object_set_new(pc->healthcheck, "Interval", json_integer((long long)pr->period * SEC));
    json_object_set_new(pc->healthcheck, "Timeout", json_integer((long long)pr->timeout * SEC));
    json_object_set_new(pc->healthcheck, "Retries", json_integer(pr->failure_threshold));
    if (start > 0)
        json_object_set_new(pc->healthcheck, "StartPeriod", json_integer(start));
    json_object_set_new(pc->healthcheck, "StartInterval",
                        json_integer((long long)(st ? st->period : pr->period) * SEC));
    return 0;
}

/* The container's value if given, else the pod's (-1: neither). */
#define SEC_OF(c, ps, f) ((c)->security.f != -1 ? (c)->security.f : (ps)->security.f)

static int security_of(struct ctx *x, const struct kube_object *o, const struct kube_container *c,
                       struct kube_play_container *pc)
{
    const struct kube_pod_spec *ps = &o->pod;
    if (SEC_OF(c, ps, privileged) == 1)
        return bad(x, o, c->line, c->col, "container %s: privileged containers are not run by kiln",
                   c->name);
    long long uid = SEC_OF(c, ps, run_as_user), gid = SEC_OF(c, ps, run_as_group);
    pc->run_as_user = uid;
    pc->run_as_non_root = SEC_OF(c, ps, run_as_non_root) == 1;
    if (uid >= 0 && gid >= 0)
        pc->user = xasprintf("%lld:%lld", uid, gid);
    else if (uid >= 0)
        pc->user = xasprintf("%lld", uid);
    else if (gid >= 0)
        warn(x, "%s/%s: container %s: runAsGroup without runAsUser: the image's user and group",
             o->kind_name, o->name, c->name);
    pc->read_only = SEC_OF(c, ps, read_only_root_fs) == 1;
    pc->cap_add = (const char *const *)c->security.cap_add;
    pc->n_cap_add = c->security.n_cap_add;
    pc->cap_drop = (const char *const *)c->security.cap_drop;
    pc->n_cap_drop = c->security.n_cap_drop;
    const char *seccomp = c->security.seccomp ? c->security.seccomp : ps->security.seccomp;
    if (seccomp != NULL && strcmp(seccomp, "RuntimeDefault") != 0)
        warn(x, "%s/%s: container %s: seccompProfile %s: kiln applies its default profile",
             o->kind_name, o->name, c->name, seccomp);
    if (c->security.allow_privilege_escalation == 1)
        warn(x, "%s/%s: container %s: allowPrivilegeEscalation: kiln always sets no_new_privs",
             o->kind_name, o->name, c->name);
    return 0;
}

static int volumes_of(struct ctx *x, const struct kube_object *o, struct kube_play_pod *pp)
{
    const struct kube_pod_spec *ps = &o->pod;
    pp->volumes = xcalloc(ps->n_volumes + 1, sizeof(*pp->volumes));
    for (size_t i = 0; i < ps->n_volumes; i++) {
        const struct kube_volume *v = &ps->volumes[i];
        struct kube_play_volume *pv = &pp->volumes[pp->n_volumes++];
        pv->name = xstrdup(v->name);
        pv->type = v->type;
        if (v->type == KUBE_VOL_OTHER)
            return bad(x, o, o->line, o->col,
                       "volume %s: %s volumes are not provided by kube play (emptyDir, "
                       "configMap, secret)",
                       v->name, v->other ? v->other : "this type of");
        if (v->type == KUBE_VOL_EMPTYDIR)
            continue;
        int cm = v->type == KUBE_VOL_CONFIGMAP;
        const struct kube_object *d =
            v->ref_name ? find_data(x->m, cm ? KUBE_KIND_CONFIGMAP : KUBE_KIND_SECRET, v->ref_name)
                        : NULL;
        if (d == NULL)
            return bad(x, o, o->line, o->col, "volume %s: %s %s is not in the manifest", v->name,
                       cm ? "ConfigMap" : "Secret", v->ref_name ? v->ref_name : "(no name)");
        pv->files = xcalloc(d->n_data + 1, sizeof(*pv->files));
        for (size_t k = 0; k < d->n_data; k++) {
            const char *key = d->data[k].key;
            if (strchr(key, '/') != NULL || strcmp(key, "..") == 0 || strcmp(key, ".") == 0)
                return bad(x, o, o->line, o->col, "volume %s: key \"%s\" is not a file name",
                           v->name, key);
            pv->files[pv->n_files].key = xstrdup(key);
            pv->files[pv->n_files++].value = xstrdup(d->data[k].value);
        }
    }
    return 0;
}

static int mounts_of(struct ctx *x, const struct kube_object *o, const struct kube_container *c,
                     const struct kube_play_pod *pp, struct kube_play_container *pc)
{
    pc->mounts = xcalloc(c->n_mounts + 1, sizeof(*pc->mounts));
    for (size_t i = 0; i < c->n_mounts; i++) {
        const struct kube_mount *mt = &c->mounts[i];
        size_t v = 0;
        while (v < pp->n_volumes && strcmp(pp->volumes[v].name, mt->name) != 0)
            v++;
        if (mt->mount_path[0] != '/')
            return bad(x, o, c->line, c->col, "container %s: mountPath %s is not absolute", c->name,
                       mt->mount_path);
        if (mt->sub_path && (mt->sub_path[0] == '/' || strstr(mt->sub_path, "..") != NULL))
            return bad(x, o, c->line, c->col, "container %s: subPath %s leaves the volume", c->name,
                       mt->sub_path);
        struct kube_play_mount *pm = &pc->mounts[pc->n_mounts++];
        pm->volume = v;
        pm->target = xstrdup(mt->mount_path);
        pm->sub_path = mt->sub_path && *mt->sub_path ? xstrdup(mt->sub_path) : NULL;
        /* Kubernetes mounts configMap and secret volumes read-only */
        pm->read_only = mt->read_only == 1 || pp->volumes[v].type != KUBE_VOL_EMPTYDIR;
    }
    return 0;
}

static int selects(const struct kube_object *svc, const struct kube_object *o)
{
    if (svc->n_selector == 0)
        return 0;
    for (size_t i = 0; i < svc->n_selector; i++) {
        const char *v = kv_get(o->pod_labels, o->n_pod_labels, svc->selector[i].key);
        if (v == NULL || strcmp(v, svc->selector[i].value) != 0)
            return 0;
    }
    return 1;
}

static void add_port(struct kube_play_pod *pp, int host, int ctr, int udp, char *why)
{
    pp->ports = xrealloc(pp->ports, (pp->n_ports + 1) * sizeof(*pp->ports));
    pp->ports[pp->n_ports++] = (struct kube_play_port){host, ctr, udp, why};
}

/* hostPort, else each Service port that targets the containerPort. */
static int ports_of(struct ctx *x, const struct kube_object *o, struct kube_play_pod *pp)
{
    for (size_t ci = 0; ci < o->pod.n_containers; ci++) {
        const struct kube_container *c = &o->pod.containers[ci];
        for (size_t i = 0; i < c->n_ports; i++) {
            const struct kube_port *kp = &c->ports[i];
            int udp = strcmp(kp->protocol, "UDP") == 0;
            if (strcmp(kp->protocol, "SCTP") == 0) {
                warn(x, "%s/%s: container %s: SCTP port %d is not published", o->kind_name, o->name,
                     c->name, kp->container_port);
                continue;
            }
            if (kp->host_port > 0) {
                add_port(pp, kp->host_port, kp->container_port, udp, xstrdup("hostPort"));
                continue;
            }
            for (size_t s = 0; s < x->m->n; s++) {
                const struct kube_object *svc = &x->m->objects[s];
                if (svc->kind != KUBE_KIND_SERVICE || !selects(svc, o))
                    continue;
                for (size_t k = 0; k < svc->n_service_ports; k++) {
                    const struct kube_service_port *sp = &svc->service_ports[k];
                    int hit = sp->target_name   ? kp->name && strcmp(sp->target_name, kp->name) == 0
                              : sp->target_port ? sp->target_port == kp->container_port
                                                : sp->port == kp->container_port;
                    if (hit && strcmp(sp->protocol, kp->protocol) == 0)
                        add_port(pp, sp->port, kp->container_port, udp,
                                 xasprintf("Service/%s", svc->name));
                }
            }
        }
    }
    /* one host port, one pod */
    for (size_t i = 0; i < x->p->n_pods; i++)
        for (size_t a = 0; a < x->p->pods[i].n_ports; a++)
            for (size_t b = 0; b < pp->n_ports; b++) {
                const struct kube_play_port *pa = &x->p->pods[i].ports[a], *pb = &pp->ports[b];
                if (pa->host_port == pb->host_port && pa->udp == pb->udp)
                    return bad(x, o, o->line, o->col,
                               "host port 127.0.0.1:%d is also published for %s (%s)",
                               pb->host_port, x->p->pods[i].name, pa->why);
            }
    for (size_t a = 0; a < pp->n_ports; a++)
        for (size_t b = a + 1; b < pp->n_ports; b++)
            if (pp->ports[a].host_port == pp->ports[b].host_port &&
                pp->ports[a].udp == pp->ports[b].udp)
                return bad(x, o, o->line, o->col,
                           "host port 127.0.0.1:%d is published twice (%s, %s)",
                           pp->ports[a].host_port, pp->ports[a].why, pp->ports[b].why);
    return 0;
}

static int container_of(struct ctx *x, const struct kube_object *o, const struct kube_container *c,
                        const struct kube_play_pod *pp, struct kube_play_container *pc)
{
    pc->name = xasprintf("%s-%s", pp->name, c->name);
    pc->kname = c->name;
    pc->image = c->image;
    pc->workdir = c->working_dir;
    pc->line = c->line;
    pc->col = c->col;
    pc->cmd = xcalloc(c->n_command + c->n_args + 1, sizeof(char *));
    if (c->n_command > 0) {
        pc->entrypoint = xstrdup(c->command[0]);
        for (size_t i = 1; i < c->n_command; i++)
            pc->cmd[pc->n_cmd++] = xstrdup(c->command[i]);
    }
    for (size_t i = 0; i < c->n_args; i++)
        pc->cmd[pc->n_cmd++] = xstrdup(c->args[i]);
    if (env_of(x, o, c, pc) < 0 || security_of(x, o, c, pc) < 0 || health_of(x, o, c, pc) < 0 ||
        mounts_of(x, o, c, pp, pc) < 0)
        return -1;
    return 0;
}

static int pod_of(struct ctx *x, const struct kube_object *o, struct kube_play_pod *pp)
{
    pp->name = xasprintf("%s-pod", o->name);
    pp->object = o;
    if (o->kind == KUBE_KIND_DEPLOYMENT && o->replicas != 1)
        warn(x, "Deployment/%s: replicas %d: kube play runs one", o->name, o->replicas);
    if (o->pod.n_init_containers > 0)
        warn(x, "%s/%s: initContainers are not run", o->kind_name, o->name);
    if (o->pod.host_network == 1)
        warn(x, "%s/%s: hostNetwork: the pod gets a network of its own", o->kind_name, o->name);
    if (volumes_of(x, o, pp) < 0 || ports_of(x, o, pp) < 0)
        return -1;
    pp->containers = xcalloc(o->pod.n_containers, sizeof(*pp->containers));
    for (size_t i = 0; i < o->pod.n_containers; i++) {
        struct kube_play_container *pc = &pp->containers[pp->n_containers++];
        pc->run_as_user = -1;
        if (container_of(x, o, &o->pod.containers[i], pp, pc) < 0)
            return -1;
    }
    return 0;
}

int kube_play_plan(const char *file, const struct kube_manifest *m, struct kube_play_plan *p,
                   struct kiln_error **err)
{
    memset(p, 0, sizeof(*p));
    struct ctx x = {.file = file, .m = m, .p = p, .err = err};
    struct strbuf other = STRBUF_INIT;
    for (size_t i = 0; i < m->n; i++) {
        const struct kube_object *o = &m->objects[i];
        if (o->kind == KUBE_KIND_OTHER)
            strbuf_addf(&other, "%s%s/%s", other.len ? ", " : "", o->kind_name, o->name);
        if (o->kind != KUBE_KIND_POD && o->kind != KUBE_KIND_DEPLOYMENT)
            continue;
        p->pods = xrealloc(p->pods, (p->n_pods + 1) * sizeof(*p->pods));
        struct kube_play_pod *pp = &p->pods[p->n_pods];
        memset(pp, 0, sizeof(*pp));
        int rc = pod_of(&x, o, pp);
        p->n_pods++;
        if (rc < 0) {
            strbuf_release(&other);
            kube_play_plan_release(p);
            return -1;
        }
    }
    if (other.len > 0)
        warn(&x, "not run by kube play (kiln runs Pods, Deployments and Services): %s", other.buf);
    strbuf_release(&other);
    if (p->n_pods == 0) {
        kube_play_plan_release(p);
        return kiln_error_set(err, KILN_E_INVALID, "%s: no Pod or Deployment to play", file);
    }
    return 0;
}

void kube_play_plan_release(struct kube_play_plan *p)
{
    for (size_t i = 0; i < p->n_pods; i++) {
        struct kube_play_pod *pp = &p->pods[i];
        for (size_t k = 0; k < pp->n_ports; k++)
            free(pp->ports[k].why);
        free(pp->ports);
        for (size_t k = 0; k < pp->n_volumes; k++) {
            free(pp->volumes[k].name);
            kube_kv_free(pp->volumes[k].files, pp->volumes[k].n_files);
        }
        free(pp->volumes);
        for (size_t k = 0; k < pp->n_containers; k++) {
            struct kube_play_container *pc = &pp->containers[k];
            free(pc->name);
            for (size_t e = 0; e < pc->n_env; e++)
                free(pc->env[e]);
            free(pc->env);
            free(pc->user);
            free(pc->entrypoint);
            for (size_t e = 0; e < pc->n_cmd; e++)
                free(pc->cmd[e]);
            free(pc->cmd);
            for (size_t e = 0; e < pc->n_mounts; e++) {
                free(pc->mounts[e].target);
                free(pc->mounts[e].sub_path);
            }
            free(pc->mounts);
            json_decref(pc->healthcheck);
        }
        free(pp->containers);
        free(pp->name);
    }
    free(p->pods);
    for (size_t i = 0; i < p->n_warnings; i++)
        free(p->warnings[i]);
    free(p->warnings);
    memset(p, 0, sizeof(*p));
}
