/* Starting a container the way `kiln run` means it: an image's config merged
 * with the user's options (Docker's rules for ENTRYPOINT/CMD, ENV, USER,
 * WORKDIR), a container record, and either the caller as supervisor
 * (foreground) or a detached supervisor process. The caller (cli/) loads the
 * image and its snapshots from the store; this file never touches the store. */
#ifndef KILN_RUNTIME_LAUNCH_H
#define KILN_RUNTIME_LAUNCH_H

#include <jansson.h>

#include "runtime/runtime.h"

struct launch_opts {
    const char *root;             /* KILN_ROOT */
    const char *image;            /* as the user named it (for ps) */
    const char *image_id;         /* config digest, or NULL */
    const json_t *image_config;   /* the image config's "config" object, or NULL */
    const char *const *lowerdirs; /* layer snapshots, top first; or */
    size_t n_lowerdirs;
    const char *rootfs;   /* a plain root dir (--rootfs) */
    const char *platform; /* --platform: which image of an index; NULL = this machine's */

    const char *name;
    int rm, detach, tty, interactive;
    const char *const *env; /* -e/--env-file entries: "K=V", or "K" to copy kiln's own */
    size_t n_env;
    const struct rt_mount *mounts;
    size_t n_mounts;
    const char *user;       /* -u, or NULL for the image's USER */
    const char *workdir;    /* -w, or NULL for the image's WORKDIR */
    const char *entrypoint; /* --entrypoint, or NULL */
    char *const *cmd;       /* args after the image */
    size_t n_cmd;
    const char *hostname;
    enum rt_network network;
    const char *network_mode;     /* as recorded for ps/inspect: "host", "none", "private",
                                   * "container:NAME", "pod:NAME"; NULL from network */
    pid_t net_holder;             /* RT_NET_PRIVATE: join this process's namespace (pod,
                                   * container:NAME); 0 makes one publishing ports */
    const struct net_port *ports; /* published ports (reserved already) */
    size_t n_ports;
    const char *pod;        /* the pod's name, recorded, or NULL */
    const char *hosts_file; /* the pod's /etc/hosts, or NULL */
    enum rt_userns userns;
    int read_only, no_init;
    int caps_set; /* 1: caps (rt_caps_mask) instead of the default set */
    unsigned long long caps;
    long long memory;
    double cpus;
    const struct rt_rlimit *rlimits;
    size_t n_rlimits;
    /* compose: recorded in config.json over the image's values, or NULL */
    const json_t *labels; /* {"key": "value"}, as "Labels" */
    /* in the image config's Healthcheck form (ns durations), merged with the
     * image's as Docker merges them (ctr_healthcheck_merge); NULL: the image's */
    const json_t *healthcheck;
    const char *stop_signal; /* "SIGINT" */
    long long stop_timeout;  /* seconds before SIGKILL at stop; 0: stop's default */
    const char *restart;     /* "no", "always", "unless-stopped", "on-failure[:N]": the
                              * supervisor starts the command again (RestartCount) */
};

/* Foreground: runs to completion, *status as runtime_run (and the record is
 * removed with rm). Detached: returns once the command runs (or failed to
 * start: -1 with *status 125/126/127). *id_out (may be NULL) gets the id. */
int launch_container(const struct launch_opts *o, int *status, char **id_out,
                     struct kiln_error **err);

/* Rebuilds the exec/health spec of a container from its config.json:
 * env, user, cwd, hostname, userns. Strings point into cfg. */
void launch_exec_spec(const json_t *cfg, struct rt_spec *s, const char ***env_out);

#endif
