/* Kubernetes manifests: YAML (libyaml) read into a tree that remembers where each
 * node came from, a model of the kinds kiln can run (Pod, Deployment, Service,
 * ConfigMap, Secret) checked whole with one file:line:column error, and the
 * writer `kiln kube generate` uses (an image or container -> Deployment, Service).
 * Depends on util/ only, so the reader can be fuzzed alone (fuzz/fuzz_kube.c). */
#ifndef KILN_KUBE_KUBE_H
#define KILN_KUBE_KUBE_H

#include <jansson.h>
#include <stddef.h>

#include "util/error.h"
#include "util/strbuf.h"

/* ---- the YAML tree ---------------------------------------------------------- */

enum kube_type { KUBE_NULL, KUBE_BOOL, KUBE_INT, KUBE_FLOAT, KUBE_STR, KUBE_SEQ, KUBE_MAP };

/* A node. Scalars keep their text (str) whatever their type; plain scalars are
 * typed by YAML 1.2's core schema (true/false, integers, floats, null, ~),
 * quoted ones and !!str are strings. A map's items are key, value, key, value...
 * (keys are scalars, no two alike). line/col are 1-based. */
struct kube_node {
    enum kube_type type;
    unsigned line, col;
    char *str;
    long long i;
    int b;
    struct kube_node **items;
    size_t n; /* items (a map has n/2 pairs) */
};

/* The documents of text (len bytes; name is the file name in errors): *docs gets
 * one tree per non-empty document. Aliases are refused; depth and size bounded. */
int kube_yaml_parse(const char *name, const char *text, size_t len, struct kube_node ***docs,
                    size_t *n_docs, struct kiln_error **err);
void kube_node_free(struct kube_node *n);
void kube_docs_free(struct kube_node **docs, size_t n);

/* Builders, for writers: each returns a new node (allocation failure aborts). */
struct kube_node *kube_map(void);
struct kube_node *kube_seq(void);
struct kube_node *kube_str(const char *s);
struct kube_node *kube_int(long long v);
struct kube_node *kube_bool(int v);
/* Appends to a seq, or key + value to a map; returns value. */
struct kube_node *kube_push(struct kube_node *seq, struct kube_node *value);
struct kube_node *kube_set(struct kube_node *map, const char *key, struct kube_node *value);
/* The value of key in map, or NULL. */
const struct kube_node *kube_get(const struct kube_node *map, const char *key);
/* "a string", "an integer", ... for messages. */
const char *kube_type_name(enum kube_type t);

/* Appends the documents as YAML (libyaml's emitter, block style, "---" between
 * them); strings that would read back as another type are quoted. */
int kube_yaml_write(struct kube_node *const *docs, size_t n, struct strbuf *out,
                    struct kiln_error **err);

/* ---- the model --------------------------------------------------------------- */

enum kube_kind {
    KUBE_KIND_OTHER, /* a known kind kiln does not run (Ingress, HPA, ...) */
    KUBE_KIND_POD,
    KUBE_KIND_DEPLOYMENT,
    KUBE_KIND_SERVICE,
    KUBE_KIND_CONFIGMAP,
    KUBE_KIND_SECRET,
};

struct kube_kv {
    char *key, *value;
};

enum kube_env_from { KUBE_ENV_VALUE, KUBE_ENV_CONFIGMAP, KUBE_ENV_SECRET, KUBE_ENV_OTHER };
struct kube_env {
    char *name, *value;       /* value: KUBE_ENV_VALUE */
    enum kube_env_from from;  /* valueFrom */
    char *ref_name, *ref_key; /* configMapKeyRef / secretKeyRef */
    int optional;
};

/* envFrom: every key of a ConfigMap or Secret, prefixed. */
struct kube_env_source {
    int secret;
    char *name, *prefix;
    int optional;
};

struct kube_port {
    char *name, *protocol; /* protocol TCP when not given */
    int container_port, host_port;
};

enum kube_probe_type { KUBE_PROBE_NONE, KUBE_PROBE_EXEC, KUBE_PROBE_HTTP, KUBE_PROBE_TCP };
struct kube_probe {
    enum kube_probe_type type;
    char **command; /* exec */
    size_t n_command;
    char *path;      /* httpGet */
    char *port_name; /* httpGet / tcpSocket: a named port, or */
    int port;        /* a number */
    /* Kubernetes' defaults when not given: 0, 10, 1, 3, 1 */
    int initial_delay, period, timeout, failure_threshold, success_threshold;
};

