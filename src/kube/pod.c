/* A pod spec read into the model: containers (image, command, env, ports, probes,
 * security context, mounts), volumes and the pod's security context. Only the
 * fields kiln acts on are modelled; each of them is type-checked. */
#include <stdlib.h>
#include <string.h>

#include "kube/read.h"
#include "util/cleanup.h"

static void security_init(struct kube_security *s)
{
    memset(s, 0, sizeof(*s));
    s->run_as_user = s->run_as_group = -1;
    s->run_as_non_root = s->read_only_root_fs = s->allow_privilege_escalation = s->privileged = -1;
}

static void security_release(struct kube_security *s)
{
    kube_strs_free(s->cap_add, s->n_cap_add);
    kube_strs_free(s->cap_drop, s->n_cap_drop);
    free(s->seccomp);
}

static int read_security(struct kube_rd *rd, const struct kube_node *map, const char *path,
                         struct kube_security *s)
{
    const struct kube_node *sc, *caps, *seccomp;
    cleanup_free char *p = kube_path(path, "securityContext");
    if (kube_rd_node(rd, map, "securityContext", path, KUBE_MAP, &sc) < 0)
        return -1;
    if (sc == NULL)
        return 0;
    cleanup_free char *pc = kube_path(p, "capabilities");
    cleanup_free char *ps = kube_path(p, "seccompProfile");
    if (kube_rd_int(rd, sc, "runAsUser", p, 0, 2147483647LL, &s->run_as_user) < 0 ||
        kube_rd_int(rd, sc, "runAsGroup", p, 0, 2147483647LL, &s->run_as_group) < 0 ||
        kube_rd_bool(rd, sc, "runAsNonRoot", p, &s->run_as_non_root) < 0 ||
        kube_rd_bool(rd, sc, "readOnlyRootFilesystem", p, &s->read_only_root_fs) < 0 ||
        kube_rd_bool(rd, sc, "allowPrivilegeEscalation", p, &s->allow_privilege_escalation) < 0 ||
        kube_rd_bool(rd, sc, "privileged", p, &s->privileged) < 0 ||
        kube_rd_node(rd, sc, "capabilities", p, KUBE_MAP, &caps) < 0 ||
        kube_rd_node(rd, sc, "seccompProfile", p, KUBE_MAP, &seccomp) < 0)
        return -1;
    if (caps != NULL && (kube_rd_strs(rd, caps, "add", pc, &s->cap_add, &s->n_cap_add) < 0 ||
                         kube_rd_strs(rd, caps, "drop", pc, &s->cap_drop, &s->n_cap_drop) < 0))
        return -1;
    if (seccomp != NULL && kube_rd_str(rd, seccomp, "type", ps, &s->seccomp) < 0)
        return -1;
    return 0;
}

static int read_probe(struct kube_rd *rd, const struct kube_node *c, const char *key,
                      const char *path, struct kube_probe *pr)
{
    const struct kube_node *m, *exec, *http, *tcp;
    pr->period = 10;
    pr->timeout = pr->success_threshold = 1;
    pr->failure_threshold = 3;
    if (kube_rd_node(rd, c, key, path, KUBE_MAP, &m) < 0)
        return -1;
    if (m == NULL)
        return 0;
    cleanup_free char *p = kube_path(path, key);
    cleanup_free char *pe = kube_path(p, "exec");
    cleanup_free char *ph = kube_path(p, "httpGet");
    cleanup_free char *pt = kube_path(p, "tcpSocket");
    if (kube_rd_node(rd, m, "exec", p, KUBE_MAP, &exec) < 0 ||
        kube_rd_node(rd, m, "httpGet", p, KUBE_MAP, &http) < 0 ||
        kube_rd_node(rd, m, "tcpSocket", p, KUBE_MAP, &tcp) < 0 ||
        kube_rd_int32(rd, m, "initialDelaySeconds", p, 0, &pr->initial_delay) < 0 ||
        kube_rd_int32(rd, m, "periodSeconds", p, 1, &pr->period) < 0 ||
        kube_rd_int32(rd, m, "timeoutSeconds", p, 1, &pr->timeout) < 0 ||
        kube_rd_int32(rd, m, "failureThreshold", p, 1, &pr->failure_threshold) < 0 ||
        kube_rd_int32(rd, m, "successThreshold", p, 1, &pr->success_threshold) < 0)
        return -1;
    if ((exec != NULL) + (http != NULL) + (tcp != NULL) != 1)
        return kube_bad(rd, m, p, "give exactly one of exec, httpGet, tcpSocket");
    if (exec != NULL) {
        pr->type = KUBE_PROBE_EXEC;
        if (kube_rd_strs(rd, exec, "command", pe, &pr->command, &pr->n_command) < 0)
            return -1;
        if (pr->n_command == 0)
            return kube_bad(rd, exec, pe, "command is missing");
        return 0;
    }
    const struct kube_node *at = http ? http : tcp;
    pr->type = http ? KUBE_PROBE_HTTP : KUBE_PROBE_TCP;
    if ((http && kube_rd_str(rd, http, "path", ph, &pr->path) < 0) ||
        kube_rd_port(rd, at, "port", http ? ph : pt, &pr->port, &pr->port_name) < 0)
        return -1;
    if (pr->port == 0 && pr->port_name == NULL)
        return kube_bad(rd, at, http ? ph : pt, "port is missing");
    return 0;
}

