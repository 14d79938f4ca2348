/* Platforms as "os/arch[/variant]", normalised the way containerd does, and
 * the host's own platform for BUILDPLATFORM. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "dockerfile/eval.h"
#include "util/strbuf.h"

static void normalise(struct df_platform *p)
{
    static const struct {
        const char *from, *arch, *variant;
    } aliases[] = {
        {"x86_64", "amd64", ""}, {"x86-64", "amd64", ""}, {"aarch64", "arm64", NULL},
        {"armhf", "arm", "v7"},  {"armel", "arm", "v6"},  {"i386", "386", ""},
        {"i686", "386", ""},
    };
    for (char *q = p->os; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    for (char *q = p->arch; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        if (strcmp(p->arch, aliases[i].from) == 0) {
            free(p->arch);
            p->arch = xstrdup(aliases[i].arch);
            if (aliases[i].variant != NULL && p->variant[0] == '\0') {
                free(p->variant);
                p->variant = xstrdup(aliases[i].variant);
            }
        }
    }
    if (strcmp(p->arch, "arm64") == 0 && strcmp(p->variant, "v8") == 0) {
        free(p->variant);
        p->variant = xstrdup("");
    }
    if (strcmp(p->arch, "arm") == 0 && p->variant[0] == '\0') {
        free(p->variant);
        p->variant = xstrdup("v7");
    }
}

int df_platform_parse(const char *s, struct df_platform *out, struct kiln_error **err)
{
    const char *a = strchr(s, '/');
    memset(out, 0, sizeof(*out));
    if (a == NULL || a == s || a[1] == '\0' || a[1] == '/')
        return kiln_error_set(err, KILN_E_INVALID,
                              "invalid platform \"%s\": want os/arch[/variant], e.g. linux/amd64",
                              s);
    const char *v = strchr(a + 1, '/');
    if (v != NULL && (v[1] == '\0' || strchr(v + 1, '/') != NULL))
        return kiln_error_set(err, KILN_E_INVALID,
                              "invalid platform \"%s\": want os/arch[/variant], e.g. linux/amd64",
                              s);
    out->os = xstrndup(s, (size_t)(a - s));
    out->arch = v ? xstrndup(a + 1, (size_t)(v - a - 1)) : xstrdup(a + 1);
    out->variant = xstrdup(v ? v + 1 : "");
    normalise(out);
    return 0;
}

void df_platform_host(struct df_platform *out)
{
    struct utsname u;
    memset(out, 0, sizeof(*out));
    out->os = xstrdup("linux");
    out->arch = xstrdup(uname(&u) == 0 ? u.machine : "amd64");
    out->variant = xstrdup("");
    normalise(out);
}

char *df_platform_format(const struct df_platform *p)
{
    if (p->variant != NULL && p->variant[0] != '\0')
        return xasprintf("%s/%s/%s", p->os, p->arch, p->variant);
    return xasprintf("%s/%s", p->os, p->arch);
}

void df_platform_release(struct df_platform *p)
{
    free(p->os);
    free(p->arch);
    free(p->variant);
    memset(p, 0, sizeof(*p));
}
