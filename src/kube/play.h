/* kiln kube play's plan: what a manifest's Pods, Deployments and Services mean
 * on one machine, worked out before anything runs (so bad input fails with
 * nothing started). Each Pod or Deployment (one replica) is a kiln pod named
 * NAME-pod, each of its containers a kiln container NAME-pod-CONTAINER; a
 * containerPort is published on 127.0.0.1 at its hostPort, else at the port of
 * a Service that selects the pod and targets it; env valueFrom and configMap /
 * secret volumes are filled from the ConfigMaps and Secrets of the same
 * manifest; probes become one health check. Pure: no store, no runtime. */
#ifndef KILN_KUBE_PLAY_H
#define KILN_KUBE_PLAY_H

#include <jansson.h>

#include "kube/kube.h"

struct kube_play_port {
    int host_port, ctr_port, udp;
    char *why; /* "hostPort", "Service/NAME" */
};

struct kube_play_volume {
    char *name;
    enum kube_volume_type type; /* EMPTYDIR, CONFIGMAP or SECRET */
    struct kube_kv *files;      /* configMap / secret: file name -> content */
    size_t n_files;
};

struct kube_play_mount {
    size_t volume; /* index into the pod's volumes */
    char *target, *sub_path;
    int read_only;
};

struct kube_play_container {
    char *name;        /* NAME-pod-CONTAINER */
    const char *kname; /* the manifest's name for it */
    const char *image; /* into the manifest */
    char **env;        /* "K=V", after the image's */
    size_t n_env;
    char *user;       /* "UID", "UID:GID", or NULL for the image's USER */
    char *entrypoint; /* command[0], or NULL */
    char **cmd;       /* command[1..] + args, or args alone */
    size_t n_cmd;
    const char *workdir;                          /* or NULL */
    int read_only;                                /* readOnlyRootFilesystem */
    int run_as_non_root;                          /* checked against the image by the caller */
    long long run_as_user;                        /* -1 when not given */
    const char *const *cap_add, *const *cap_drop; /* into the manifest ("ALL" drops all) */
    size_t n_cap_add, n_cap_drop;
    struct kube_play_mount *mounts;
    size_t n_mounts;
    json_t *healthcheck; /* the image config's Healthcheck form; {"Test":["NONE"]} for none */
    unsigned line, col;
};

struct kube_play_pod {
    char *name; /* NAME-pod */
    const struct kube_object *object;
    struct kube_play_port *ports;
    size_t n_ports;
    struct kube_play_volume *volumes;
    size_t n_volumes;
    struct kube_play_container *containers;
    size_t n_containers;
};

struct kube_play_plan {
    struct kube_play_pod *pods;
    size_t n_pods;
    char **warnings; /* what is not run or not enforced, one line each */
    size_t n_warnings;
};

/* The plan for manifest m read from file (named in errors as file:line:col).
 * Errors: a missing ConfigMap/Secret or key (not optional), a volume type or
 * env source kube play does not provide, privileged, two pods on one host
 * port. */
int kube_play_plan(const char *file, const struct kube_manifest *m, struct kube_play_plan *p,
                   struct kiln_error **err);
void kube_play_plan_release(struct kube_play_plan *p);

#endif
