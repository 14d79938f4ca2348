/* Containers on disk, without a daemon: KILN_ROOT/containers/<id>/ holds
 *   config.json  what was asked (image, argv, env, user, healthcheck, ...)
 *   state.json   status, host pid of PID 1, supervisor pid, times, exit code
 *                (written once the container started; none means created)
 *   health.json  the health checker's latest results
 *   ns.sock      while a rootless container runs: its supervisor hands PID 1's
 *                namespaces to kiln exec here (ctr_ns_fetch)
 *   ctr.log      the container's stdout and stderr (detached containers)
 *   upper/ work/ the overlay's writable layer
 * and the directory itself is flocked by the container's supervisor while it
 * lives; and KILN_ROOT/containers/names/<name> is a symlink to the id (atomic name
 * reservation). A supervisor that died (SIGKILL) is detected through its lock;
 * its container died with it (PDEATHSIG), and every mount was in the
 * container's own mount namespace, so there is nothing to unmount. */
#ifndef KILN_RUNTIME_CONTAINER_H
#define KILN_RUNTIME_CONTAINER_H

#include <jansson.h>
#include <sys/types.h>

#include "runtime/runtime.h"
#include "util/error.h"

/* KILN_ROOT/containers/<id>, allocated. */
char *ctr_dir(const char *root, const char *id);

/* Creates a container record with a fresh id. name NULL gives a generated
 * one; a taken name is KILN_E_EXISTS. config is stored as config.json (with
 * "Id", "Name", "Created" added, and "Hostname" as the short id when it has
 * none). *id_out allocated. */
int ctr_create(const char *root, const char *name, json_t *config, char **id_out,
               struct kiln_error **err);
/* Resolves a name, a full id or a unique id prefix. */
int ctr_find(const char *root, const char *what, char **id_out, struct kiln_error **err);
/* Every container id, sorted by creation (newest first). */
int ctr_list(const char *root, char ***ids, size_t *n, struct kiln_error **err);
void ctr_list_free(char **ids, size_t n);

json_t *ctr_load_config(const char *root, const char *id, struct kiln_error **err);
/* Loads state.json ({"Status":"created"} while there is none yet), first
 * repairing it when it says running but the supervisor is gone (then status
 * "exited", exit code 137). */
json_t *ctr_load_state(const char *root, const char *id, struct kiln_error **err);
int ctr_save_state(const char *root, const char *id, const json_t *state, struct kiln_error **err);
/* Reads health.json in the shape of Docker's State.Health (runtime/health.h),
 * also one an older kiln wrote; NULL when there is none. */
json_t *ctr_load_health(const char *root, const char *id);
int ctr_save_health(const char *root, const char *id, const json_t *health,
                    struct kiln_error **err);

/* Takes the supervisor lock (held until fd is closed); KILN_E_EXISTS if
 * another supervisor has it. Returns the fd. */
int ctr_lock_supervisor(const char *root, const char *id, struct kiln_error **err);
/* 1 if a supervisor holds the lock. */
int ctr_supervisor_alive(const char *root, const char *id);

/* Removes the record (dir and name). The container must not be running. */
int ctr_remove(const char *root, const char *id, struct kiln_error **err);

/* An image's HEALTHCHECK (durations in nanoseconds, as in the image config). */
struct ctr_healthcheck {
    char **argv; /* the probe: CMD args, or /bin/sh -c for CMD-SHELL */
    long long interval, timeout, start_period;
    long long start_interval; /* between probes while starting, in the start period */
    int retries;
    /* A network probe (Test ["KILN-HTTPGET", PORT, PATH] or ["KILN-TCP", PORT], what
     * kiln kube play makes of Kubernetes' httpGet and tcpSocket probes): net_port > 0
     * means connect to 127.0.0.1:net_port in the container's network namespace, as
     * the kubelet probes a pod from outside it, and with http_path send an HTTP/1.0
     * GET; 200-399 passes. argv then only describes the probe. */
    int net_port;
    char *http_path;
};

