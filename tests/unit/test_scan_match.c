/* The scanner's matching rules on an index built in memory (import ->
 * index text -> the reader a scan uses): OSV ranges with several
 * introduced/fixed pairs, last_affected, limit, SEMVER ranges, version lists,
 * tracker per-release status, aliases folded into the CVE, the filters. */
#include <stdio.h>
#include <string.h>

#include "sbom/scan.h"
#include "sbom/scan_db_internal.h"
#include "sbom/scan_internal.h"
#include "tap.h"

static const char *const osv_doc =
    "[{\"id\":\"OSV-1\",\"affected\":[{\"package\":{\"ecosystem\":\"PyPI\",\"name\":\"Pkg_A\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"2.0\"},{\"fixed\":\"2.3\"},"
    "{\"introduced\":\"1.0\"},{\"fixed\":\"1.5\"}]}]}]},"
    "{\"id\":\"OSV-2\",\"affected\":[{\"package\":{\"ecosystem\":\"PyPI\",\"name\":\"pkg-a\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},"
    "{\"last_affected\":\"1.7\"}]}]}]},"
    "{\"id\":\"OSV-3\",\"affected\":[{\"package\":{\"ecosystem\":\"npm\",\"name\":\"@s/n\"},"
    "\"ranges\":[{\"type\":\"SEMVER\",\"events\":[{\"introduced\":\"1.0.0-alpha\"},"
    "{\"fixed\":\"1.0.0\"}]}]}]},"
    "{\"id\":\"OSV-4\",\"affected\":[{\"package\":{\"ecosystem\":\"npm\",\"name\":\"@s/n\"},"
    "\"versions\":[\"1.0.0-beta.11\",\"2.0.0\"]}]},"
    "{\"id\":\"OSV-5\",\"withdrawn\":\"2024-01-01T00:00:00Z\",\"affected\":[{\"package\":"
    "{\"ecosystem\":\"npm\",\"name\":\"@s/n\"},\"versions\":[\"1.0.0-beta.11\"]}]},"
    "{\"id\":\"GHSA-6\",\"aliases\":[\"CVE-2024-6\"],\"severity\":[{\"type\":\"CVSS_V3\","
    "\"score\":\"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"}],\"affected\":[{\"package\":"
    "{\"ecosystem\":\"Debian:12\",\"name\":\"src\"},\"ranges\":[{\"type\":\"ECOSYSTEM\","
    "\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"1:1.0-2\"}]}]}]},"
    "{\"id\":\"OSV-7\",\"affected\":[{\"package\":{\"ecosystem\":\"npm\",\"name\":\"lim\"},"
    "\"ranges\":[{\"type\":\"SEMVER\",\"events\":[{\"introduced\":\"0\"},{\"limit\":\"2.0.0\"}]}]}]"
    "}]";

static const char *const tracker_doc =
    "{\"src\":{\"CVE-2024-6\":{\"releases\":{\"bookworm\":{\"status\":\"open\","
    "\"urgency\":\"not yet assigned\"}}},"
    "\"CVE-2024-8\":{\"releases\":{\"bullseye\":{\"status\":\"open\",\"urgency\":\"high\"},"
    "\"bookworm\":{\"status\":\"resolved\",\"fixed_version\":\"1:1.0-1\",\"urgency\":\"high\"}}},"
    "\"CVE-2024-9\":{\"releases\":{\"bookworm\":{\"status\":\"undetermined\"}}},"
    "\"CVE-2024-10\":{\"releases\":{\"bookworm\":{\"status\":\"open\",\"urgency\":\"end-of-life\"}}"
    "}}}";

static struct scan_db *index_of(const char *doc, char **mem)
{
    struct adv_sink s = {0};
    struct kiln_error *err = NULL;
    struct scan_db *db = NULL;
    size_t len = 0;
    if (adv_import_json(&s, doc, strlen(doc), "doc", &err) < 0) {
        printf("# import: %s\n", err->msg);
        kiln_error_free(err);
        adv_sink_release(&s);
        return NULL;
    }
    adv_sink_finish(&s);
    FILE *f = open_memstream(mem, &len);
    adv_sink_write(&s, f, "doc");
    fclose(f);
    adv_sink_release(&s);
    if (scan_db_from_memory(*mem, len, "doc", &db, &err) < 0) {
        printf("# index: %s\n", err->msg);
        kiln_error_free(err);
    }
    return db;
}

/* "ID:FIXED" of package name's findings, in order, joined by ' '. */
static const char *found(const struct scan_db *db, const char *purl, const struct scan_options *o)
{
    static char out[1024];
    struct scan_packages pkgs = {0};
    struct scan_package p;
    struct scan_result r;
    out[0] = '\0';
    if (scan_package_from_purl(purl, &p, NULL) < 0)
        return "bad purl";
    scan_packages_add(&pkgs, &p);
    scan_package_release(&p);
    struct scan_options none = {0};
    scan_run(db, &pkgs, o ? o : &none, &r, NULL);
    size_t n = 0;
    for (size_t i = 0; i < r.n; i++)
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s:%s%s", n ? " " : "", r.v[i].id,
                              r.v[i].fixed_version ? r.v[i].fixed_version : "-",
                              r.v[i].minor ? "(minor)" : "");
    scan_result_release(&r);
    scan_packages_release(&pkgs);
    return out;
}

