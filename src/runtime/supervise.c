/* A container's supervisor (what conmon is to podman): the process that
 * clones PID 1, records its state and exit, and runs its health checks. It is
 * the parent of PID 1, so when it is killed the container dies with it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"
#include "runtime/container.h"
#include "runtime/health.h"
#include "runtime/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"
#include "util/userns.h"

#define SEC 1000000000LL

int ctr_healthcheck_from_json(const json_t *j, const json_t *shell, struct ctr_healthcheck *hc,
                              struct kiln_error **err)
{
    memset(hc, 0, sizeof(*hc));
    hc->interval = 30 * SEC;
    hc->timeout = 30 * SEC;
    hc->start_interval = 5 * SEC;
    hc->retries = 3;
    json_t *test = j ? json_object_get(j, "Test") : NULL;
    if (!json_is_array(test) || json_array_size(test) == 0)
        return 0;
    const char *kind = json_string_value(json_array_get(test, 0));
    if (kind == NULL || strcmp(kind, "NONE") == 0)
        return 0;
    size_t n = json_array_size(test);
    if ((strcmp(kind, "CMD") == 0 || strcmp(kind, "CMD-SHELL") == 0) && n < 2) {
        /* no command: Docker probes it all the same, each run an error
         * (ExitCode -1); the empty argv fails to start as such */
        hc->argv = xcalloc(1, sizeof(char *));
    } else if (strcmp(kind, "CMD-SHELL") == 0) {
        if (json_string_value(json_array_get(test, 1)) == NULL)
            return kiln_error_set(err, KILN_E_INVALID, "HEALTHCHECK CMD-SHELL without a command");
        /* Docker's: the container's SHELL, else /bin/sh -c, then Test[1:] */
        size_t ns = json_array_size(shell);
        int own = ns > 0;
        for (size_t i = 0; i < ns; i++)
            own &= json_is_string(json_array_get(shell, i));
        if (!own)
            ns = 2;
        hc->argv = xcalloc(ns + n, sizeof(char *));
        for (size_t i = 0; i < ns; i++)
            hc->argv[i] = xstrdup(own      ? json_string_value(json_array_get(shell, i))
                                  : i == 0 ? "/bin/sh"
                                           : "-c");
        for (size_t i = 1; i < n; i++) {
            const char *a = json_string_value(json_array_get(test, i));
            hc->argv[ns + i - 1] = xstrdup(a ? a : "");
        }
    } else if (strcmp(kind, "CMD") == 0 && n >= 2) {
        hc->argv = xcalloc(n, sizeof(char *));
        for (size_t i = 1; i < n; i++) {
            const char *a = json_string_value(json_array_get(test, i));
            hc->argv[i - 1] = xstrdup(a ? a : "");
        }
    } else if ((strcmp(kind, "KILN-HTTPGET") == 0 && n == 3) ||
               (strcmp(kind, "KILN-TCP") == 0 && n == 2)) {
        const char *port = json_string_value(json_array_get(test, 1));
        const char *path = json_string_value(json_array_get(test, 2));
        char *end;
        long v = port ? strtol(port, &end, 10) : 0;
        if (port == NULL || *end != '\0' || v < 1 || v > 65535 || (n == 3 && path == NULL))
            return kiln_error_set(err, KILN_E_INVALID, "HEALTHCHECK %s: bad port or path", kind);
        hc->net_port = (int)v;
        hc->http_path = path ? xstrdup(path) : NULL;
        hc->argv = xcalloc(3, sizeof(char *));
        hc->argv[0] = xstrdup(path ? "http-get" : "tcp-connect");
        hc->argv[1] =
            path ? xasprintf("http://127.0.0.1:%ld%s", v, path) : xasprintf("127.0.0.1:%ld", v);
    } else {
        return kiln_error_set(err, KILN_E_INVALID, "HEALTHCHECK test \"%s\" not understood", kind);
    }
    long long v;
    if ((v = json_integer_value(json_object_get(j, "Interval"))) > 0)
        hc->interval = v;
    if ((v = json_integer_value(json_object_get(j, "Timeout"))) > 0)
        hc->timeout = v;
    if ((v = json_integer_value(json_object_get(j, "StartPeriod"))) > 0)
        hc->start_period = v;
    if ((v = json_integer_value(json_object_get(j, "StartInterval"))) > 0)
        hc->start_interval = v;
    if ((v = json_integer_value(json_object_get(j, "Retries"))) > 0)
        hc->retries = (int)v;
    return 0;
}

