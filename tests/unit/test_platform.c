/* Platform parsing and normalisation (util/platform): containerd's table of
 * cases (platforms_test.go TestParseSelector / TestParseSelectorInvalid and
 * database.go's normalizeArch), what kiln builds for, --platform lists. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util/platform.h"

static char host_arch[16];

/* input -> formatted (after normalising); "HOST" stands for the host's arch */
static const struct {
    const char *in, *want;
} cases[] = {
    {"linux/arm64", "linux/arm64"},
    {"linux/arm64/v8", "linux/arm64"}, /* arm64 = linux/arm64/v8 */
    {"linux/aarch64", "linux/arm64"},
    {"linux/aarch64/v8", "linux/arm64"},
    {"linux/arm64/8", "linux/arm64"},
    {"linux/arm64/v8.0", "linux/arm64"},
    {"linux/arm64/9.0", "linux/arm64/v9"},
    {"linux/arm", "linux/arm/v7"},
    {"linux/arm/7", "linux/arm/v7"},
    {"linux/armhf", "linux/arm/v7"}, /* armhf = linux/arm/v7 */
    {"linux/arm/v6", "linux/arm/v6"},
    {"linux/armel", "linux/arm/v6"},
    {"linux/arm/5", "linux/arm/v5"},
    {"linux/arm/v7", "linux/arm/v7"},
    {"arm", "linux/arm/v7"},
    {"armel", "linux/arm/v6"},
    {"armhf", "linux/arm/v7"},
    {"Aarch64", "linux/arm64"},
    {"x86_64", "linux/amd64"},
    {"x86-64", "linux/amd64"},
    {"Linux/x86_64", "linux/amd64"},
    {"linux/amd64/v1", "linux/amd64"},
    {"linux/amd64/v3", "linux/amd64/v3"},
    {"i386", "linux/386"},
    {"linux/i686", "linux/386"},
    {"s390x", "linux/s390x"},
    {"linux/s390x", "linux/s390x"},
    {"linux/riscv64", "linux/riscv64"},
    {"linux/ppc64le", "linux/ppc64le"},
    {"linux", "linux/HOST"},
    {"macOS", "darwin/HOST"},
    {"windows/amd64", "windows/amd64"}, /* well-formed, not buildable */
    {"linux/sparc", "linux/sparc"},
};

/* containerd's invalid inputs, and ours */
static const char *const invalid[] = {
    "",           "/linux/arm",   "linux/arm/",  "linux /arm", "linux/&arm", "linux/arm/foo/bar",
    "linux//arm", "plan10/amd64", "linux/pdp11", "hurd64",     NULL,
};

/* parse fine, but kiln does not build them: the error names the platform */
static const struct {
    const char *in, *msg;
} unbuildable[] = {
    {"windows/amd64", "Linux images only"},
    {"darwin/arm64", "Linux images only"},
    {"linux/sparc", "architecture sparc is not supported"},
    {"linux/arm64/v9", "variant v9 of arm64 is not supported"},
    {"linux/amd64/v9", "variant v9 of amd64"},
};

static void check_case(const char *in, const char *want)
{
    struct platform p;
    struct kiln_error *err = NULL;
    char buf[PLATFORM_STR_MAX], exp[PLATFORM_STR_MAX];
    const char *h = strstr(want, "HOST");
    if (h != NULL)
        snprintf(exp, sizeof(exp), "%.*s%s", (int)(h - want), want, host_arch);
    else
        snprintf(exp, sizeof(exp), "%s", want);
    int rc = platform_parse(in, &p, &err);
    ok(rc == 0, "parse \"%s\"%s%s", in, err ? ": " : "", err ? err->msg : "");
    kiln_error_free(err);
    if (rc != 0)
        return;
    is_str(platform_format(&p, buf), exp, "\"%s\" normalises to %s", in, exp);
    /* stable: the formatted form parses to itself */
    struct platform again;
    char buf2[PLATFORM_STR_MAX];
    ok(platform_parse(buf, &again, NULL) == 0 && platform_equal(&p, &again) &&
           strcmp(platform_format(&again, buf2), buf) == 0,
       "\"%s\" survives the round trip", buf);
}

