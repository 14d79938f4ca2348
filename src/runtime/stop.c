/* Stopping a container: its StopSignal (SIGTERM when none), SIGKILL after the
 * grace period, with the supervisor told not to restart it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

/* Waits until the supervisor has recorded the exit (or timeout ms). */
static int wait_exit(const char *root, const char *id, int pidfd, long timeout_ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (pidfd >= 0) {
            struct pollfd p = {.fd = pidfd, .events = POLLIN};
            poll(&p, 1, 50);
        } else {
            struct timespec ts = {0, 50 * 1000000};
            nanosleep(&ts, NULL);
        }
        if (!ctr_supervisor_alive(root, id))
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (el >= timeout_ms)
            return -1;
    }
}

int ctr_stop(const char *root, const char *id, long timeout_s, struct kiln_error **err)
{
    json_t *st = ctr_load_state(root, id, err);
    if (st == NULL)
        return -1;
    const char *s = json_get_str(st, "Status");
    int running = s && strcmp(s, "running") == 0;
    int restarting = s && strcmp(s, "restarting") == 0;
    pid_t pid = (pid_t)json_get_int(st, "Pid", 0);
    json_decref(st);
    if ((running && pid > 0) || restarting) {
        /* its supervisor does not restart what was stopped (restart policies) */
        cleanup_free char *dir = ctr_dir(root, id);
        cleanup_free char *f = xasprintf("%s/stopping", dir);
        int fd = open(f, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    if (restarting) {
        wait_exit(root, id, -1, 10000);
        st = ctr_load_state(root, id, NULL);
        s = st ? json_get_str(st, "Status") : NULL;
        running = s && strcmp(s, "running") == 0;
        pid = st ? (pid_t)json_get_int(st, "Pid", 0) : 0;
        json_decref(st);
    }
    if (!running || pid <= 0)
        return 0;
    json_t *cfg = ctr_load_config(root, id, NULL);
    int sig = ctr_parse_signal(cfg ? json_get_str(cfg, "StopSignal") : NULL);
    json_decref(cfg);
    if (sig <= 0)
        sig = SIGTERM;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (kill(pid, sig) < 0 && errno != ESRCH) {
        if (pidfd >= 0)
            close(pidfd);
        return kiln_error_errno(err, errno, "signalling container %.12s", id);
    }
    if (wait_exit(root, id, pidfd, timeout_s * 1000) < 0) {
        kill(pid, SIGKILL);
        wait_exit(root, id, pidfd, 10000);
    }
    if (pidfd >= 0)
        close(pidfd);
    return 0;
}
