/* runtime_exec: a new process in a running container. A helper joins the
 * container's namespaces (user first, when it has its own), then forks so the
 * command is inside the pid namespace too; the helper stays as the command's
 * parent, forwarding signals and passing its exit status on.
 *
 * Whose namespaces: s->ns, the files PID 1 opened itself and its supervisor
 * keeps (a rootless container's: ctr_ns_fetch), or else PID 1's /proc/PID/ns.
 * kiln's init is a fork of kiln that never execs and is not dumpable (so the
 * container cannot open /proc/1/exe), and its memory belongs to the host's
 * user namespace: opening its /proc/PID/ns files takes CAP_SYS_PTRACE there,
 * which a rootless caller lacks. For a container started by a kiln whose
 * supervisor kept no namespaces, they are then taken from a child of PID 1
 * (the command: it was exec'd in the container, so its owner may open them
 * unless it is not dumpable either, as after exec of a file it may not
 * read). A child's namespaces are PID 1's: the seccomp filter denies
 * unshare, setns and clone with namespace flags to everything in the
 * container. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

#define N_NS RT_NS_COUNT

/* A child of pid1 whose namespace files we may open, or pid1 (whose error then
 * says why) when pid1's own are open to us or no child's are. */
static pid_t ns_source(pid_t pid1)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid1);
    if (stat(path, &st) == 0 || (errno != EACCES && errno != EPERM))
        return pid1;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid1, (int)pid1);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return pid1;
    pid_t found = pid1;
    int child;
    while (found == pid1 && fscanf(f, "%d", &child) == 1) {
        snprintf(path, sizeof(path), "/proc/%d/ns/user", child);
        if (child > 0 && stat(path, &st) == 0)
            found = (pid_t)child;
    }
    fclose(f);
    return found;
}

/* Copies of the given namespace files; -1 where it is ours. */
static int dup_namespaces(const struct rt_ns *ns, int fds[N_NS], struct kiln_error **err)
{
    for (size_t i = 0; i < N_NS; i++) {
        if (rt_ns_is_own(ns->fd[i], (int)i))
            continue;
        fds[i] = fcntl(ns->fd[i], F_DUPFD_CLOEXEC, 3);
        if (fds[i] < 0)
            return kiln_error_errno(err, errno, "the container's %s namespace", rt_ns_names[i]);
    }
    return 0;
}

/* Opens the container's namespace files; -1 where it shares ours. */
static int open_namespaces(pid_t pid1, const struct rt_ns *ns, int fds[N_NS],
                           struct kiln_error **err)
{
    for (size_t i = 0; i < N_NS; i++)
        fds[i] = -1;
    if (ns != NULL)
        return dup_namespaces(ns, fds, err);
    pid_t src = ns_source(pid1);
    for (size_t i = 0; i < N_NS; i++) {
        char path[64], self[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)src, rt_ns_names[i]);
        snprintf(self, sizeof(self), "/proc/self/ns/%s", rt_ns_names[i]);
        struct stat a, b;
        int r = stat(path, &a);
        if (r < 0 && (errno == EACCES || errno == EPERM))
            return kiln_error_errno(err, errno,
                                    "%s: the container's processes are closed to you (kiln's "
                                    "init is not dumpable) and its supervisor hands none of "
                                    "its namespaces over (a container started by an older "
                                    "kiln): start it again with this kiln (kiln rm -f, kiln "
                                    "run), or run kiln exec as root",
                                    path);
        if (r < 0) {
            kiln_error_errno(err, errno, "container process %d", (int)pid1);
            return kiln_error_prefix(err, "the container is not running");
        }
        if (stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            continue;
        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0)
            return kiln_error_errno(err, errno, "%s", path);
    }
    return 0;
}

static __attribute__((noreturn)) void fail(int fd, int status, struct kiln_error *e)
{
    rt_report(fd, status, e);
    _exit(status);
}

