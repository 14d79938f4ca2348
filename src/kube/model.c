/* A manifest (every YAML document of a file) read into kube_objects and checked
 * whole: apiVersion/kind against the API groups Kubernetes serves, metadata, the
 * Deployment, Service, ConfigMap and Secret fields kiln uses, names unique per kind. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "kube/read.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const struct {
    const char *api, *kind;
    enum kube_kind k;
} kinds[] = {
    {"v1", "Pod", KUBE_KIND_POD},
    {"apps/v1", "Deployment", KUBE_KIND_DEPLOYMENT},
    {"v1", "Service", KUBE_KIND_SERVICE},
    {"v1", "ConfigMap", KUBE_KIND_CONFIGMAP},
    {"v1", "Secret", KUBE_KIND_SECRET},
    /* known, not run by kiln */
    {"v1", "Namespace", KUBE_KIND_OTHER},
    {"v1", "ServiceAccount", KUBE_KIND_OTHER},
    {"v1", "PersistentVolumeClaim", KUBE_KIND_OTHER},
    {"v1", "PersistentVolume", KUBE_KIND_OTHER},
    {"v1", "Endpoints", KUBE_KIND_OTHER},
    {"v1", "LimitRange", KUBE_KIND_OTHER},
    {"v1", "ResourceQuota", KUBE_KIND_OTHER},
    {"v1", "ReplicationController", KUBE_KIND_OTHER},
    {"apps/v1", "StatefulSet", KUBE_KIND_OTHER},
    {"apps/v1", "DaemonSet", KUBE_KIND_OTHER},
    {"apps/v1", "ReplicaSet", KUBE_KIND_OTHER},
    {"batch/v1", "Job", KUBE_KIND_OTHER},
    {"batch/v1", "CronJob", KUBE_KIND_OTHER},
    {"networking.k8s.io/v1", "Ingress", KUBE_KIND_OTHER},
    {"networking.k8s.io/v1", "IngressClass", KUBE_KIND_OTHER},
    {"networking.k8s.io/v1", "NetworkPolicy", KUBE_KIND_OTHER},
    {"autoscaling/v2", "HorizontalPodAutoscaler", KUBE_KIND_OTHER},
    {"autoscaling/v1", "HorizontalPodAutoscaler", KUBE_KIND_OTHER},
    {"policy/v1", "PodDisruptionBudget", KUBE_KIND_OTHER},
    {"rbac.authorization.k8s.io/v1", "Role", KUBE_KIND_OTHER},
    {"rbac.authorization.k8s.io/v1", "RoleBinding", KUBE_KIND_OTHER},
    {"rbac.authorization.k8s.io/v1", "ClusterRole", KUBE_KIND_OTHER},
    {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", KUBE_KIND_OTHER},
    {"scheduling.k8s.io/v1", "PriorityClass", KUBE_KIND_OTHER},
    {"storage.k8s.io/v1", "StorageClass", KUBE_KIND_OTHER},
    {"apiextensions.k8s.io/v1", "CustomResourceDefinition", KUBE_KIND_OTHER},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

/* The model kind of apiVersion/kind, or an error that says what is wrong. */
static int lookup_kind(struct kube_rd *rd, const struct kube_node *doc, const char *api,
                       const char *kind, enum kube_kind *out)
{
    const char *api_known = NULL, *kind_api = NULL;
    for (size_t i = 0; i < N_KINDS; i++) {
        if (strcmp(kinds[i].api, api) == 0 && strcmp(kinds[i].kind, kind) == 0) {
            *out = kinds[i].k;
            return 0;
        }
        if (strcmp(kinds[i].api, api) == 0)
            api_known = api;
        if (strcmp(kinds[i].kind, kind) == 0 && kind_api == NULL)
            kind_api = kinds[i].api;
    }
    if (kind_api != NULL)
        return kube_bad(rd, doc, "apiVersion", "%s is not served as \"%s\" (use apiVersion: %s)",
                        kind, api, kind_api);
    if (api_known != NULL)
        return kube_bad(rd, doc, "kind", "unknown kind \"%s\" in apiVersion %s", kind, api);
    return kube_bad(rd, doc, "apiVersion", "unknown apiVersion \"%s\" (kind %s)", api, kind);
}

static int read_deployment(struct kube_rd *rd, const struct kube_node *doc, struct kube_object *o)
{
    const struct kube_node *spec, *selector, *tmpl, *tmeta, *pspec;
    struct kube_kv *labels = NULL;
    size_t n_labels = 0;
    long long replicas = 1;
    if (kube_rd_node(rd, doc, "spec", "", KUBE_MAP, &spec) < 0)
        return -1;
    if (spec == NULL)
        return kube_bad(rd, doc, "spec", "is missing");
    if (kube_rd_int(rd, spec, "replicas", "spec", 0, 2147483647LL, &replicas) < 0 ||
        kube_rd_node(rd, spec, "selector", "spec", KUBE_MAP, &selector) < 0 ||
        kube_rd_node(rd, spec, "template", "spec", KUBE_MAP, &tmpl) < 0)
        return -1;
    o->replicas = (int)replicas;
    if (selector == NULL)
        return kube_bad(rd, spec, "spec.selector", "is missing");
    if (tmpl == NULL)
        return kube_bad(rd, spec, "spec.template", "is missing");
    if (kube_rd_kv(rd, selector, "matchLabels", "spec.selector", &o->selector, &o->n_selector) <
            0 ||
        kube_rd_node(rd, tmpl, "metadata", "spec.template", KUBE_MAP, &tmeta) < 0 ||
        kube_rd_node(rd, tmpl, "spec", "spec.template", KUBE_MAP, &pspec) < 0)
        return -1;
    if (pspec == NULL)
        return kube_bad(rd, tmpl, "spec.template.spec", "is missing");
    if (tmeta != NULL &&
        kube_rd_kv(rd, tmeta, "labels", "spec.template.metadata", &labels, &n_labels) < 0) {
        kube_kv_free(labels, n_labels);
        return -1;
    }
    /* Kubernetes refuses a selector that does not select the template's pods. */
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < o->n_selector; i++) {
        size_t j = 0;
        while (j < n_labels && (strcmp(labels[j].key, o->selector[i].key) != 0 ||
                                strcmp(labels[j].value, o->selector[i].value) != 0))
            j++;
        if (j == n_labels)
            rc = kube_bad(rd, selector, "spec.selector.matchLabels",
                          "%s=%s does not match the template's labels", o->selector[i].key,
                          o->selector[i].value);
    }
    o->pod_labels = labels;
    o->n_pod_labels = n_labels;
    if (rc < 0)
        return -1;
    return kube_read_pod_spec(rd, pspec, "spec.template.spec", &o->pod);
}

