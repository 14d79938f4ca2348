/* The compose runtime: a loaded project (compose.h) brought up as kiln
 * containers. One project is one pod, pod_PROJECT (net/net.h): services reach
 * each other on 127.0.0.1 and by service name (the pod's /etc/hosts), and the
 * project's published ports are the pod's. Each service runs as container
 * PROJECT-SERVICE-1 whose config.json carries the labels
 * com.docker.compose.project and com.docker.compose.service, which is how
 * down, ps and the rest find a project's containers (orphans included) even
 * after `up` was killed half-way. Named volumes are directories
 * KILN_ROOT/volumes/NAME (NAME as the model has it: PROJECT_VOLUME); a
 * project's secrets and configs are copied (with their modes) under
 * KILN_ROOT/compose/PROJECT/ and bound read-only into the containers. */
#ifndef KILN_COMPOSE_STACK_H
#define KILN_COMPOSE_STACK_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>

#include "compose/compose.h"
#include "util/error.h"

#define COMPOSE_LABEL_PROJECT "com.docker.compose.project"
#define COMPOSE_LABEL_SERVICE "com.docker.compose.service"
/* the replica's number, N of PROJECT-SERVICE-N */
#define COMPOSE_LABEL_NUMBER "com.docker.compose.container-number"
/* sha256 hex of the service's normalised model: up recreates a container
 * whose label differs from the file's service now */
#define COMPOSE_LABEL_CONFIG_HASH "com.docker.compose.config-hash"

struct compose_up_opts {
    const char *const *services; /* only these (and what they depend on); none: all */
    size_t n_services;
    int build;          /* --build: build every service that has build:, even if its image exists */
    int force_recreate; /* --force-recreate: recreate running containers even if unchanged */
    int no_recreate;    /* --no-recreate: leave running containers even if changed */
    int wait; /* --wait: return once every service is running (healthy if it has a check) */
    long wait_timeout_s;      /* 0: 300 s */
    const char *kiln;         /* kiln's own executable, for build and pull */
    const char *const *scale; /* --scale SERVICE=N, overriding scale / deploy.replicas */
    size_t n_scale;
};

/* Checks everything that can be checked (images, ports free, keys kiln cannot
 * honour) before anything starts; then the pod, then the services in
 * dependency order, each waiting for its depends_on conditions. On failure
 * what this call started is stopped and removed again. Progress lines go to
 * stderr. */
int compose_up(const char *root, const struct compose_project *p, const struct compose_up_opts *o,
               struct kiln_error **err);

/* The project's pod: reused when it runs, else made publishing every
 * service's ports (*made then 1). */
int compose_ensure_pod(const char *root, const struct compose_project *p, int *made,
                       struct kiln_error **err);

/* Stops and removes the project's containers (the model's services; with
 * remove_orphans also labelled containers of services the model no longer
 * has, which are otherwise only reported), its pod, its secrets copies, and
 * with volumes its named volumes. */
int compose_down(const char *root, const struct compose_project *p, int volumes, int remove_orphans,
                 struct kiln_error **err);

/* Prints the output of the project's containers (of services, when given),
 * each line prefixed "SERVICE-1  | "; tail >= 0: only the last tail lines of
 * each; follow: until every container has exited or *stop is set. */
int compose_logs(const char *root, const char *project, const char *const *services,
                 size_t n_services, int follow, long tail, volatile sig_atomic_t *stop,
                 struct kiln_error **err);

/* One container of the project, as found by its labels. */
struct compose_ctr {
    char *id;
    char *name;
    char *service;
    json_t *cfg;   /* config.json */
    json_t *state; /* state.json (ctr_load_state) */
};

/* The project's containers, sorted by service name. */
int compose_list(const char *root, const char *project, struct compose_ctr **out, size_t *n,
                 struct kiln_error **err);
void compose_list_free(struct compose_ctr *v, size_t n);