static void probe_release(struct kube_probe *pr)
{
    kube_strs_free(pr->command, pr->n_command);
    free(pr->path);
    free(pr->port_name);
}

static int read_env(struct kube_rd *rd, const struct kube_node *e, const char *p,
                    struct kube_env *env)
{
    const struct kube_node *from, *ref = NULL;
    if (kube_rd_str(rd, e, "name", p, &env->name) < 0 ||
        kube_rd_str(rd, e, "value", p, &env->value) < 0 ||
        kube_rd_node(rd, e, "valueFrom", p, KUBE_MAP, &from) < 0)
        return -1;
    if (env->name == NULL)
        return kube_bad(rd, e, p, "name is missing");
    if (from == NULL)
        return 0;
    cleanup_free char *pf = kube_path(p, "valueFrom");
    const char *key = NULL;
    if (kube_rd_node(rd, from, "configMapKeyRef", pf, KUBE_MAP, &ref) < 0)
        return -1;
    if (ref != NULL) {
        env->from = KUBE_ENV_CONFIGMAP;
        key = "configMapKeyRef";
    } else {
        if (kube_rd_node(rd, from, "secretKeyRef", pf, KUBE_MAP, &ref) < 0)
            return -1;
        env->from = ref ? KUBE_ENV_SECRET : KUBE_ENV_OTHER;
        key = "secretKeyRef";
    }
    if (ref == NULL)
        return 0;
    cleanup_free char *pr = kube_path(pf, key);
    if (kube_rd_str(rd, ref, "name", pr, &env->ref_name) < 0 ||
        kube_rd_str(rd, ref, "key", pr, &env->ref_key) < 0 ||
        kube_rd_bool(rd, ref, "optional", pr, &env->optional) < 0)
        return -1;
    if (env->ref_name == NULL || env->ref_key == NULL)
        return kube_bad(rd, ref, pr, "needs name and key");
    return 0;
}

static int read_env_from(struct kube_rd *rd, const struct kube_node *e, const char *p,
                         struct kube_env_source *src)
{
    const struct kube_node *cm, *sec;
    if (kube_rd_str(rd, e, "prefix", p, &src->prefix) < 0 ||
        kube_rd_node(rd, e, "configMapRef", p, KUBE_MAP, &cm) < 0 ||
        kube_rd_node(rd, e, "secretRef", p, KUBE_MAP, &sec) < 0)
        return -1;
    if ((cm != NULL) == (sec != NULL))
        return kube_bad(rd, e, p, "give one of configMapRef, secretRef");
    cleanup_free char *pr = kube_path(p, cm ? "configMapRef" : "secretRef");
    src->secret = sec != NULL;
    if (kube_rd_str(rd, cm ? cm : sec, "name", pr, &src->name) < 0 ||
        kube_rd_bool(rd, cm ? cm : sec, "optional", pr, &src->optional) < 0)
        return -1;
    if (src->name == NULL)
        return kube_bad(rd, cm ? cm : sec, pr, "name is missing");
    return 0;
}

static int read_port(struct kube_rd *rd, const struct kube_node *m, const char *p,
                     struct kube_port *port)
{
    if (kube_rd_str(rd, m, "name", p, &port->name) < 0 ||
        kube_rd_str(rd, m, "protocol", p, &port->protocol) < 0 ||
        kube_rd_int32(rd, m, "containerPort", p, 1, &port->container_port) < 0 ||
        kube_rd_int32(rd, m, "hostPort", p, 0, &port->host_port) < 0)
        return -1;
    if (port->container_port == 0)
        return kube_bad(rd, m, p, "containerPort is missing (a number 1 to 65535)");
    if (port->container_port > 65535 || port->host_port > 65535)
        return kube_bad(rd, m, p, "%d is not a port (1 to 65535)",
                        port->container_port > 65535 ? port->container_port : port->host_port);
    if (port->protocol == NULL)
        port->protocol = xstrdup("TCP");
    else if (strcmp(port->protocol, "TCP") != 0 && strcmp(port->protocol, "UDP") != 0 &&
             strcmp(port->protocol, "SCTP") != 0)
        return kube_bad(rd, m, p, "protocol \"%s\": TCP, UDP or SCTP", port->protocol);
    return 0;
}