static int read_service_port(struct kube_rd *rd, const struct kube_node *m, const char *p,
                             struct kube_service_port *sp)
{
    long long port = 0, node_port = 0;
    if (kube_rd_str(rd, m, "name", p, &sp->name) < 0 ||
        kube_rd_str(rd, m, "protocol", p, &sp->protocol) < 0 ||
        kube_rd_int(rd, m, "port", p, 1, 65535, &port) < 0 ||
        kube_rd_int(rd, m, "nodePort", p, 0, 65535, &node_port) < 0 ||
        kube_rd_port(rd, m, "targetPort", p, &sp->target_port, &sp->target_name) < 0)
        return -1;
    if (port == 0)
        return kube_bad(rd, m, p, "port is missing");
    sp->port = (int)port;
    sp->node_port = (int)node_port;
    if (sp->protocol == NULL)
        sp->protocol = xstrdup("TCP");
    return 0;
}

static int read_service(struct kube_rd *rd, const struct kube_node *doc, struct kube_object *o)
{
    const struct kube_node *spec, *ports;
    if (kube_rd_node(rd, doc, "spec", "", KUBE_MAP, &spec) < 0)
        return -1;
    if (spec == NULL)
        return kube_bad(rd, doc, "spec", "is missing");
    if (kube_rd_str(rd, spec, "type", "spec", &o->service_type) < 0 ||
        kube_rd_kv(rd, spec, "selector", "spec", &o->selector, &o->n_selector) < 0 ||
        kube_rd_node(rd, spec, "ports", "spec", KUBE_SEQ, &ports) < 0)
        return -1;
    for (size_t i = 0; ports != NULL && i < ports->n; i++) {
        cleanup_free char *p = kube_path_index("spec.ports", i);
        o->service_ports =
            xrealloc(o->service_ports, (o->n_service_ports + 1) * sizeof(*o->service_ports));
        struct kube_service_port *sp = &o->service_ports[o->n_service_ports++];
        memset(sp, 0, sizeof(*sp));
        if (ports->items[i]->type != KUBE_MAP)
            return kube_bad(rd, ports->items[i], p, "expected a map, got %s",
                            kube_type_name(ports->items[i]->type));
        if (read_service_port(rd, ports->items[i], p, sp) < 0)
            return -1;
    }
    return 0;
}