/* Reads config.Healthcheck; returns 0 with hc->argv NULL when there is none
 * (or it is NONE), an empty hc->argv for a CMD or CMD-SHELL without a
 * command (each probe then fails to start, as in Docker). Docker's defaults
 * fill missing fields. A CMD-SHELL test runs under shell (config.Shell, the
 * image's SHELL) when it is a non-empty array of strings, else /bin/sh -c, as
 * Docker runs it. */
int ctr_healthcheck_from_json(const json_t *healthcheck, const json_t *shell,
                              struct ctr_healthcheck *hc, struct kiln_error **err);
void ctr_healthcheck_release(struct ctr_healthcheck *hc);

/* The Healthcheck a container runs with when its own (user: docker run's
 * --health-* flags, NULL for none) meets the image's, as Docker merges them:
 * user's Test unless it has none, each of Interval, Timeout, StartPeriod,
 * StartInterval and Retries the user's unless it is 0 (unset). NULL when
 * neither has one. */
json_t *ctr_healthcheck_merge(const json_t *user, const json_t *image);

/* Runs the probe once in the running container (PID 1 = pid1) with the
 * container's env/user/cwd from s; *output gets its output (at most 4 KiB);
 * returns the probe's exit status, or -1 with *output explaining (timeout,
 * exec failure). What kiln health prints; the supervisor's checker records
 * the same run as Docker does (runtime/health.h). */
int ctr_health_probe(pid_t pid1, const struct rt_spec *s, const struct ctr_healthcheck *hc,
                     char **output);

/* Supervises container id: takes its lock, records state (running + pid,
 * then exited + code), runs health checks when hc has a probe, and waits.
 * ready_fd (or -1) gets one byte 0 once the container started, or the error
 * text if it could not start; it is closed either way. auto_remove (--rm):
 * the record is removed at exit, still under the lock, instead of recording
 * the exit. s->on_start is used internally. Returns like runtime_run. */
int ctr_supervise(const char *root, const char *id, struct rt_spec *s,
                  const struct ctr_healthcheck *hc, int ready_fd, int auto_remove, int *status,
                  struct kiln_error **err);

/* The namespace socket (nssock.c). kiln's init is not dumpable, so a caller
 * without CAP_SYS_PTRACE in the host's user namespace (a rootless user) may
 * not open its /proc/PID/ns; the supervisor of such a container keeps the
 * files PID 1 sent it (rt_spec.ns_out) and hands them to its own user.
 * ctr_ns_listen binds and listens (before the state says running, so an exec
 * right after the start finds it); ctr_ns_serve forks the process that
 * answers on lfd (the caller then closes lfd) and returns its pid, or -1;
 * ctr_ns_unserve stops it and removes the socket. */
int ctr_ns_listen(const char *root, const char *id, struct kiln_error **err);
pid_t ctr_ns_serve(int lfd, const struct rt_ns *ns);
void ctr_ns_unserve(const char *root, const char *id, pid_t server);
/* The client: 1 with *ns (for rt_spec.ns; the caller closes it), 0 when the
 * container's supervisor keeps none (root needs none; a container of an
 * earlier kiln, or one that has stopped: runtime_exec then opens /proc), -1
 * when it refuses (another user) or fails. */
int ctr_ns_fetch(const char *root, const char *id, struct rt_ns *ns, struct kiln_error **err);

/* Signal number of "SIGTERM", "TERM", "15"; -1 if unknown. */
int ctr_parse_signal(const char *s);

/* Stops a running (or restarting) container: marks it stopping (its
 * supervisor does not restart it), sends its StopSignal (SIGTERM when it has
 * none), SIGKILL after timeout_s, and waits until the supervisor has recorded
 * the exit. 0 too when it was not running. */
int ctr_stop(const char *root, const char *id, long timeout_s, struct kiln_error **err);

#endif
