/* exec of the container's command with Docker's and podman's exit codes: 127
 * when it is not found, 126 when it cannot be executed. PATH comes from the
 * container's environment, not kiln's. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "util/strbuf.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *env_path(char *const *env)
{
    for (size_t i = 0; env != NULL && env[i] != NULL; i++)
        if (strncmp(env[i], "PATH=", 5) == 0)
            return env[i] + 5;
    return DEFAULT_PATH;
}

static int exec_failed(const char *file, int e, int *status, struct kiln_error **err)
{
    *status = (e == ENOENT || e == ENOTDIR) ? RT_EXIT_NOTFOUND : RT_EXIT_NOEXEC;
    return kiln_error_errno(err, e, "exec: \"%s\"", file);
}

int rt_exec_command(const char *const *argv, char *const *env, int *status, struct kiln_error **err)
{
    const char *file = argv[0];
    char *const *av = (char *const *)argv;
    if (file == NULL || file[0] == '\0') {
        *status = RT_EXIT_NOTFOUND;
        return kiln_error_set(err, KILN_E_USAGE, "exec: no command given");
    }
    if (strchr(file, '/') != NULL) {
        execve(file, av, env);
        return exec_failed(file, errno, status, err);
    }
    const char *path = env_path(env);
    int seen_eacces = 0, other = 0;
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    while (1) {
        const char *colon = strchrnul(path, ':');
        strbuf_reset(&sb);
        if (colon == path)
            strbuf_adds(&sb, ".");
        else
            strbuf_add(&sb, path, (size_t)(colon - path));
        strbuf_addc(&sb, '/');
        strbuf_adds(&sb, file);
        execve(sb.buf, av, env);
        if (errno == EACCES)
            seen_eacces = 1;
        else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP && errno != ENAMETOOLONG)
            other = errno;
        if (other)
            break;
        if (*colon == '\0')
            break;
        path = colon + 1;
    }
    strbuf_release(&sb);
    if (other)
        return exec_failed(file, other, status, err);
    if (seen_eacces)
        return exec_failed(file, EACCES, status, err);
    *status = RT_EXIT_NOTFOUND;
    return kiln_error_set(err, KILN_E_NOTFOUND, "exec: \"%s\": executable file not found in $PATH",
                          file);
}