static int decode_secret(struct kube_rd *rd, const struct kube_node *doc, struct kube_object *o)
{
    const struct kube_node *data = kube_get(doc, "data");
    for (size_t i = 0; i < o->n_data; i++) {
        char *v = o->data[i].value;
        size_t len = strlen(v), pad = 0;
        if (len % 4 != 0 ||
            strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != len)
            return kube_bad(rd, data, "data", "%s: not base64", o->data[i].key);
        while (pad < len && pad < 2 && v[len - 1 - pad] == '=')
            pad++;
        unsigned char *out = xmalloc(len / 4 * 3 + 1);
        int n = len ? EVP_DecodeBlock(out, (const unsigned char *)v, (int)len) : 0;
        if (n < 0 || (size_t)n < pad) {
            free(out);
            return kube_bad(rd, data, "data", "%s: not base64", o->data[i].key);
        }
        out[n - pad] = '\0';
        free(v);
        o->data[i].value = (char *)out;
    }
    return kube_rd_kv(rd, doc, "stringData", "", &o->data, &o->n_data);
}

static void object_release(struct kube_object *o)
{
    free(o->api_version);
    free(o->kind_name);
    free(o->name);
    free(o->namespace);
    kube_kv_free(o->labels, o->n_labels);
    kube_kv_free(o->selector, o->n_selector);
    kube_kv_free(o->pod_labels, o->n_pod_labels);
    kube_pod_spec_release(&o->pod);
    free(o->service_type);
    for (size_t i = 0; i < o->n_service_ports; i++) {
        free(o->service_ports[i].name);
        free(o->service_ports[i].protocol);
        free(o->service_ports[i].target_name);
    }
    free(o->service_ports);
    kube_kv_free(o->data, o->n_data);
}

