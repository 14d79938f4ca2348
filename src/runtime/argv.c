/* Docker's ENTRYPOINT/CMD rules, and the spec defaults. Pure functions: the
 * unit tests check them against what `docker run` does. */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "util/strbuf.h"

void rt_spec_init(struct rt_spec *s)
{
    memset(s, 0, sizeof(*s));
    s->stdio[0] = s->stdio[1] = s->stdio[2] = RT_STDIO_INHERIT;
}

static size_t argv_len(const char *const *v)
{
    size_t n = 0;
    while (v != NULL && v[n] != NULL)
        n++;
    return n;
}

int rt_resolve_argv(const char *const *image_entrypoint, const char *const *image_cmd,
                    const char *user_entrypoint, char *const *user_cmd, size_t n_user_cmd,
                    char ***out, struct kiln_error **err)
{
    const char *const *ep = image_entrypoint;
    const char *one_ep[2] = {user_entrypoint, NULL};
    const char *const *cmd = image_cmd;
    size_t n_ep, n_cmd;

    /* --entrypoint replaces the image's ENTRYPOINT and resets its CMD;
     * --entrypoint "" means no entrypoint at all. */
    if (user_entrypoint != NULL) {
        ep = user_entrypoint[0] != '\0' ? one_ep : NULL;
        cmd = NULL;
    }
    n_ep = argv_len(ep);
    n_cmd = n_user_cmd > 0 ? n_user_cmd : argv_len(cmd);
    if (n_ep + n_cmd == 0) {
        *out = NULL;
        return kiln_error_set(err, KILN_E_USAGE,
                              "no command specified: the image has no ENTRYPOINT or CMD; "
                              "give one after the image name");
    }
    char **v = xcalloc(n_ep + n_cmd + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n_ep; i++)
        v[k++] = xstrdup(ep[i]);
    for (size_t i = 0; i < n_cmd; i++)
        v[k++] = xstrdup(n_user_cmd > 0 ? user_cmd[i] : cmd[i]);
    v[k] = NULL;
    *out = v;
    return 0;
}

void rt_argv_free(char **argv)
{
    if (argv == NULL)
        return;
    for (size_t i = 0; argv[i] != NULL; i++)
        free(argv[i]);
    free(argv);
}