void ctr_healthcheck_release(struct ctr_healthcheck *hc)
{
    rt_argv_free(hc->argv);
    hc->argv = NULL;
    free(hc->http_path);
    hc->http_path = NULL;
}

json_t *ctr_healthcheck_merge(const json_t *user, const json_t *image)
{
    if (!json_is_object(user))
        return json_is_object(image) ? json_deep_copy(image) : NULL;
    json_t *m = json_deep_copy(user);
    if (!json_is_object(image))
        return m;
    static const char *const keys[] = {"Test",        "Interval",      "Timeout",
                                       "StartPeriod", "StartInterval", "Retries"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const json_t *u = json_object_get(user, keys[i]);
        int unset = i == 0 ? json_array_size(u) == 0 : json_integer_value(u) == 0;
        const json_t *v = json_object_get(image, keys[i]);
        if (unset && v != NULL)
            json_object_set_new(m, keys[i], json_deep_copy(v));
    }
    return m;
}

/* In a child: the network probe of hc from inside pid1's network namespace
 * (ns's when given); prints what failed; returns the exit status (0 passed). */
static int net_probe(pid_t pid1, const struct rt_ns *ns, const struct ctr_healthcheck *hc)
{
    int netfd, usernsfd;
    struct kiln_error *err = NULL;
    if (ns != NULL) {
        netfd = ns->fd[RT_NS_NET];
        usernsfd = rt_ns_is_own(ns->fd[RT_NS_USER], RT_NS_USER) ? -1 : ns->fd[RT_NS_USER];
    } else if (net_ns_open(pid1, &netfd, &usernsfd, &err) < 0) {
        printf("%s\n", err->msg);
        return 1;
    }
    if ((usernsfd >= 0 && setns(usernsfd, CLONE_NEWUSER) < 0) || setns(netfd, CLONE_NEWNET) < 0) {
        printf("joining the network namespace: %s\n", strerror(errno));
        return 1;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)hc->net_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        printf("connect 127.0.0.1:%d: %s\n", hc->net_port, strerror(errno));
        return 1;
    }
    if (hc->http_path == NULL)
        return 0;
    struct strbuf req = STRBUF_INIT;
    strbuf_addf(&req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nUser-Agent: kiln-probe\r\n\r\n",
                hc->http_path, hc->net_port);
    int w = write_all(fd, req.buf, req.len);
    strbuf_release(&req);
    char buf[256];
    size_t got = 0;
    ssize_t r;
    while (w == 0 && got < sizeof(buf) - 1 &&
           (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
        got += (size_t)r;
        if (memchr(buf, '\n', got) != NULL)
            break;
    }
    buf[got] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    int code = 0;
    if (w < 0 || sscanf(buf, "HTTP/%*d.%*d %d", &code) != 1) {
        printf("GET %s: no HTTP answer\n", hc->http_path);
        return 1;
    }
    printf("GET %s: %s\n", hc->http_path, buf);
    return code >= 200 && code < 400 ? 0 : 1;
}

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * SEC + t.tv_nsec;
}

/* After the probe's process ended: what it sent on ep (the read end, non-
 * blocking) when its command could not be started, as out (then 1); 0 when
 * it sent nothing. */
static int exec_failed(int ep, struct strbuf *out)
{
    char buf[1024];
    ssize_t n = read(ep, buf, sizeof(buf));
    if (n <= 0)
        return 0;
    strbuf_reset(out);
    strbuf_add(out, buf, (size_t)n);
    return 1;
}

/* Runs the probe once: out gets at most CTR_HEALTH_OUTPUT_MAX bytes of what it
 * wrote (*truncated when it wrote more), or why it could not run (then -1, as
 * Docker records an exec that did not start, a missing command included);
 * *killed when it timed out (after hc->timeout; then -1 too). */