int main(void)
{
    struct platform hp;
    platform_host(&hp);
    snprintf(host_arch, sizeof(host_arch), "%s", hp.arch);
    ok(platform_is_host(&hp), "the host platform is the host's");

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(cases[i].in, cases[i].want);

    for (size_t i = 0; invalid[i] != NULL; i++) {
        struct platform p;
        struct kiln_error *err = NULL;
        ok(platform_parse(invalid[i], &p, &err) < 0 && err != NULL &&
               strstr(err->msg, "invalid platform") != NULL,
           "\"%s\" is refused (%s)", invalid[i], err ? err->msg : "no error");
        kiln_error_free(err);
    }

    for (size_t i = 0; i < sizeof(unbuildable) / sizeof(unbuildable[0]); i++) {
        struct platform p;
        struct kiln_error *err = NULL;
        ok(platform_parse(unbuildable[i].in, &p, NULL) == 0, "\"%s\" parses", unbuildable[i].in);
        ok(platform_check_buildable(&p, &err) < 0 && err != NULL &&
               strstr(err->msg, unbuildable[i].msg) != NULL,
           "\"%s\" is not buildable: %s", unbuildable[i].in, err ? err->msg : "no error");
        kiln_error_free(err);
    }
    const char *good[] = {"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/riscv64",
                          "linux/386",   "linux/s390x", "linux/ppc64le"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct platform p;
        ok(platform_parse(good[i], &p, NULL) == 0 && platform_check_buildable(&p, NULL) == 0,
           "%s is buildable", good[i]);
    }

    /* --platform lists */
    struct platform *v = NULL;
    size_t n = 0;
    struct kiln_error *err = NULL;
    ok(platform_parse_list("linux/amd64,linux/arm64/v8,armhf", &v, &n, NULL) == 0 && n == 3,
       "a list of three");
    char b0[PLATFORM_STR_MAX], b1[PLATFORM_STR_MAX], b2[PLATFORM_STR_MAX];
    if (n == 3) {
        is_str(platform_format(&v[0], b0), "linux/amd64", "first");
        is_str(platform_format(&v[1], b1), "linux/arm64", "second");
        is_str(platform_format(&v[2], b2), "linux/arm/v7", "third");
    }
    free(v);
    const struct {
        const char *in, *msg;
    } badlists[] = {
        {"", "empty list"},
        {",", "empty list"},
        {"linux/amd64,", "empty item"},
        {"linux/amd64,,linux/arm64", "empty item"},
        {"linux/arm64,linux/aarch64/v8", "given twice"},
        {"linux/amd64,x86_64", "given twice"},
        {"linux/amd64,linux/sparc", "sparc is not supported"},
        {"linux/amd64,windows/amd64", "Linux images only"},
        {"linux/arm64/v9", "variant v9"},
    };
    for (size_t i = 0; i < sizeof(badlists) / sizeof(badlists[0]); i++) {
        v = NULL;
        ok(platform_parse_list(badlists[i].in, &v, &n, &err) < 0 && v == NULL && err != NULL &&
               strstr(err->msg, badlists[i].msg) != NULL,
           "--platform \"%s\": %s", badlists[i].in, err ? err->msg : "no error");
        kiln_error_freep(&err);
    }

    /* OCI platform objects */
    json_t *j =
        json_pack("{s:s, s:s, s:s}", "os", "linux", "architecture", "arm64", "variant", "v8");
    struct platform p;
    ok(platform_from_json(j, &p) == 0 && strcmp(platform_format(&p, b0), "linux/arm64") == 0,
       "an index entry arm64/v8 is linux/arm64");
    json_decref(j);
    platform_parse("linux/arm/v7", &p, NULL);
    j = platform_to_json(&p);
    ok(strcmp(json_string_value(json_object_get(j, "variant")), "v7") == 0 &&
           strcmp(json_string_value(json_object_get(j, "architecture")), "arm") == 0,
       "linux/arm/v7 as JSON");
    json_decref(j);
    platform_parse("linux/arm64", &p, NULL);
    is_str(platform_qemu_arch(&p), "aarch64", "arm64 runs under qemu-aarch64");
    is_str(platform_uname_machine(&p), "aarch64", "uname -m of arm64");
    return done_testing();
}
