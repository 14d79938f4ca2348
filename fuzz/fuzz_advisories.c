/* libFuzzer target for the advisory databases: the input is read as an OSV
 * record (or array) or Debian security-tracker JSON, indexed in memory as
 * `kiln scan db import` does, the index read back as a scan reads it and a
 * fixed package list matched against it; then the input is read as an index
 * file itself. Nothing may crash, hang or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbom/scan.h"
#include "sbom/scan_db_internal.h"
#include "sbom/scan_internal.h"
#include "util/strbuf.h"

static const char *const purls[] = {
    "pkg:deb/debian/python3.11@3.11.2-6%2Bdeb12u2?arch=amd64&distro=debian-12",
    "pkg:deb/debian/libc6@2.36-9?arch=amd64&upstream=glibc&distro=debian-12",
    "pkg:deb/debian/a@1:0~rc1-1?upstream=b%401.0&distro=debian-12",
    "pkg:pypi/jinja2@3.1.2",
    "pkg:pypi/x@1.0rc1.post2.dev3+local.7",
    "pkg:npm/duckdb@1.3.3",
    "pkg:npm/%40s/n@1.0.0-beta.2",
};

static void scan_over(char *buf, size_t len)
{
    struct scan_db *db = NULL;
    if (scan_db_from_memory(buf, len, "fuzz", &db, NULL) < 0)
        return;
    struct scan_packages pkgs = {0};
    for (size_t i = 0; i < sizeof(purls) / sizeof(purls[0]); i++) {
        struct scan_package p;
        if (scan_package_from_purl(purls[i], &p, NULL) == 0) {
            scan_packages_add(&pkgs, &p);
            scan_package_release(&p);
        }
    }
    const char *ignore[] = {"CVE-2024-1"};
    struct scan_options opt = {.ignore_ids = ignore, .nignore = 1};
    struct scan_result r;
    if (scan_run(db, &pkgs, &opt, &r, NULL) == 0) {
        json_decref(scan_result_json(&r, "fuzz"));
        json_decref(scan_result_sarif(&r, "fuzz", "0"));
        scan_result_release(&r);
    }
    scan_packages_release(&pkgs);
    scan_db_close(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    struct adv_sink s = {0};
    if (adv_import_json(&s, (const char *)data, size, "fuzz", NULL) == 0) {
        adv_sink_finish(&s);
        char *idx = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&idx, &len);
        if (f && adv_sink_write(&s, f, "fuzz") && fclose(f) == 0)
            scan_over(idx, len);
        else if (f)
            fclose(f);
        free(idx);
    }
    adv_sink_release(&s);
    /* The input as an index file (a damaged or hostile one). */
    char *copy = malloc(size ? size : 1);
    if (copy) {
        memcpy(copy, data, size);
        scan_over(copy, size);
        free(copy);
    }
    return 0;
}
