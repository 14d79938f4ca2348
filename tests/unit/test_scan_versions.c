/* The scanner's version orders against their specifications' examples
 * (deb-version(7) edge cases, PEP 440's "summary of permitted suffixes and
 * relative ordering", Semantic Versioning 2.0.0 section 11), CVSS v3.1 base
 * scores of well-known vectors, and package URLs as kiln writes them. With
 * KILN_DPKG_PAIRS=FILE ("A B SIGN" lines, SIGN from dpkg) it also checks every
 * pair (tests/e2e/scan_versions.bats makes the file from a Packages list). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sbom/scan.h"
#include "sbom/version.h"
#include "tap.h"

static int sign(int c)
{
    return c < 0 ? -1 : c > 0;
}

static void check_order(const char *what, enum version_scheme s, const char *const *v, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int want = i < j ? -1 : i > j, got = sign(version_cmp(s, v[i], v[j]));
            if (got != want) {
                if (bad++ < 5)
                    printf("# %s: cmp(%s, %s) = %d, want %d\n", what, v[i], v[j], got, want);
            }
        }
    ok(bad == 0, "%s: %zu versions in the specification's order", what, n);
}

static void dpkg_pairs(const char *path)
{
    FILE *f = fopen(path, "re");
    ok(f != NULL, "open %s", path);
    if (!f)
        return;
    char a[512], b[512];
    int want;
    size_t n = 0, bad = 0;
    while (fscanf(f, "%511s %511s %d", a, b, &want) == 3) {
        n++;
        if (sign(version_cmp_dpkg(a, b)) != want && bad++ < 10)
            printf("# dpkg disagrees: %s vs %s: dpkg %d, kiln %d\n", a, b, want,
                   sign(version_cmp_dpkg(a, b)));
    }
    fclose(f);
    ok(n > 0 && bad == 0, "%zu pairs agree with dpkg (%zu disagree)", n, bad);
}

int main(void)
{
    /* dpkg: epochs, '~', '+', missing revisions, letters before symbols. */
    static const struct {
        const char *a, *b;
        int want;
    } dpkg[] = {
        {"1.0", "1.0-0", 0},
        {"1.0", "1.0-1", -1},
        {"1:0.1", "2.0", 1},
        {"0:1.0", "1.0", 0},
        {"1.0~rc1", "1.0", -1},
        {"1.0~~", "1.0~", -1},
        {"1.0~", "1.0", -1},
        {"1.0+b1", "1.0", 1},
        {"1.0a", "1.0+", -1},
        {"1.0.1", "1.0a", 1},
        {"2.30-1", "2.4-1", 1},
        {"1.0-1~bpo1", "1.0-1", -1},
        {"3.11.2-6+deb12u1", "3.11.2-6", 1},
        {"1.01", "1.1", 0},
        {"7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1},
        {"1:1.2.13.dfsg-1", "1.2.14", 1},
        {"2.36-9+deb12u4", "2.36-9+deb12u10", -1},
        {"1.0-1", "1.0-1", 0},
        {"a", "b", -1},
        {"1.2.3-1-1", "1.2.3-1", 1},
    };
    for (size_t i = 0; i < sizeof(dpkg) / sizeof(dpkg[0]); i++)
        is_int(sign(version_cmp_dpkg(dpkg[i].a, dpkg[i].b)), dpkg[i].want, "dpkg %s vs %s",
               dpkg[i].a, dpkg[i].b);
    ok(version_valid_dpkg("1:2.3-4~bpo1"), "dpkg: valid version");
    ok(!version_valid_dpkg("a:1.0") && !version_valid_dpkg("x1.0") && !version_valid_dpkg(""),
       "dpkg: invalid epoch / upstream not starting with a digit / empty");

    /* PEP 440's own ordering example. */
    static const char *const pep[] = {
        "1.dev0",
        "1.0.dev456",
        "1.0a1",
        "1.0a2.dev456",
        "1.0a12.dev456",
        "1.0a12",
        "1.0b1.dev456",
        "1.0b2",
        "1.0b2.post345.dev456",
        "1.0b2.post345",
        "1.0rc1.dev456",
        "1.0rc1",
        "1.0",
        "1.0+abc.5",
        "1.0+abc.7",
        "1.0+5",
        "1.0.post456.dev34",
        "1.0.post456",
        "1.0.15",
        "1.1.dev1",
    };
    check_order("PEP 440", VERSION_PEP440, pep, sizeof(pep) / sizeof(pep[0]));
    /* Normalisation: the spec's alternative spellings are the same version. */
    static const char *const same[][2] = {
        {"1.0", "1.0.0"},
        {"1.0a1", "1.0alpha1"},
        {"1.1b2", "1.1beta2"},
        {"1.0c1", "1.0rc1"},
        {"1.0rc1", "1.0pre1"},
        {"1.0rc1", "1.0preview1"},
        {"1.0a1", "1.0.a.1"},
        {"1.0a1", "1.0-a1"},
        {"1.0a0", "1.0a"},
        {"1.0.post1", "1.0-1"},
        {"1.0.post1", "1.0r1"},
        {"1.0.post1", "1.0rev1"},
        {"1.0.post0", "1.0.post"},
        {"1.0.dev0", "1.0-dev"},
        {"1.0", "v1.0"},
        {"1.0", " 1.0\t"},
        {"1.0+ubuntu-1", "1.0+ubuntu.1"},
        {"1.0RC1", "1.0rc1"},
        {"0!1.0", "1.0"},
        {"01.002", "1.2"},
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        is_int(version_cmp_pep440(same[i][0], same[i][1]), 0, "PEP 440: %s == %s", same[i][0],
               same[i][1]);
    ok(version_cmp_pep440("1!1.0", "2.0") > 0, "PEP 440: epoch 1 sorts after epoch 0");
    ok(version_cmp_pep440("2.31.0", "2.4.0") > 0, "PEP 440: release segments are numbers");
    ok(!version_valid_pep440("1.0-foo") && !version_valid_pep440("french toast") &&
           !version_valid_pep440("1.0+"),
       "PEP 440: invalid versions are recognised");
    ok(version_cmp_pep440("not a version", "0.0.1") < 0, "PEP 440: invalid sorts first");

    /* Semantic Versioning 2.0.0, section 11's examples. */
    static const char *const sem[] = {
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
        "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
        "1.0.0-rc.1",  "1.0.0",         "2.0.0",
        "2.1.0",       "2.1.1",
    };
    check_order("semver", VERSION_SEMVER, sem, sizeof(sem) / sizeof(sem[0]));
    is_int(version_cmp_semver("1.0.0+20130313144700", "1.0.0"), 0, "semver: build ignored");
    is_int(version_cmp_semver("1.0.0-beta+exp.sha.5114f85", "1.0.0-beta"), 0,
           "semver: build ignored after a pre-release");
    ok(version_valid_semver("1.0.0-0.3.7") && version_valid_semver("1.0.0-x.7.z.92") &&
           version_valid_semver("1.0.0-x-y-z.--") &&
           version_valid_semver("1.0.0+21AF26D3----117B344092BD"),
       "semver: the spec's valid examples");
    ok(!version_valid_semver("01.0.0") && !version_valid_semver("1.0.0-01") &&
           !version_valid_semver("1.0.0-") && !version_valid_semver("1.0.0+") &&
           !version_valid_semver("1.0.0-a..b"),
       "semver: leading zeros and empty identifiers are invalid");
    ok(version_cmp_semver("v1.2", "1.2.0") == 0, "semver: npm's v prefix and short forms");
    ok(version_cmp_semver("10.0.0", "9.9.9") > 0, "semver: numeric major");

    /* CVSS v3.1 base scores of vectors with well-known scores. */
    static const struct {
        const char *v;
        double score;
    } cvss[] = {
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8},
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0},
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5},
        {"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8},
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1},
        {"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9},
        {"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8},
        {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0},
        {"CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6},
    };
    for (size_t i = 0; i < sizeof(cvss) / sizeof(cvss[0]); i++)
        ok(fabs(cvss3_base_score(cvss[i].v) - cvss[i].score) < 1e-9, "CVSS %s = %.1f (got %.1f)",
           cvss[i].v, cvss[i].score, cvss3_base_score(cvss[i].v));
    ok(cvss3_base_score("CVSS:3.1/AV:N/AC:L") < 0 && cvss3_base_score("CVSS:2.0/AV:N") < 0 &&
           cvss3_base_score("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") < 0,
       "CVSS: incomplete, v2 and bad values are refused");
    is_int(scan_severity_of_score(9.8), SEV_CRITICAL, "9.8 is CRITICAL");
    is_int(scan_severity_of_score(7.0), SEV_HIGH, "7.0 is HIGH");
    is_int(scan_severity_of_score(3.9), SEV_LOW, "3.9 is LOW");

    /* Package URLs as kiln's SBOMs write them. */
    struct scan_package p;
    struct kiln_error *err = NULL;
    ok(scan_package_from_purl("pkg:deb/debian/libpython3.11-minimal@3.11.2-6%2Bdeb12u1?arch=amd64"
                              "&upstream=python3.11%403.11.2-6&distro=debian-12",
                              &p, &err) == 0,
       "purl: deb with upstream@version");
    is_str(p.name, "libpython3.11-minimal", "purl: name");
    is_str(p.version, "3.11.2-6+deb12u1", "purl: version decoded");
    is_str(p.source_name, "python3.11", "purl: source name");
    is_str(p.source_version, "3.11.2-6", "purl: source version");
    is_str(p.distro, "debian-12", "purl: distro");
    scan_package_release(&p);
    ok(scan_package_from_purl("pkg:npm/%40duckdb/node-api@1.1.3", &p, &err) == 0 &&
           strcmp(p.name, "@duckdb/node-api") == 0 && strcmp(p.version, "1.1.3") == 0,
       "purl: npm scope");
    scan_package_release(&p);
    ok(scan_package_from_purl("pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&upstream=bash", &p,
                              &err) == 0 &&
           strcmp(p.source_name, "bash") == 0 && strcmp(p.source_version, "5.2.15-2+b2") == 0,
       "purl: upstream without version keeps the binary version");
    scan_package_release(&p);
    ok(scan_package_from_purl("pkg:pypi/fastapi", &p, &err) < 0 && err, "purl: no version refused");
    kiln_error_free(err);
    err = NULL;
    ok(scan_package_from_purl("http://x", &p, &err) < 0, "purl: not a purl refused");
    kiln_error_free(err);

    const char *pairs = getenv("KILN_DPKG_PAIRS");
    if (pairs)
        dpkg_pairs(pairs);
    return done_testing();
}
