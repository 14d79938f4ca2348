/* ENTRYPOINT/CMD resolution, checked against docker run's documented rules. */
#include <stdlib.h>

#include "runtime/runtime.h"
#include "tap.h"
#include "util/strbuf.h"

static char *joined(const char *const *ep, const char *const *cmd, const char *uep,
                    char *const *ucmd, size_t nu)
{
    char **v = NULL;
    struct kiln_error *err = NULL;
    if (rt_resolve_argv(ep, cmd, uep, ucmd, nu, &v, &err) < 0) {
        char *m = xasprintf("ERR:%d", err->code);
        kiln_error_free(err);
        return m;
    }
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    for (size_t i = 0; v[i]; i++)
        strbuf_addf(&sb, "%s[%s]", i ? " " : "", v[i]);
    rt_argv_free(v);
    return strbuf_detach(&sb);
}

int main(void)
{
    const char *ep[] = {"/entry", "-x", NULL};
    const char *cmd[] = {"serve", "--port", "80", NULL};
    char *ucmd[] = {"sh", "-c", "echo hi"};
    char *s;

    s = joined(NULL, cmd, NULL, NULL, 0);
    is_str(s, "[serve] [--port] [80]", "CMD alone");
    free(s);
    s = joined(ep, cmd, NULL, NULL, 0);
    is_str(s, "[/entry] [-x] [serve] [--port] [80]", "ENTRYPOINT + CMD");
    free(s);
    s = joined(ep, cmd, NULL, ucmd, 3);
    is_str(s, "[/entry] [-x] [sh] [-c] [echo hi]", "user args replace CMD only");
    free(s);
    s = joined(NULL, cmd, NULL, ucmd, 3);
    is_str(s, "[sh] [-c] [echo hi]", "user args replace CMD");
    free(s);
    s = joined(ep, cmd, "/bin/true", NULL, 0);
    is_str(s, "[/bin/true]", "--entrypoint drops the image's CMD");
    free(s);
    s = joined(ep, cmd, "/bin/echo", ucmd, 1);
    is_str(s, "[/bin/echo] [sh]", "--entrypoint plus user args");
    free(s);
    s = joined(ep, cmd, "", ucmd, 3);
    is_str(s, "[sh] [-c] [echo hi]", "--entrypoint \"\" resets ENTRYPOINT");
    free(s);
    s = joined(ep, cmd, "", NULL, 0);
    is_str(s, "ERR:2", "--entrypoint \"\" and no args: no command");
    free(s);
    s = joined(NULL, NULL, NULL, NULL, 0);
    is_str(s, "ERR:2", "nothing at all: no command");
    free(s);
    s = joined(ep, NULL, NULL, NULL, 0);
    is_str(s, "[/entry] [-x]", "ENTRYPOINT alone");
    free(s);

    struct rt_spec sp;
    rt_spec_init(&sp);
    is_int(sp.stdio[1], RT_STDIO_INHERIT, "spec_init inherits stdio");
    is_int(sp.network, RT_NET_HOST, "spec_init host network");
    return done_testing();
}
