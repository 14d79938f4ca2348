/* The Dockerfile's view of platforms (TARGETPLATFORM, BUILDPLATFORM, FROM
 * --platform): util/platform parses, normalises and checks them. */
#include <stdlib.h>
#include <string.h>

#include "dockerfile/eval.h"
#include "util/platform.h"
#include "util/strbuf.h"

static void from_platform(const struct platform *p, struct df_platform *out)
{
    out->os = xstrdup(p->os);
    out->arch = xstrdup(p->arch);
    out->variant = xstrdup(p->variant);
}

int df_platform_parse(const char *s, struct df_platform *out, struct kiln_error **err)
{
    struct platform p;
    memset(out, 0, sizeof(*out));
    if (platform_parse(s, &p, err) < 0 || platform_check_buildable(&p, err) < 0)
        return -1;
    from_platform(&p, out);
    return 0;
}

void df_platform_host(struct df_platform *out)
{
    struct platform p;
    platform_host(&p);
    from_platform(&p, out);
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