/* Reads the list map[key] of maps with one reader per item. */
#define READ_LIST(rd, map, key, path, arr, cnt, fn)                                                \
    ({                                                                                             \
        const struct kube_node *seq_;                                                              \
        int rc_ = kube_rd_node(rd, map, key, path, KUBE_SEQ, &seq_);                               \
        cleanup_free char *pl_ = kube_path(path, key);                                             \
        for (size_t i_ = 0; rc_ == 0 && seq_ != NULL && i_ < seq_->n; i_++) {                      \
            cleanup_free char *pi_ = kube_path_index(pl_, i_);                                     \
            (arr) = xrealloc((arr), ((cnt) + 1) * sizeof(*(arr)));                                 \
            memset(&(arr)[(cnt)], 0, sizeof(*(arr)));                                              \
            (cnt)++;                                                                               \
            if (seq_->items[i_]->type != KUBE_MAP)                                                 \
                rc_ = kube_bad(rd, seq_->items[i_], pi_, "expected a map, got %s",                 \
                               kube_type_name(seq_->items[i_]->type));                             \
            else                                                                                   \
                rc_ = fn(rd, seq_->items[i_], pi_, &(arr)[(cnt)-1]);                               \
        }                                                                                          \
        rc_;                                                                                       \
    })

static int read_mount(struct kube_rd *rd, const struct kube_node *m, const char *p,
                      struct kube_mount *mt)
{
    mt->read_only = 0;
    if (kube_rd_str(rd, m, "name", p, &mt->name) < 0 ||
        kube_rd_str(rd, m, "mountPath", p, &mt->mount_path) < 0 ||
        kube_rd_str(rd, m, "subPath", p, &mt->sub_path) < 0 ||
        kube_rd_bool(rd, m, "readOnly", p, &mt->read_only) < 0)
        return -1;
    if (mt->name == NULL || mt->mount_path == NULL)
        return kube_bad(rd, m, p, "needs name and mountPath");
    return 0;
}

static int read_container(struct kube_rd *rd, const struct kube_node *m, const char *p,
                          struct kube_container *c)
{
    security_init(&c->security);
    c->line = m->line;
    c->col = m->col;
    if (kube_rd_str(rd, m, "name", p, &c->name) < 0 ||
        kube_rd_str(rd, m, "image", p, &c->image) < 0 ||
        kube_rd_str(rd, m, "workingDir", p, &c->working_dir) < 0 ||
        kube_rd_str(rd, m, "imagePullPolicy", p, &c->pull_policy) < 0 ||
        kube_rd_strs(rd, m, "command", p, &c->command, &c->n_command) < 0 ||
        kube_rd_strs(rd, m, "args", p, &c->args, &c->n_args) < 0 ||
        READ_LIST(rd, m, "env", p, c->env, c->n_env, read_env) < 0 ||
        READ_LIST(rd, m, "envFrom", p, c->env_from, c->n_env_from, read_env_from) < 0 ||
        READ_LIST(rd, m, "ports", p, c->ports, c->n_ports, read_port) < 0 ||
        READ_LIST(rd, m, "volumeMounts", p, c->mounts, c->n_mounts, read_mount) < 0 ||
        read_probe(rd, m, "livenessProbe", p, &c->liveness) < 0 ||
        read_probe(rd, m, "readinessProbe", p, &c->readiness) < 0 ||
        read_probe(rd, m, "startupProbe", p, &c->startup) < 0 ||
        read_security(rd, m, p, &c->security) < 0)
        return -1;
    if (c->name == NULL)
        return kube_bad(rd, m, p, "name is missing");
    if (c->image == NULL)
        return kube_bad(rd, m, p, "image is missing");
    return 0;
}

