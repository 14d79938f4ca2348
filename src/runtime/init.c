/* kiln's PID 1 (what tini and catatonit do): forwards every signal it can to
 * the command, reaps every zombie, and exits with the command's status, 128+N
 * when the command died of signal N. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "runtime/internal.h"

static int docker_status(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 255;
}

/* Signals must already be blocked (before the fork), so none is lost. */
int rt_init_loop(pid_t child)
{
    sigset_t all;
    sigfillset(&all);
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&all, &si);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            return 255;
        }
        if (sig != SIGCHLD) {
            /* Synchronous faults cannot arrive here; everything else goes on. */
            kill(child, sig);
            continue;
        }
        int st;
        pid_t p;
        while ((p = waitpid(-1, &st, WNOHANG)) > 0)
            if (p == child)
                return docker_status(st);
    }
}