static int read_object(struct kube_rd *rd, const struct kube_node *doc, struct kube_object *o)
{
    const struct kube_node *meta;
    o->line = doc->line;
    o->col = doc->col;
    rd->obj[0] = '\0';
    if (doc->type != KUBE_MAP)
        return kube_bad(rd, doc, NULL,
                        "a manifest document must be a map with apiVersion and kind, not %s",
                        kube_type_name(doc->type));
    if (kube_rd_str(rd, doc, "apiVersion", "", &o->api_version) < 0 ||
        kube_rd_str(rd, doc, "kind", "", &o->kind_name) < 0)
        return -1;
    if (o->api_version == NULL || o->kind_name == NULL)
        return kube_bad(rd, doc, NULL, "apiVersion and kind are required");
    if (kube_rd_node(rd, doc, "metadata", "", KUBE_MAP, &meta) < 0 ||
        (meta && (kube_rd_str(rd, meta, "name", "metadata", &o->name) < 0 ||
                  kube_rd_str(rd, meta, "namespace", "metadata", &o->namespace) < 0 ||
                  kube_rd_kv(rd, meta, "labels", "metadata", &o->labels, &o->n_labels) < 0)))
        return -1;
    snprintf(rd->obj, sizeof(rd->obj), "%s/%s", o->kind_name, o->name ? o->name : "?");
    if (lookup_kind(rd, doc, o->api_version, o->kind_name, &o->kind) < 0)
        return -1;
    if (o->name == NULL || o->name[0] == '\0')
        return kube_bad(rd, meta ? meta : doc, "metadata.name", "is missing");
    switch (o->kind) {
    case KUBE_KIND_POD: {
        const struct kube_node *spec;
        if (kube_rd_node(rd, doc, "spec", "", KUBE_MAP, &spec) < 0)
            return -1;
        if (spec == NULL)
            return kube_bad(rd, doc, "spec", "is missing");
        o->replicas = 1;
        for (size_t i = 0; i < o->n_labels; i++) {
            o->pod_labels = xrealloc(o->pod_labels, (o->n_pod_labels + 1) * sizeof(struct kube_kv));
            o->pod_labels[o->n_pod_labels].key = xstrdup(o->labels[i].key);
            o->pod_labels[o->n_pod_labels++].value = xstrdup(o->labels[i].value);
        }
        return kube_read_pod_spec(rd, spec, "spec", &o->pod);
    }
    case KUBE_KIND_DEPLOYMENT:
        return read_deployment(rd, doc, o);
    case KUBE_KIND_SERVICE:
        return read_service(rd, doc, o);
    case KUBE_KIND_CONFIGMAP:
        return kube_rd_kv(rd, doc, "data", "", &o->data, &o->n_data);
    case KUBE_KIND_SECRET:
        if (kube_rd_kv(rd, doc, "data", "", &o->data, &o->n_data) < 0)
            return -1;
        return decode_secret(rd, doc, o);
    case KUBE_KIND_OTHER:
        break;
    }
    return 0;
}

int kube_manifest_parse(const char *name, const char *text, size_t len, struct kube_manifest *m,
                        struct kiln_error **err)
{
    struct kube_node **docs = NULL;
    size_t n_docs = 0;
    memset(m, 0, sizeof(*m));
    if (kube_yaml_parse(name, text, len, &docs, &n_docs, err) < 0)
        return -1;
    struct kube_rd rd = {.file = name, .err = err};
    int rc = 0;
    if (n_docs == 0)
        rc = kiln_error_set(err, KILN_E_INVALID, "%s: no objects in the manifest", name);
    for (size_t i = 0; rc == 0 && i < n_docs; i++) {
        m->objects = xrealloc(m->objects, (m->n + 1) * sizeof(*m->objects));
        struct kube_object *o = &m->objects[m->n++];
        memset(o, 0, sizeof(*o));
        rc = read_object(&rd, docs[i], o);
        for (size_t j = 0; rc == 0 && j + 1 < m->n; j++) {
            const struct kube_object *p = &m->objects[j];
            if (strcmp(p->kind_name, o->kind_name) == 0 && strcmp(p->name, o->name) == 0 &&
                strcmp(p->namespace ? p->namespace : "", o->namespace ? o->namespace : "") == 0)
                rc = kube_bad(&rd, docs[i], NULL, "a second %s named %s (the first at line %u)",
                              o->kind_name, o->name, p->line);
        }
    }
    kube_docs_free(docs, n_docs);
    if (rc < 0)
        kube_manifest_release(m);
    return rc;
}

int kube_manifest_read(const char *path, struct kube_manifest *m, struct kiln_error **err)
{
    cleanup_free char *text = NULL;
    size_t len = 0;
    if (read_file(path, 16u << 20, &text, &len, err) < 0)
        return -1;
    return kube_manifest_parse(path, text, len, m, err);
}

void kube_manifest_release(struct kube_manifest *m)
{
    for (size_t i = 0; i < m->n; i++)
        object_release(&m->objects[i]);
    free(m->objects);
    memset(m, 0, sizeof(*m));
}
