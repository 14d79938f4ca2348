/* What runtime_run and runtime_exec share on both sides of the fork: the
 * error message a child sends before exec, stdio wiring, Docker's default
 * environment, the working directory, and reading the outcome. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

void rt_report(int fd, int status, const struct kiln_error *e)
{
    struct rt_child_msg m = {.status = status, .code = KILN_E_FAIL};
    if (e != NULL) {
        m.code = e->code;
        m.errnum = e->errnum;
        snprintf(m.text, sizeof(m.text), "%s", e->msg ? e->msg : "failed");
    }
    write_all(fd, &m, sizeof(m));
}

static int env_has(char *const *env, size_t n, const char *key)
{
    size_t k = strlen(key);
    for (size_t i = 0; i < n; i++)
        if (strncmp(env[i], key, k) == 0 && env[i][k] == '=')
            return 1;
    return 0;
}

char **rt_build_env(const struct rt_spec *s, const struct rt_user *u)
{
    size_t n = 0;
    while (s->env != NULL && s->env[n] != NULL)
        n++;
    char **env = xcalloc(n + 5, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        env[i] = (char *)s->env[i];
    if (!env_has(env, n, "PATH"))
        env[n++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    if (!env_has(env, n, "HOSTNAME"))
        env[n++] = xasprintf("HOSTNAME=%s", s->hostname ? s->hostname : "kiln");
    if (!env_has(env, n, "HOME"))
        env[n++] = xasprintf("HOME=%s", u->home ? u->home : "/");
    if (s->tty && !env_has(env, n, "TERM"))
        env[n++] = "TERM=xterm";
    env[n] = NULL;
    return env;
}

int rt_setup_stdio(const struct rt_spec *s, int tty_slave, struct kiln_error **err)
{
    int want[3];
    for (int i = 0; i < 3; i++) {
        int f = tty_slave >= 0 ? tty_slave : s->stdio[i];
        if (f == RT_STDIO_INHERIT)
            f = i;
        else if (f < 0)
            f = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (f < 0)
            return kiln_error_errno(err, errno, "/dev/null");
        /* Above 2 first, so that moving one does not clobber another. */
        want[i] = fcntl(f, F_DUPFD_CLOEXEC, 10);
        if (want[i] < 0)
            return kiln_error_errno(err, errno, "stdio");
    }
    for (int i = 0; i < 3; i++)
        if (dup2(want[i], i) < 0)
            return kiln_error_errno(err, errno, "stdio");
    return 0;
}

int rt_enter_workdir(const char *cwd, struct kiln_error **err)
{
    if (cwd == NULL || cwd[0] == '\0')
        cwd = "/";
    if (cwd[0] != '/')
        return kiln_error_set(err, KILN_E_USAGE, "working directory \"%s\" must be absolute", cwd);
    cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    cleanup_close int fd = rt_open_in_root(root, cwd, 1, -1, err);
    if (fd < 0)
        return kiln_error_prefix(err, "working directory");
    if (fchdir(fd) < 0)
        return kiln_error_errno(err, errno, "working directory %s", cwd);
    return 0;
}

int rt_docker_status(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 255;
}

int rt_read_child_msg(int fd, struct rt_child_msg *m)
{
    ssize_t n;
    do
        n = read(fd, m, sizeof(*m));
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(*m))
        return 0;
    m->text[sizeof(m->text) - 1] = '\0';
    return 1;
}

int rt_msg_to_error(const struct rt_child_msg *m, int *status, struct kiln_error **err)
{
    *status = m->status;
    if (err != NULL && *err == NULL) {
        *err = xcalloc(1, sizeof(**err));
        (*err)->code = m->code;
        (*err)->errnum = m->errnum;
        (*err)->msg = xstrdup(m->text);
    }
    return -1;
}

/* Reads the image's passwd/group (inside the container's root) and resolves
 * the user; keep-id defaults to the caller's ids. */
int rt_resolve_user(const struct rt_spec *s, uid_t keep_uid, gid_t keep_gid, struct rt_user *u,
                    struct kiln_error **err)
{
    cleanup_free char *passwd = NULL;
    cleanup_free char *group = NULL;
    read_file("/etc/passwd", 4 << 20, &passwd, NULL, NULL);
    read_file("/etc/group", 4 << 20, &group, NULL, NULL);
    const char *user = s->user;
    char keep[48];
    if ((user == NULL || user[0] == '\0') && s->userns == RT_USERNS_KEEP_ID) {
        snprintf(keep, sizeof(keep), "%u:%u", (unsigned)keep_uid, (unsigned)keep_gid);
        user = keep;
    }
    return rt_user_resolve(user, passwd, group, u, err);
}
