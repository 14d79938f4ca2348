/* Reference parsing: Docker's defaults, normalized and familiar forms, and
 * errors that name the bad reference. */
#include <stdlib.h>
#include <string.h>

#include "store/reference.h"
#include "tap.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct vec {
    const char *in;
    const char *normalized;
    const char *familiar;
    const char *domain;
    const char *path;
    const char *tag; /* NULL: none */
    const char *host;
};

static const struct vec good[] = {
    {"debian", "docker.io/library/debian:latest", "debian:latest", "docker.io", "library/debian",
     "latest", "registry-1.docker.io"},
    {"debian:bookworm-slim", "docker.io/library/debian:bookworm-slim", "debian:bookworm-slim",
     "docker.io", "library/debian", "bookworm-slim", "registry-1.docker.io"},
    {"docker.io/library/debian:12", "docker.io/library/debian:12", "debian:12", "docker.io",
     "library/debian", "12", "registry-1.docker.io"},
    {"index.docker.io/library/debian", "docker.io/library/debian:latest", "debian:latest",
     "docker.io", "library/debian", "latest", "registry-1.docker.io"},
    {"docker.io/debian", "docker.io/library/debian:latest", "debian:latest", "docker.io",
     "library/debian", "latest", "registry-1.docker.io"},
    {"library/debian", "docker.io/library/debian:latest", "debian:latest", "docker.io",
     "library/debian", "latest", "registry-1.docker.io"},
    {"team/app:1.2", "docker.io/team/app:1.2", "team/app:1.2", "docker.io", "team/app", "1.2",
     "registry-1.docker.io"},
    {"team/sub/app", "docker.io/team/sub/app:latest", "team/sub/app:latest", "docker.io",
     "team/sub/app", "latest", "registry-1.docker.io"},
    {"library/sub/app", "docker.io/library/sub/app:latest", "library/sub/app:latest", "docker.io",
     "library/sub/app", "latest", "registry-1.docker.io"},
    {"127.0.0.1:5000/x:1", "127.0.0.1:5000/x:1", "127.0.0.1:5000/x:1", "127.0.0.1:5000", "x", "1",
     "127.0.0.1:5000"},
    {"localhost/app", "localhost/app:latest", "localhost/app:latest", "localhost", "app", "latest",
     "localhost"},
    {"localhost:5000/a/b:v_1.0-rc", "localhost:5000/a/b:v_1.0-rc", "localhost:5000/a/b:v_1.0-rc",
     "localhost:5000", "a/b", "v_1.0-rc", "localhost:5000"},
    {"quay.io/coreos/etcd:v3.5", "quay.io/coreos/etcd:v3.5", "quay.io/coreos/etcd:v3.5", "quay.io",
     "coreos/etcd", "v3.5", "quay.io"},
    {"ghcr.io/o/r", "ghcr.io/o/r:latest", "ghcr.io/o/r:latest", "ghcr.io", "o/r", "latest",
     "ghcr.io"},
    {"Registry.Example/app", "Registry.Example/app:latest", "Registry.Example/app:latest",
     "Registry.Example", "app", "latest", "Registry.Example"},
    {"ABC/app", "ABC/app:latest", "ABC/app:latest", "ABC", "app", "latest", "ABC"},
    {"[::1]:5000/app:x", "[::1]:5000/app:x", "[::1]:5000/app:x", "[::1]:5000", "app", "x",
     "[::1]:5000"},
    {"ab-c__d/e--f.g_h", "docker.io/ab-c__d/e--f.g_h:latest", "ab-c__d/e--f.g_h:latest",
     "docker.io", "ab-c__d/e--f.g_h", "latest", "registry-1.docker.io"},
    {"my.registry/app:TAG_Upper", "my.registry/app:TAG_Upper", "my.registry/app:TAG_Upper",
     "my.registry", "app", "TAG_Upper", "my.registry"},
    {"debian@sha256:" D64, "docker.io/library/debian@sha256:" D64, "debian@sha256:" D64,
     "docker.io", "library/debian", NULL, "registry-1.docker.io"},
    {"debian:12@sha256:" D64, "docker.io/library/debian:12@sha256:" D64, "debian:12@sha256:" D64,
     "docker.io", "library/debian", "12", "registry-1.docker.io"},
    {"127.0.0.1:5000/x@sha256:" D64, "127.0.0.1:5000/x@sha256:" D64, "127.0.0.1:5000/x@sha256:" D64,
     "127.0.0.1:5000", "x", NULL, "127.0.0.1:5000"},
};

struct badvec {
    const char *in;
    const char *why; /* a substring of the message */
};