/* -1: not given. */
struct kube_security {
    long long run_as_user, run_as_group;
    int run_as_non_root, read_only_root_fs, allow_privilege_escalation, privileged;
    char **cap_add, **cap_drop;
    size_t n_cap_add, n_cap_drop;
    char *seccomp; /* seccompProfile.type */
};

struct kube_mount {
    char *name, *mount_path, *sub_path;
    int read_only;
};

struct kube_container {
    unsigned line, col; /* of its map in the file */
    char *name, *image, *working_dir, *pull_policy;
    char **command, **args;
    size_t n_command, n_args;
    struct kube_env *env;
    size_t n_env;
    struct kube_env_source *env_from;
    size_t n_env_from;
    struct kube_port *ports;
    size_t n_ports;
    struct kube_probe liveness, readiness, startup;
    struct kube_security security;
    struct kube_mount *mounts;
    size_t n_mounts;
};

enum kube_volume_type { KUBE_VOL_EMPTYDIR, KUBE_VOL_CONFIGMAP, KUBE_VOL_SECRET, KUBE_VOL_OTHER };
struct kube_volume {
    char *name;
    enum kube_volume_type type;
    char *ref_name; /* configMap.name / secret.secretName */
    char *other;    /* the type's key for KUBE_VOL_OTHER ("hostPath", ...) */
};

struct kube_pod_spec {
    struct kube_container *containers, *init_containers;
    size_t n_containers, n_init_containers;
    struct kube_volume *volumes;
    size_t n_volumes;
    struct kube_security security; /* the pod's securityContext */
    int host_network;
};

struct kube_service_port {
    char *name, *protocol, *target_name; /* targetPort by name, or */
    int port, target_port, node_port;    /* by number (0: the port) */
};

struct kube_object {
    enum kube_kind kind;
    char *api_version, *kind_name, *name, *namespace;
    unsigned line, col; /* of the document */
    struct kube_kv *labels;
    size_t n_labels;
    /* Pod, Deployment (template) */
    int replicas; /* Deployment: 1 when not given */
    struct kube_kv *selector;
    size_t n_selector;
    struct kube_kv *pod_labels; /* a Pod's labels, a Deployment's template's */
    size_t n_pod_labels;
    struct kube_pod_spec pod;
    /* Service */
    char *service_type;
    struct kube_service_port *service_ports;
    size_t n_service_ports;
    /* ConfigMap, Secret (base64 decoded; stringData merged) */
    struct kube_kv *data;
    size_t n_data;
};

struct kube_manifest {
    struct kube_object *objects;
    size_t n;
};

/* Reads every document of text into the model and checks it whole: apiVersion and
 * kind known, each field of the modelled kinds of the right type, names present
 * and unique per kind. The first problem is the error,
 * "FILE:LINE:COL: Kind/name: path.to.field: what". */
int kube_manifest_parse(const char *name, const char *text, size_t len, struct kube_manifest *m,
                        struct kiln_error **err);
/* The same from a file. */
int kube_manifest_read(const char *path, struct kube_manifest *m, struct kiln_error **err);
void kube_manifest_release(struct kube_manifest *m);

/* ---- generate ------------------------------------------------------------------ */

struct kube_generate_opts {
    const char *name;     /* the Deployment's name (and app label) */
    const char *image;    /* what the cluster pulls: NAME@sha256:... */
    const json_t *config; /* the image config's "config" object (ExposedPorts, Healthcheck...) */
    const json_t *ctr;    /* a container's config.json (Cmd, Env, User, WorkingDir), or NULL */
    int service;          /* add a Service for the exposed ports */
};

/* A Deployment (one replica) and, with service, a Service: ports, env, user,
 * working dir, command, the HEALTHCHECK as a liveness probe (exec, as podman
 * does) plus a startup probe for its start period. *docs gets 1 or 2 trees. */
int kube_generate(const struct kube_generate_opts *o, struct kube_node ***docs, size_t *n_docs,
                  struct kiln_error **err);

#endif