int main(void)
{
    char *m1 = NULL, *m2 = NULL;
    struct scan_db *osv = index_of(osv_doc, &m1), *tr = index_of(tracker_doc, &m2);
    ok(osv && tr, "both documents index");
    if (!osv || !tr)
        return done_testing();
    /* Two introduced/fixed pairs, listed out of order; last_affected. */
    is_str(found(osv, "pkg:pypi/pkg-a@0.9", NULL), "OSV-2:-", "0.9: before both ranges");
    is_str(found(osv, "pkg:pypi/pkg-a@1.2", NULL), "OSV-1:1.5 OSV-2:-", "1.2: first range");
    is_str(found(osv, "pkg:pypi/pkg-a@1.7", NULL), "OSV-2:-", "1.7: between, last_affected");
    is_str(found(osv, "pkg:pypi/pkg-a@1.8", NULL), "", "1.8: past last_affected");
    is_str(found(osv, "pkg:pypi/pkg_a@2.1rc1", NULL), "OSV-1:2.3",
           "2.1rc1: second range (PEP 440)");
    is_str(found(osv, "pkg:pypi/PKG.A@2.3", NULL), "", "2.3: fixed; names normalised");
    /* SEMVER range and version lists; withdrawn records ignored. */
    is_str(found(osv, "pkg:npm/%40s/n@1.0.0-beta.11", NULL), "OSV-3:1.0.0 OSV-4:-",
           "npm pre-release in the range and the list");
    is_str(found(osv, "pkg:npm/%40s/n@1.0.0", NULL), "", "npm 1.0.0: fixed");
    is_str(found(osv, "pkg:npm/%40s/n@v2.0.0", NULL), "OSV-4:-", "npm listed version");
    is_str(found(osv, "pkg:npm/lim@1.9.9", NULL), "OSV-7:-", "limit: below");
    is_str(found(osv, "pkg:npm/lim@2.0.0", NULL), "", "limit: at it");
    scan_db_close(osv);
    scan_db_close(tr);
    free(m1);
    free(m2);

    /* Both documents in one database: per-release status, aliases, filters. */
    struct scan_db *db = NULL;
    char *both = NULL;
    {
        struct adv_sink s = {0};
        adv_import_json(&s, osv_doc, strlen(osv_doc), "osv", NULL);
        adv_import_json(&s, tracker_doc, strlen(tracker_doc), "tracker", NULL);
        adv_sink_finish(&s);
        size_t len = 0;
        FILE *f = open_memstream(&both, &len);
        adv_sink_write(&s, f, "both");
        fclose(f);
        adv_sink_release(&s);
        ok(scan_db_from_memory(both, len, "both", &db, NULL) == 0, "combined index");
    }
    const char *bin = "pkg:deb/debian/libsrc1@1:1.0-1%2Bb1?arch=amd64&upstream=src%401%3A1.0-1"
                      "&distro=debian-12";
    is_str(found(db, bin, NULL), "CVE-2024-6:1:1.0-2 CVE-2024-10:-(minor) CVE-2024-9:-",
           "binary by its source; GHSA folded into the CVE; bullseye's status not used");
    struct scan_options crit = {.severities = 1u << SEV_CRITICAL};
    is_str(found(db, bin, &crit), "CVE-2024-6:1:1.0-2", "the CVE took the GHSA's CVSS 9.8");
    const char *ign[] = {"GHSA-6"};
    struct scan_options ignore = {.ignore_ids = ign, .nignore = 1, .ignore_unfixed = true};
    is_str(found(db, bin, &ignore), "", "ignored by alias; unfixed left out");
    is_str(found(db, "pkg:deb/debian/libsrc1@1.0?upstream=src&distro=debian-11", NULL),
           "CVE-2024-8:-", "Debian 11: bullseye's entries (open), not bookworm's");
    is_str(found(db, "pkg:deb/debian/src@1:1.0-2", NULL), "", "no distro: not matched");
    scan_db_close(db);
    free(both);

    /* Damaged index text: errors, never a crash. */
    char bad1[] = "kiln-advisory-index 1\nA\t0\t5\nP\t0\t999\n\nxxxxx";
    struct kiln_error *err = NULL;
    ok(scan_db_from_memory(bad1, strlen(bad1), "bad1", &db, &err) < 0 && err &&
           strstr(err->msg, "truncated"),
       "sections past the end");
    kiln_error_free(err);
    err = NULL;
    char bad2[] = "not an index\n";
    ok(scan_db_from_memory(bad2, strlen(bad2), "bad2", &db, &err) < 0, "wrong magic");
    kiln_error_free(err);
    return done_testing();
}