/* "PROJECT-SERVICE-1", allocated. */
char *compose_ctr_name(const char *project, const char *service);
/* "PROJECT-SERVICE-N" (replica N, from 1), allocated. */
char *compose_ctr_name_n(const char *project, const char *service, long number);
/* N when name is "PROJECT-SERVICE-N", else 0 (a one-off, another service). */
long compose_ctr_number(const char *project, const char *service, const char *name);
/* "pod_PROJECT", allocated. */
char *compose_pod_name(const char *project);
/* The image a service runs: image:, else PROJECT-SERVICE (what build: makes). */
char *compose_service_image(const struct compose_project *p, const char *service);
/* COMPOSE_LABEL_CONFIG_HASH's value for a service of the model, allocated:
 * the sha256 hex of its normalised model (env_file contents are in its
 * environment) and of the definitions and content digests of the secrets and
 * configs it mounts (file bytes, environment variable values); scale and
 * deploy.replicas left out. */
char *compose_config_hash(const struct compose_project *p, const char *service);
/* Seconds of a service's stop_grace_period (10 when it has none). */
long compose_stop_timeout(const json_t *svc);

/* Starts one service's container in the project's running pod (up, start,
 * run): run_args/n_run_args replace the command when given; name overrides
 * the container name; rm: removed when it exits (run --rm); detach 0: runs in
 * the foreground with the caller's stdio, *status its exit status. */
struct compose_start {
    const char *name;
    char *const *cmd;
    size_t n_cmd;
    int rm, detach, tty, interactive;
    long number; /* the replica, PROJECT-SERVICE-N (0: 1); not with name */
};
int compose_start_service(const char *root, const struct compose_project *p, const char *service,
                          const struct compose_start *how, int *status, char **id_out,
                          struct kiln_error **err);

/* A service's cap_add/cap_drop as an rt_caps_mask mask (*set 0 when it has
 * neither: the default set); an unknown name is KILN_E_USAGE naming the
 * service. */
int compose_service_caps(const char *service, const json_t *svc, int *set, unsigned long long *mask,
                         struct kiln_error **err);

/* 1 if the store has image. */
int compose_image_present(const char *root, const char *image);
/* Runs `kiln build` for a service with build: (context, dockerfile, args,
 * target, platforms), tagging compose_service_image(); 0 for one without. */
int compose_build_service(const char *root, const struct compose_project *p, const char *service,
                          const char *kiln, struct kiln_error **err);
/* Runs `kiln pull IMAGE` or `kiln push IMAGE` (verb "pull" / "push"). */
int compose_pull_push(const char *root, const char *image, const char *verb, const char *kiln,
                      struct kiln_error **err);

/* Replicas of a service up runs at most (a typo such as 1000 is refused). */
#define COMPOSE_MAX_REPLICAS 64
/* scale.c: how many containers of service up runs (*n): --scale SERVICE=N
 * (scale/n_scale, "SERVICE=N" each), else scale:, else deploy.replicas,
 * else 1. KILN_E_USAGE naming the service and the key for 0, for scale and
 * deploy.replicas that differ, and for more than one of a service with
 * ports: or expose: (replicas share the pod's network namespace). */
int compose_replicas(const struct compose_project *p, const char *const *scale, size_t n_scale,
                     const char *service, long *n, struct kiln_error **err);

/* recreate.c: which of the selected services' running containers up
 * replaces: {CONTAINER: "Recreate"} for a changed one (config hash, or
 * force), {CONTAINER: "Restart"} for the replicas of a service with a
 * depends_on entry naming a recreated service (not cascading); empty with
 * never (--no-recreate). order is the start order, counts {SERVICE:
 * replicas} of the selected services. New reference. */
json_t *compose_recreate_plan(const char *root, const struct compose_project *p,
                              const char *const *order, size_t n, const json_t *counts, int force,
                              int never);
/* Stops and removes the plan's containers, last in start order first, each
 * announced on stderr; up's start loop then starts them in order. */
int compose_recreate_stop(const char *root, const struct compose_project *p,
                          const char *const *order, size_t n, const json_t *plan,
                          struct kiln_error **err);

/* recreate.c: the services `compose restart` restarts when it is given
 * services: those and, transitively, every service with a depends_on entry
 * naming one of them with restart: true (the Compose Specification's "restarts
 * this service after it updates the dependency service", as docker compose
 * restart does without --no-deps). {SERVICE: true}, new reference. */
json_t *compose_restart_set(const struct compose_project *p, const char *const *services, size_t n);

/* Stops one container (its service's stop_grace_period) and, with remove,
 * removes its record. */
int compose_stop_ctr(const char *root, const struct compose_ctr *c, long timeout_s, int remove,
                     struct kiln_error **err);

#endif