static __attribute__((noreturn)) void command(const struct rt_spec *s, int errfd, int tty_slave,
                                              uid_t keep_uid, gid_t keep_gid)
{
    struct kiln_error *err = NULL;
    struct rt_user u;
    int status;
    pid_t parent = getppid();
    if (rt_setup_stdio(s, tty_slave, &err) < 0 ||
        rt_resolve_user(s, keep_uid, keep_gid, &u, &err) < 0)
        fail(errfd, RT_EXIT_SETUP, err);
    char **env = rt_build_env(s, &u);
    if (rt_enter_workdir(s->cwd, &err) < 0 || rt_drop_bounding(s, &err) < 0 ||
        rt_become_user(s, &u, &err) < 0)
        fail(errfd, RT_EXIT_SETUP, err);
    /* Becoming another user cleared the parent-death signal: set again, the
     * command dies with the caller (a health probe killed at its timeout,
     * not left running as the container's user). */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent)
        _exit(RT_EXIT_SETUP);
    setsid();
    if (tty_slave >= 0)
        ioctl(0, TIOCSCTTY, 0);
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    if (rt_lock_down(0, &err) < 0)
        fail(errfd, RT_EXIT_SETUP, err);
    rt_exec_command(s->argv, env, &status, &err);
    fail(errfd, status, err);
}

static __attribute__((noreturn)) void helper(const struct rt_spec *s, int fds[N_NS], int errfd,
                                             int ttysock, uid_t keep_uid, gid_t keep_gid)
{
    int tty_slave = -1;
    struct kiln_error *err = NULL;
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    for (size_t i = 0; i < N_NS; i++) {
        if (fds[i] >= 0 && setns(fds[i], rt_ns_types[i]) < 0) {
            kiln_error_errno(&err, errno, "joining the container's %s namespace", rt_ns_names[i]);
            fail(errfd, RT_EXIT_SETUP, err);
        }
        if (fds[i] >= 0)
            close(fds[i]);
    }
    if (ttysock >= 0) {
        /* A pty from the container's own devpts (we are in its mount ns now). */
        tty_slave = rt_tty_make_in_container(ttysock, &err);
        close(ttysock);
        if (tty_slave < 0)
            fail(errfd, RT_EXIT_SETUP, err);
    }
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &all, NULL);
    pid_t p = fork();
    if (p < 0) {
        kiln_error_errno(&err, errno, "fork");
        fail(errfd, RT_EXIT_SETUP, err);
    }
    if (p == 0) {
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        command(s, errfd, tty_slave, keep_uid, keep_gid);
    }
    close(errfd);
    if (tty_slave >= 0)
        close(tty_slave);
    _exit(rt_init_loop(p));
}

int runtime_exec(pid_t pid1, const struct rt_spec *s, int *status, struct kiln_error **err)
{
    *status = RT_EXIT_SETUP;
    if (s->argv == NULL || s->argv[0] == NULL)
        return kiln_error_set(err, KILN_E_USAGE, "no command specified");
    int fds[N_NS];
    if (open_namespaces(pid1, s->ns, fds, err) < 0) {
        for (size_t i = 0; i < N_NS; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        return -1;
    }
    cleanup_close int tty_master = -1;
    int ttysock[2] = {-1, -1};
    if (s->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ttysock) < 0)
        return kiln_error_errno(err, errno, "socketpair");
    int errp[2];
    if (pipe2(errp, O_CLOEXEC) < 0)
        return kiln_error_errno(err, errno, "pipe");
    fflush(NULL);
    uid_t keep_uid = getuid();
    gid_t keep_gid = getgid();
    pid_t pid = fork();
    if (pid == 0)
        helper(s, fds, errp[1], ttysock[1], keep_uid, keep_gid);
    int fork_errno = errno;
    close(errp[1]);
    if (ttysock[1] >= 0)
        close(ttysock[1]);
    for (size_t i = 0; i < N_NS; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (pid < 0) {
        close(errp[0]);
        if (ttysock[0] >= 0)
            close(ttysock[0]);
        return kiln_error_errno(err, fork_errno, "fork");
    }
    if (ttysock[0] >= 0) {
        tty_master = rt_tty_receive(ttysock[0]);
        close(ttysock[0]);
    }
    struct rt_child_msg m;
    int failed = rt_read_child_msg(errp[0], &m);
    close(errp[0]);
    if (!failed && tty_master >= 0)
        rt_tty_relay(tty_master);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (failed)
        return rt_msg_to_error(&m, status, err);
    *status = rt_docker_status(st);
    return 0;
}
