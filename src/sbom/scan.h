/* kiln scan: an offline vulnerability scan of a package list (from an SBOM
 * kiln wrote, or from an image through the SBOM model) against advisory
 * databases indexed once under the store (OSV JSON exports and Debian's
 * security-tracker JSON). Versions compare by each ecosystem's rules
 * (version.h). Library code: no printing; warnings go to a callback. */
#ifndef KILN_SBOM_SCAN_H
#define KILN_SBOM_SCAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/error.h"

/* ---- packages in --------------------------------------------------------- */

struct scan_package {
    char *type;           /* purl type: "deb", "pypi", "npm", ... */
    char *name;           /* as the ecosystem spells it; npm "@scope/name" */
    char *version;        /* as installed */
    char *source_name;    /* deb: source package (the name when not given) */
    char *source_version; /* deb: source version (the version when not given) */
    char *distro;         /* purl qualifier distro ("debian-12"), or NULL */
    char *purl;
};

struct scan_packages {
    struct scan_package *v;
    size_t n, cap;
};

/* Adds a copy of p's strings (NULL source fields default as documented). */
void scan_packages_add(struct scan_packages *list, const struct scan_package *p);
void scan_packages_release(struct scan_packages *list);

/* Parses a package URL into p (strings allocated; release with
 * scan_package_release). Qualifiers read: distro, upstream ("SRC" or
 * "SRC@SRCVERSION", percent-encoded as syft writes it). */
int scan_package_from_purl(const char *purl, struct scan_package *p, struct kiln_error **err);
void scan_package_release(struct scan_package *p);

/* Packages of a CycloneDX (components[].purl, nested components too) or
 * SPDX 2.x JSON document (packages[].externalRefs[] of type purl). `what`
 * names the document in errors and warnings. Entries without a usable purl
 * are skipped. */
typedef void (*scan_warn_fn)(void *ctx, const char *msg);
int scan_packages_from_sbom(const json_t *doc, const char *what, struct scan_packages *out,
                            scan_warn_fn warn, void *warn_ctx, struct kiln_error **err);
int scan_packages_from_file(const char *path, struct scan_packages *out, scan_warn_fn warn,
                            void *warn_ctx, struct kiln_error **err);

/* ---- the advisory database ---------------------------------------------- */

/* KILN_ROOT/scan-db: one index file per imported source (NAME.idx). */
char *scan_db_default_dir(const char *store_root);

struct scan_import_stats {
    size_t files, advisories, entries, skipped;
    time_t data_time; /* newest "modified" seen, else the source's mtime */
};

/* Reads an OSV export (a directory of *.json, a .zip of them, one OSV
 * record, or a JSON array of records) or Debian's security-tracker JSON,
 * and writes db_dir/NAME.idx crash-safely (temp file, fsync, rename).
 * name NULL: derived from the source's file name. A malformed file is an
 * error naming it, a bad entry in a usable file a warning. */
int scan_db_import(const char *db_dir, const char *src, const char *name,
                   struct scan_import_stats *stats, scan_warn_fn warn, void *warn_ctx,
                   struct kiln_error **err);
/* Downloads url (libcurl, loaded on first use) to path. */
int scan_db_download(const char *url, const char *path, struct kiln_error **err);

struct scan_db;
/* Maps every *.idx in db_dir. No index there is KILN_E_NOTFOUND. */
int scan_db_open(const char *db_dir, struct scan_db **out, struct kiln_error **err);
void scan_db_close(struct scan_db *db);
/* The oldest of the indexes' data times (what the 7-day warning reads). */
time_t scan_db_data_time(const struct scan_db *db);
size_t scan_db_count(const struct scan_db *db);
struct scan_db_info {
    const char *name; /* NAME of NAME.idx */
    time_t data_time;
    size_t advisories, entries;
};
void scan_db_info(const struct scan_db *db, size_t i, struct scan_db_info *out);
void cleanup_scan_dbp(struct scan_db **db);
#define cleanup_scan_db __attribute__((cleanup(cleanup_scan_dbp)))

/* ---- matching ----------------------------------------------------------- */

enum scan_severity {
    SEV_UNKNOWN = 0,
    SEV_LOW,
    SEV_MEDIUM,
    SEV_HIGH,
    SEV_CRITICAL,
};
#define SEV_ALL 0x1fu

const char *scan_severity_name(enum scan_severity s);
/* "LOW", "moderate", ... (case-insensitive); -1 when unknown. */
int scan_severity_parse(const char *s);
/* The CVSS v3.0/v3.1 base score of a vector ("CVSS:3.1/AV:N/AC:L/..."),
 * by the specification's formula; -1 when the vector is not valid. */
double cvss3_base_score(const char *vector);
enum scan_severity scan_severity_of_score(double score);

struct scan_options {
    unsigned severities;           /* bit (1 << enum scan_severity); 0 means all */
    bool ignore_unfixed;           /* drop findings without a fixed version */
    const char *const *ignore_ids; /* IDs (or aliases) to drop */
    size_t nignore;
    scan_warn_fn warn;
    void *warn_ctx;
};

struct scan_finding {
    const struct scan_package *pkg; /* points into the package list */
    char *id;
    char *aliases; /* comma-separated, "" when none */
    char *summary;
    char *fixed_version; /* NULL when no fix is known */
    char *status;        /* "fixed", "open", "undetermined", "no-dsa", ... */
    char *source;        /* index name that reported it */
    enum scan_severity severity;
    double score; /* CVSS base score, -1 when none */
    bool minor;   /* Debian: unimportant / no-dsa / end-of-life: shown, not failing */
    char *minor_reason;
};

struct scan_result {
    struct scan_finding *v;
    size_t n, cap;
    size_t packages; /* how many were looked up */
};

/* Every finding for pkgs, sorted by severity (worst first), package, ID. */
int scan_run(const struct scan_db *db, const struct scan_packages *pkgs,
             const struct scan_options *opt, struct scan_result *out, struct kiln_error **err);
void scan_result_release(struct scan_result *r);
/* Findings that make the scan fail: not minor. */
size_t scan_result_failing(const struct scan_result *r);

/* {"target":..., "packages":N, "findings":[...]} */
json_t *scan_result_json(const struct scan_result *r, const char *target);
/* SARIF 2.1.0: one run, tool "kiln", a rule per advisory, a result per
 * finding located at the scanned artifact. */
json_t *scan_result_sarif(const struct scan_result *r, const char *target, const char *version);

#endif