static int probe_run(pid_t pid1, const struct rt_spec *s, const struct ctr_healthcheck *hc,
                     struct strbuf *out, int *truncated, int *killed)
{
    int p[2], ep[2];
    *truncated = *killed = 0;
    if (pipe2(p, O_CLOEXEC) < 0) {
        strbuf_addf(out, "pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(ep, O_CLOEXEC | O_NONBLOCK) < 0) {
        strbuf_addf(out, "pipe: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    pid_t child = fork();
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        close(p[0]);
        close(ep[0]);
        if (hc->net_port > 0) {
            dup2(p[1], 1);
            int code = net_probe(pid1, s->ns, hc);
            fflush(stdout);
            _exit(code);
        }
        struct rt_spec e = *s;
        e.argv = (const char *const *)hc->argv;
        e.stdio[0] = -1;
        e.stdio[1] = p[1];
        e.stdio[2] = p[1];
        e.tty = 0;
        int status;
        struct kiln_error *err = NULL;
        if (runtime_exec(pid1, &e, &status, &err) < 0) {
            dprintf(ep[1], "%s", err ? err->msg : "exec failed");
            _exit(1);
        }
        _exit(status);
    }
    close(p[1]);
    close(ep[1]);
    if (child < 0) {
        close(p[0]);
        close(ep[0]);
        strbuf_addf(out, "fork: %s", strerror(errno));
        return -1;
    }
    long long deadline = now_ns() + hc->timeout;
    int timed_out = 0;
    for (;;) {
        long long left = deadline - now_ns();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        int r = poll(&pf, 1, (int)(left / 1000000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        char buf[1024];
        ssize_t n = read(p[0], buf, sizeof(buf));
        if (n <= 0)
            break;
        size_t room = CTR_HEALTH_OUTPUT_MAX - out->len;
        strbuf_add(out, buf, (size_t)n > room ? room : (size_t)n);
        *truncated |= (size_t)n > room;
    }
    close(p[0]);
    if (timed_out)
        kill(child, SIGKILL);
    int st;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR)
        ;
    *killed = timed_out;
    int failed = !timed_out && exec_failed(ep[0], out);
    close(ep[0]);
    if (failed)
        *truncated = 0;
    return timed_out || failed ? -1 : rt_docker_status(st);
}

int ctr_health_probe(pid_t pid1, const struct rt_spec *s, const struct ctr_healthcheck *hc,
                     char **output)
{
    struct strbuf out = STRBUF_INIT;
    strbuf_init(&out);
    int truncated, timed_out;
    int code = probe_run(pid1, s, hc, &out, &truncated, &timed_out);
    if (timed_out)
        strbuf_addf(&out, "health check timed out after %llds", hc->timeout / SEC);
    *output = strbuf_detach(&out);
    return code;
}

struct sup_ctx {
    const char *root;
    const char *id;
    const struct rt_spec *s;
    const struct ctr_healthcheck *hc;
    int ready_fd;
    pid_t checker;
    const struct net_ns *net; /* the namespace this supervisor made, or NULL */
    int restarts;             /* how often the restart policy started it again */
    struct rt_ns ns;          /* PID 1's namespaces while it runs (rootless only) */
    pid_t ns_server;          /* the process handing them out on ns.sock, or -1 */
};

static void health_loop(struct sup_ctx *c, pid_t pid1, json_t *health)
{
    /* The probes join the namespaces PID 1 sent, when it did. */
    struct rt_spec spec = *c->s;
    if (c->ns.fd[RT_NS_MNT] >= 0)
        spec.ns = &c->ns;
    long long started = now_ns();
    struct strbuf out = STRBUF_INIT;
    strbuf_init(&out);
    for (;;) {
        /* Docker's rule: StartInterval apart while starting within the start
         * period (a service is seen healthy as soon as it is), else Interval. */
        const char *status = json_string_value(json_object_get(health, "Status"));
        long long wait = c->hc->interval;
        if (status && strcmp(status, "starting") == 0 && now_ns() - started < c->hc->start_period)
            wait = c->hc->start_interval;
        struct timespec ts = {.tv_sec = wait / SEC, .tv_nsec = wait % SEC};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        struct ctr_health_result r = {0};
        int timed_out;
        long long t0 = now_ns();
        clock_gettime(CLOCK_REALTIME, &r.start);
        strbuf_reset(&out);
        r.exit_code = probe_run(pid1, &spec, c->hc, &out, &r.truncated, &timed_out);
        clock_gettime(CLOCK_REALTIME, &r.end);
        r.output = out.buf;
        r.output_len = out.len;
        r.timed_out_after = timed_out ? c->hc->timeout : 0;
        /* Docker counts from when the probe started */
        ctr_health_add(health, &r, c->hc->retries, t0 - started < c->hc->start_period);
        ctr_save_health(c->root, c->id, health, NULL);
    }
}

static void on_started(void *ctx, pid_t pid1)
{
    struct sup_ctx *c = ctx;
    /* Listening before the state says running: an exec right after kiln run
     * -d returns finds the socket. Without it, exec tries /proc. */
    int lfd = c->ns.fd[RT_NS_MNT] >= 0 ? ctr_ns_listen(c->root, c->id, NULL) : -1;
    json_t *st =
        json_pack("{s:s,s:i,s:i,s:I,s:i}", "Status", "running", "Pid", (int)pid1, "Supervisor",
                  (int)getpid(), "Started", (json_int_t)time(NULL), "RestartCount", c->restarts);
    if (c->net != NULL) {
        /* For `kiln rm` after this supervisor was SIGKILLed (net_ns_reap_recorded). */
        json_object_set_new(st, "NetHolder", json_integer(c->net->holder));
        json_object_set_new(st, "NetHelper", json_integer(c->net->slirp));
    }
    ctr_save_state(c->root, c->id, st, NULL);
    json_decref(st);
    /* Tell the waiting `kiln run -d` before forking anything that could
     * inherit the pipe. */
    if (c->ready_fd >= 0) {
        char ok = 0;
        write_all(c->ready_fd, &ok, 1);
        close(c->ready_fd);
        c->ready_fd = -1;
    }
    if (lfd >= 0) {
        c->ns_server = ctr_ns_serve(lfd, &c->ns);
        close(lfd);
        if (c->ns_server < 0)
            ctr_ns_unserve(c->root, c->id, -1);
    }
    if (c->hc != NULL && c->hc->argv != NULL) {
        /* Docker's: starting again, the earlier runs' log kept */
        json_t *prev = ctr_load_health(c->root, c->id);
        json_t *h = ctr_health_begin(prev);
        json_decref(prev);
        ctr_save_health(c->root, c->id, h, NULL);
        pid_t p = fork();
        if (p == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
            health_loop(c, pid1, h);
            _exit(0);
        }
        json_decref(h);
        c->checker = p;
    }
}

/* PID 1 exited: nothing may hold its namespaces (its mounts) any longer. */
static void on_exited(void *ctx)
{
    struct sup_ctx *c = ctx;
    if (c->checker > 0) {
        kill(c->checker, SIGKILL);
        waitpid(c->checker, NULL, 0);
        c->checker = -1;
        /* Docker's: a container whose checks stopped is unhealthy (the log
         * kept), until a start makes it starting again */
        json_t *h = ctr_load_health(c->root, c->id);
        if (h != NULL) {
            json_object_set_new(h, "Status", json_string("unhealthy"));
            ctr_save_health(c->root, c->id, h, NULL);
            json_decref(h);
        }
    }
    if (c->ns_server > 0) {
        ctr_ns_unserve(c->root, c->id, c->ns_server);
        c->ns_server = -1;
    }
}

/* config.json's RestartPolicy: {"Name": "no"|"always"|"unless-stopped"|
 * "on-failure", "MaximumRetryCount": N (on-failure; 0 = no limit)}. */
struct restart_policy {
    int mode; /* 0 no, 1 always / unless-stopped, 2 on-failure */
    long long max;
};

static void restart_policy_load(const char *root, const char *id, struct restart_policy *rp)
{
    rp->mode = 0;
    rp->max = 0;
    json_t *cfg = ctr_load_config(root, id, NULL);
    json_t *p = cfg ? json_object_get(cfg, "RestartPolicy") : NULL;
    const char *name = p ? json_string_value(json_object_get(p, "Name")) : NULL;
    if (name && (strcmp(name, "always") == 0 || strcmp(name, "unless-stopped") == 0))
        rp->mode = 1;
    else if (name && strcmp(name, "on-failure") == 0)
        rp->mode = 2;
    if (p)
        rp->max = json_integer_value(json_object_get(p, "MaximumRetryCount"));
    json_decref(cfg);
}

static int restart_stop_requested(const char *root, const char *id)
{
    cleanup_free char *dir = ctr_dir(root, id);
    cleanup_free char *f = xasprintf("%s/stopping", dir);
    return access(f, F_OK) == 0;
}

static int restart_wanted(const char *root, const char *id, const struct restart_policy *rp,
                          int status, int restarts)
{
    if (rp->mode == 0 || restart_stop_requested(root, id))
        return 0;
    if (rp->mode == 2 && (status == 0 || (rp->max > 0 && restarts >= rp->max)))
        return 0;
    return 1;
}

int ctr_supervise(const char *root, const char *id, struct rt_spec *s,
                  const struct ctr_healthcheck *hc, int ready_fd, int auto_remove, int *status,
                  struct kiln_error **err)
{
    *status = RT_EXIT_SETUP;
    cleanup_close int lock = ctr_lock_supervisor(root, id, err);
    if (lock < 0) {
        if (ready_fd >= 0) {
            write_all(ready_fd, (*err)->msg, strlen((*err)->msg));
            close(ready_fd);
        }
        return -1;
    }
    struct sup_ctx c = {.root = root,
                        .id = id,
                        .s = s,
                        .hc = hc,
                        .ready_fd = ready_fd,
                        .checker = -1,
                        .ns_server = -1};
    rt_ns_init(&c.ns);
    {
        cleanup_free char *dir = ctr_dir(root, id);
        cleanup_free char *f = xasprintf("%s/stopping", dir);
        unlink(f); /* a stop asked of an earlier run */
    }
    /* The supervisor owns the container's network: started before the
     * container, ready before its command runs (so a taken port fails the
     * start), released when it exits. */
    struct net_ns net = {0};
    int r = 0;
    if (s->network == RT_NET_PRIVATE && s->net_holder <= 0) {
        r = rt_net_start(s, &net, err);
        s->net_holder = net.holder;
        s->net_pending = &net;
        c.net = &net;
    }
    s->on_start = on_started;
    s->on_exit = on_exited;
    s->on_start_ctx = &c;
    /* Root opens PID 1's /proc/PID/ns; anyone else gets them from ns.sock. */
    if (geteuid() != 0 || !userns_is_initial())
        s->ns_out = &c.ns;
    struct restart_policy rp;
    restart_policy_load(root, id, &rp);
    for (;;) {
        if (r == 0)
            r = runtime_run(s, status, err);
        if (c.checker > 0) {
            kill(c.checker, SIGKILL);
            waitpid(c.checker, NULL, 0);
            c.checker = -1;
        }
        if (r < 0 || auto_remove || c.ready_fd >= 0 ||
            !restart_wanted(root, id, &rp, *status, c.restarts))
            break;
        /* restarted by its policy: recorded, then after a pause that
         * doubles (100 ms .. 5 s) as Docker's does */
        c.restarts++;
        json_t *st = ctr_load_state(root, id, NULL);
        if (st != NULL) {
            json_object_set_new(st, "Status", json_string("restarting"));
            json_object_set_new(st, "ExitCode", json_integer(*status));
            json_object_set_new(st, "RestartCount", json_integer(c.restarts));
            json_object_del(st, "Pid");
            ctr_save_state(root, id, st, NULL);
            json_decref(st);
        }
        long long ms = 100LL << (c.restarts < 6 ? c.restarts - 1 : 5);
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        if (restart_stop_requested(root, id))
            break;
        /* The upper dir is whole (its mount went with the namespace, not with
         * a crash of the machine), but a volatile overlay refuses a work dir
         * it used before: the kernel makes that one again. */
        if (s->workdir != NULL) {
            cleanup_free char *w = xasprintf("%s/work", s->workdir);
            rm_rf(w, NULL);
        }
    }
    net_ns_release(&net);
    if (auto_remove) {
        ctr_remove(root, id, NULL);
    } else {
        json_t *st = ctr_load_state(root, id, NULL);
        if (st == NULL)
            st = json_object();
        json_object_set_new(st, "Status", json_string("exited"));
        json_object_set_new(st, "ExitCode", json_integer(*status));
        json_object_set_new(st, "Finished", json_integer((json_int_t)time(NULL)));
        json_object_del(st, "Pid");
        if (r < 0 && *err)
            json_object_set_new(st, "Error", json_string((*err)->msg));
        ctr_save_state(root, id, st, NULL);
        json_decref(st);
    }
    if (c.ready_fd >= 0) {
        const char *m = r < 0 && *err ? (*err)->msg : "container exited before it started";
        char code = (char)*status;
        write_all(c.ready_fd, &code, 1);
        write_all(c.ready_fd, m, strlen(m));
        close(c.ready_fd);
    }
    return r;
}
