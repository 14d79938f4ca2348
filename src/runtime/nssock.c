/* The namespace socket of a rootless container (see container.h): its
 * supervisor forks a small server holding PID 1's namespace files, which
 * hands them (one message, nsfd.c) to each client of the same user and
 * closes; kiln exec and kiln health connect, receive and join them.
 *
 * Who may: the socket is 0600 in the record's 0700 directory, and the server
 * checks the client's credentials too (SO_PEERCRED). The path goes through
 * /proc/self/fd: KILN_ROOT/containers/<64 hex>/ns.sock can be longer than the
 * 108 bytes of sun_path. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/userns.h"

#define NS_SOCK "ns.sock"

static int open_record(const char *root, const char *id, struct kiln_error **err)
{
    cleanup_free char *dir = ctr_dir(root, id);
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_errno(err, errno, "%s", dir);
    return fd;
}

static void sock_addr(int dirfd, struct sockaddr_un *a)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path, sizeof(a->sun_path), "/proc/self/fd/%d/" NS_SOCK, dirfd);
}

int ctr_ns_listen(const char *root, const char *id, struct kiln_error **err)
{
    cleanup_close int dfd = open_record(root, id, err);
    if (dfd < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return kiln_error_errno(err, errno, "socket");
    unlinkat(dfd, NS_SOCK, 0); /* left by a supervisor that was killed */
    struct sockaddr_un a;
    sock_addr(dfd, &a);
    mode_t old = umask(0177);
    int r = bind(fd, (struct sockaddr *)&a, sizeof(a));
    umask(old);
    if (r < 0 || listen(fd, 64) < 0) {
        int e = errno;
        close(fd);
        cleanup_free char *dir = ctr_dir(root, id);
        return kiln_error_errno(err, e, "%s/" NS_SOCK, dir);
    }
    return fd;
}

/* Closes every descriptor from 3 up but the n in keep. */
static void close_all_but(const int *keep, size_t n)
{
    unsigned int from = 3;
    for (;;) {
        unsigned int next = ~0U;
        for (size_t i = 0; i < n; i++)
            if (keep[i] >= (int)from && (unsigned int)keep[i] < next)
                next = (unsigned int)keep[i];
        if (next > from)
            close_range(from, next == ~0U ? ~0U : next - 1, 0);
        if (next == ~0U)
            return;
        from = next + 1;
    }
}

static void serve_one(int conn, const struct rt_ns *ns)
{
    struct ucred cr;
    socklen_t len = sizeof(cr);
    /* In this process's user namespace, as getuid() is: another user, or a
     * uid the namespace does not map (the overflow id), differs. */
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 && cr.uid == getuid())
        rt_ns_send(conn, ns);
}

pid_t ctr_ns_serve(int lfd, const struct rt_ns *ns)
{
    pid_t parent = getpid();
    pid_t p = fork();
    if (p != 0)
        return p;
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent)
        _exit(0);
    prctl(PR_SET_NAME, "kiln-ns", 0, 0, 0);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Nothing of the supervisor's: not a foreground run's terminal or a
     * caller's pipe, not the snapshot holds or the record's lock. */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd < 3 && null >= 0; fd++)
        dup2(null, fd);
    int keep[1 + RT_NS_COUNT] = {lfd};
    memcpy(keep + 1, ns->fd, sizeof(ns->fd));
    close_all_but(keep, 1 + RT_NS_COUNT);
    for (;;) {
        int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0 && (errno == EINTR || errno == ECONNABORTED))
            continue;
        if (c < 0)
            _exit(1);
        serve_one(c, ns);
        close(c);
    }
}

void ctr_ns_unserve(const char *root, const char *id, pid_t server)
{
    if (server > 0) {
        kill(server, SIGKILL);
        while (waitpid(server, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    cleanup_close int dfd = open_record(root, id, NULL);
    if (dfd >= 0)
        unlinkat(dfd, NS_SOCK, 0);
}

int ctr_ns_fetch(const char *root, const char *id, struct rt_ns *ns, struct kiln_error **err)
{
    rt_ns_init(ns);
    if (geteuid() == 0 && userns_is_initial())
        return 0; /* PID 1's /proc/PID/ns is open to root */
    cleanup_close int dfd = open_record(root, id, NULL);
    struct stat st;
    if (dfd < 0 || fstatat(dfd, NS_SOCK, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0; /* started by an earlier kiln, or as root */
    cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return kiln_error_errno(err, errno, "socket");
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_un a;
    sock_addr(dfd, &a);
    cleanup_free char *dir = ctr_dir(root, id);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (errno == ECONNREFUSED || errno == ENOENT)
            return 0; /* no server: the container has stopped */
        return kiln_error_errno(err, errno, "%s/" NS_SOCK, dir);
    }
    int r = rt_ns_recv(fd, 0, ns);
    if (r < 0)
        return kiln_error_errno(err, errno, "%s/" NS_SOCK, dir);
    if (r == 0)
        return kiln_error_set(err, KILN_E_FAIL,
                              "%s/" NS_SOCK ": the container's supervisor handed over no "
                              "namespaces: only the user who started the container may enter it",
                              dir);
    return 1;
}