static int read_volume(struct kube_rd *rd, const struct kube_node *m, const char *p,
                       struct kube_volume *v)
{
    if (kube_rd_str(rd, m, "name", p, &v->name) < 0)
        return -1;
    if (v->name == NULL)
        return kube_bad(rd, m, p, "name is missing");
    const struct kube_node *src;
    if (kube_get(m, "emptyDir") != NULL) {
        v->type = KUBE_VOL_EMPTYDIR;
        return kube_rd_node(rd, m, "emptyDir", p, KUBE_MAP, &src);
    }
    cleanup_free char *pc = kube_path(p, "configMap");
    cleanup_free char *ps = kube_path(p, "secret");
    if (kube_rd_node(rd, m, "configMap", p, KUBE_MAP, &src) < 0)
        return -1;
    if (src != NULL) {
        v->type = KUBE_VOL_CONFIGMAP;
        return kube_rd_str(rd, src, "name", pc, &v->ref_name);
    }
    if (kube_rd_node(rd, m, "secret", p, KUBE_MAP, &src) < 0)
        return -1;
    if (src != NULL) {
        v->type = KUBE_VOL_SECRET;
        return kube_rd_str(rd, src, "secretName", ps, &v->ref_name);
    }
    v->type = KUBE_VOL_OTHER;
    for (size_t i = 0; i + 1 < m->n; i += 2)
        if (strcmp(m->items[i]->str, "name") != 0) {
            v->other = xstrdup(m->items[i]->str);
            break;
        }
    return 0;
}

int kube_read_pod_spec(struct kube_rd *rd, const struct kube_node *spec, const char *path,
                       struct kube_pod_spec *ps)
{
    security_init(&ps->security);
    if (READ_LIST(rd, spec, "containers", path, ps->containers, ps->n_containers, read_container) <
            0 ||
        READ_LIST(rd, spec, "initContainers", path, ps->init_containers, ps->n_init_containers,
                  read_container) < 0 ||
        READ_LIST(rd, spec, "volumes", path, ps->volumes, ps->n_volumes, read_volume) < 0 ||
        kube_rd_bool(rd, spec, "hostNetwork", path, &ps->host_network) < 0 ||
        read_security(rd, spec, path, &ps->security) < 0)
        return -1;
    if (ps->n_containers == 0) {
        cleanup_free char *p = kube_path(path, "containers");
        return kube_bad(rd, spec, p, "a pod needs at least one container");
    }
    for (size_t i = 0; i < ps->n_containers; i++)
        for (size_t j = 0; j < ps->n_containers; j++)
            if (i != j && strcmp(ps->containers[i].name, ps->containers[j].name) == 0) {
                cleanup_free char *p = kube_path(path, "containers");
                return kube_bad(rd, spec, p, "two containers named \"%s\"", ps->containers[i].name);
            }
    for (size_t i = 0; i < ps->n_containers; i++)
        for (size_t k = 0; k < ps->containers[i].n_mounts; k++) {
            const char *vn = ps->containers[i].mounts[k].name;
            size_t v = 0;
            while (v < ps->n_volumes && strcmp(ps->volumes[v].name, vn) != 0)
                v++;
            if (v == ps->n_volumes) {
                cleanup_free char *p = kube_path(path, "containers");
                return kube_bad(rd, spec, p,
                                "container %s mounts volume \"%s\", which the pod does not have",
                                ps->containers[i].name, vn);
            }
        }
    return 0;
}

static void container_release(struct kube_container *c)
{
    free(c->name);
    free(c->image);
    free(c->working_dir);
    free(c->pull_policy);
    kube_strs_free(c->command, c->n_command);
    kube_strs_free(c->args, c->n_args);
    for (size_t i = 0; i < c->n_env; i++) {
        free(c->env[i].name);
        free(c->env[i].value);
        free(c->env[i].ref_name);
        free(c->env[i].ref_key);
    }
    free(c->env);
    for (size_t i = 0; i < c->n_env_from; i++) {
        free(c->env_from[i].name);
        free(c->env_from[i].prefix);
    }
    free(c->env_from);
    for (size_t i = 0; i < c->n_ports; i++) {
        free(c->ports[i].name);
        free(c->ports[i].protocol);
    }
    free(c->ports);
    for (size_t i = 0; i < c->n_mounts; i++) {
        free(c->mounts[i].name);
        free(c->mounts[i].mount_path);
        free(c->mounts[i].sub_path);
    }
    free(c->mounts);
    probe_release(&c->liveness);
    probe_release(&c->readiness);
    probe_release(&c->startup);
    security_release(&c->security);
}

void kube_pod_spec_release(struct kube_pod_spec *ps)
{
    for (size_t i = 0; i < ps->n_containers; i++)
        container_release(&ps->containers[i]);
    free(ps->containers);
    for (size_t i = 0; i < ps->n_init_containers; i++)
        container_release(&ps->init_containers[i]);
    free(ps->init_containers);
    for (size_t i = 0; i < ps->n_volumes; i++) {
        free(ps->volumes[i].name);
        free(ps->volumes[i].ref_name);
        free(ps->volumes[i].other);
    }
    free(ps->volumes);
    security_release(&ps->security);
    memset(ps, 0, sizeof(*ps));
}
