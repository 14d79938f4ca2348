/* The build epoch: SOURCE_DATE_EPOCH, else git HEAD commit time, else 0.
 * git is asked through its own CLI (`git log -1 --format=%ct`), which knows
 * packed objects, worktrees and submodules better than a re-implementation. */
#include "build/epoch.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/strbuf.h"

extern char **environ;

int build_epoch(const char *source_date_epoch, const char *context_dir, int64_t *out,
                struct kiln_error **err)
{
    if (source_date_epoch != NULL && source_date_epoch[0] != '\0') {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(source_date_epoch, &end, 10);
        if (errno != 0 || end == source_date_epoch || *end != '\0' || v < 0)
            return kiln_error_set(err, KILN_E_USAGE,
                                  "SOURCE_DATE_EPOCH=\"%s\" is not a number of seconds since "
                                  "1970; set it to an integer such as $(git log -1 --format=%%ct)",
                                  source_date_epoch);
        *out = v;
        return 0;
    }
    int64_t t = context_dir != NULL ? build_git_head_time(context_dir) : -1;
    *out = t >= 0 ? t : 0;
    return 0;
}

int64_t build_git_head_time(const char *dir)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    /* safe.directory: the context may belong to another user (a checkout
     * made by a CI user); we only read the commit time. */
    char *argv[] = {"git", "-c", "safe.directory=*", "-C",   (char *)dir,
                    "log", "-1", "--format=%ct",     "HEAD", NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "git", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        return -1;
    }
    struct strbuf sb = STRBUF_INIT;
    char buf[256];
    for (;;) {
        ssize_t n = read(pipefd[0], buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (sb.len < 4096)
            strbuf_add(&sb, buf, (size_t)n);
    }
    close(pipefd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int64_t t = -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && sb.len > 0) {
        strbuf_rtrim(&sb);
        char *end = NULL;
        long long v = strtoll(sb.buf, &end, 10);
        if (end != sb.buf && *end == '\0' && v >= 0)
            t = v;
    }
    strbuf_release(&sb);
    return t;
}