static const struct badvec bad[] = {
    {"", "empty"},
    {"Debian", "lowercase"},
    {"team/App", "lowercase"},
    {"debian:", "tag"},
    {"debian:-x", "tag"},
    {"debian:.x", "tag"},
    {"debian:a/b", "registry host"}, /* "debian:a" is a domain with a bad port */
    {"a_b.io/app", "registry host"},
    {":tag", "missing repository"},
    {"/debian", "empty path component"},
    {"debian/", "trailing"},
    {"a//b", "empty path component"},
    {"-debian", "repository path"},
    {"debian-", "repository path"},
    {"deb..ian", "repository path"},
    {"deb___ian", "repository path"},
    {"deb ian", "whitespace"},
    {"debian@sha256:abc", "digest"},
    {"debian@md5:" D64, "digest"},
    {"debian@", "digest"},
    {D64, "image id"},
    {"localhost:port/app", "registry host"},
    {"-bad.host/app", "registry host"},
    {"bad..host/app", "registry host"},
    {"host.:5000/app", "registry host"},
    {"h.io:123456/app", "registry host"},
    {"[zz]/app", "repository path"},
    {"[zz]:5000/app", "registry host"},
};

static void test_good(const struct vec *v)
{
    struct reference r;
    struct kiln_error *err = NULL;
    int rc = reference_parse(v->in, &r, &err);
    ok(rc == 0, "parse %s%s%s", v->in, err ? ": " : "", err ? err->msg : "");
    if (rc != 0) {
        kiln_error_free(err);
        return;
    }
    char *n = reference_normalized(&r), *f = reference_familiar(&r);
    is_str(n, v->normalized, "normalized %s", v->in);
    is_str(f, v->familiar, "familiar %s", v->in);
    is_str(r.domain, v->domain, "domain %s", v->in);
    is_str(r.path, v->path, "path %s", v->in);
    is_str(r.tag, v->tag, "tag %s", v->in);
    is_str(reference_registry_host(&r), v->host, "registry host %s", v->in);
    /* The familiar form parses back to the same reference. */
    char *again = reference_normalize_str(f, NULL);
    is_str(again, v->normalized, "familiar form of %s round-trips", v->in);
    free(again);
    free(n);
    free(f);
    reference_release(&r);
}

static void test_bad(const struct badvec *v)
{
    struct reference r;
    struct kiln_error *err = NULL;
    int rc = reference_parse(v->in, &r, &err);
    ok(rc < 0 && err != NULL, "reject \"%s\"", v->in);
    if (err == NULL) {
        reference_release(&r);
        return;
    }
    char want_name[600];
    snprintf(want_name, sizeof(want_name), "invalid reference \"%s\"", v->in);
    ok(strstr(err->msg, want_name) != NULL, "error names \"%s\": %s", v->in, err->msg);
    ok(strstr(err->msg, v->why) != NULL, "error for \"%s\" says %s: %s", v->in, v->why, err->msg);
    is_int(err->code, KILN_E_INVALID, "KILN_E_INVALID for \"%s\"", v->in);
    kiln_error_free(err);
}

static void test_limits(void)
{
    char tag[200] = "a:";
    memset(tag + 2, 'x', 128);
    tag[130] = '\0';
    struct reference r;
    struct kiln_error *err = NULL;
    ok(reference_parse(tag, &r, &err) == 0, "128-character tag accepted");
    reference_release(&r);
    tag[130] = 'x';
    tag[131] = '\0';
    ok(reference_parse(tag, &r, &err) < 0, "129-character tag refused");
    kiln_error_free(err);
    err = NULL;

    char name[300];
    memset(name, 'a', sizeof(name));
    name[255 - 10] = '\0'; /* "docker.io/" + 245 = 255 */
    ok(reference_parse(name, &r, &err) < 0, "name too long with library/ prefix refused");
    kiln_error_free(err);
    err = NULL;
    memcpy(name, "team/", 5);
    ok(reference_parse(name, &r, &err) == 0, "255-character name accepted");
    reference_release(&r);
    name[255 - 10] = 'a';
    name[255 - 9] = '\0';
    ok(reference_parse(name, &r, &err) < 0, "256-character name refused");
    ok(err && strstr(err->msg, "255") != NULL, "error says the limit");
    kiln_error_free(err);

    ok(reference_tag_valid("v1.2_3-x"), "tag_valid accepts v1.2_3-x");
    ok(!reference_tag_valid(""), "tag_valid refuses empty");
    ok(!reference_tag_valid("a:b"), "tag_valid refuses ':'");
}

static void test_equivalence(void)
{
    const char *same[] = {"debian", "debian:latest", "library/debian", "docker.io/library/debian",
                          "index.docker.io/library/debian:latest"};
    char *first = reference_normalize_str(same[0], NULL);
    for (size_t i = 1; i < sizeof(same) / sizeof(same[0]); i++) {
        char *n = reference_normalize_str(same[i], NULL);
        is_str(n, first, "%s and %s are one image", same[0], same[i]);
        free(n);
    }
    free(first);
    char *f = reference_familiar_str("Bad", NULL);
    ok(f == NULL, "familiar_str returns NULL on error");
}

int main(void)
{
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        test_good(&good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        test_bad(&bad[i]);
    test_limits();
    test_equivalence();
    return done_testing();
}
