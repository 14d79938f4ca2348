/* registry/mirrors: KILN_REGISTRY_MIRRORS and mirrors.conf parsing. */
#include <stdlib.h>
#include <string.h>

#include "registry/mirrors.h"
#include "tap.h"

int main(void)
{
    char **v = NULL;
    size_t n = 0;
    ok(mirrors_parse("docker.io", "m1.example:5000, quay.io=q1,docker.io=m2/", NULL, &v, &n,
                     NULL) == 0,
       "env parses");
    is_int(n, 2, "two docker.io mirrors");
    is_str(n > 0 ? v[0] : NULL, "m1.example:5000", "bare entry is a docker.io mirror");
    is_str(n > 1 ? v[1] : NULL, "m2", "trailing slash dropped");
    mirrors_free(v, n);
    ok(mirrors_parse("quay.io", "m1, quay.io=q1", NULL, &v, &n, NULL) == 0 && n == 1 &&
           strcmp(v[0], "q1") == 0,
       "mirror for another registry");
    mirrors_free(v, n);
    ok(mirrors_parse("ghcr.io", "m1", "ghcr.io x", &v, &n, NULL) == 0 && n == 0,
       "the environment wins over the file");
    mirrors_free(v, n);
    struct kiln_error *e = NULL;
    ok(mirrors_parse("docker.io", "docker.io=", NULL, &v, &n, &e) < 0 && e, "empty mirror refused");
    kiln_error_free(e);
    e = NULL;
    ok(mirrors_parse("docker.io", "docker.io=a b\"c", NULL, &v, &n, &e) < 0, "bad host refused");
    kiln_error_free(e);
    e = NULL;
    const char *conf = "# mirrors\n"
                       "docker.io  mirror-a:5000 mirror-b # two\n"
                       "\n"
                       "quay.io qm\n";
    ok(mirrors_parse("docker.io", NULL, conf, &v, &n, NULL) == 0 && n == 2 &&
           strcmp(v[0], "mirror-a:5000") == 0 && strcmp(v[1], "mirror-b") == 0,
       "config file lines with comments");
    mirrors_free(v, n);
    ok(mirrors_parse("127.0.0.1:5000", NULL, conf, &v, &n, NULL) == 0 && n == 0,
       "no mirrors for an unlisted registry");
    ok(mirrors_parse("docker.io", NULL, "docker.io m'x\n", &v, &n, &e) < 0 && e &&
           strstr(e->msg, ":1:") != NULL,
       "bad line named by number");
    kiln_error_free(e);
    return done_testing();
}
