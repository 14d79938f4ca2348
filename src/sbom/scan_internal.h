/* Inside the scanner: the import sink that OSV and tracker readers feed
 * (one advisory line per ID, one entry line per affected package range),
 * and the index's line formats. Not for use outside src/sbom/scan*. */
#ifndef KILN_SBOM_SCAN_INTERNAL_H
#define KILN_SBOM_SCAN_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "sbom/scan.h"

/* Index file (NAME.idx), text, every line '\n'-terminated, fields '\t':
 *   kiln-advisory-index 1
 *   data-time  UNIX        newest advisory "modified" (else source mtime)
 *   imported   UNIX
 *   source     PATH
 *   advisories N / entries M
 *   A          OFFSET LENGTH   advisory section, offsets from the data start
 *   P          OFFSET LENGTH   entry section
 *   (empty line: the data starts)
 * Advisory lines, sorted bytewise: ID SEVERITY SCORE ALIASES SUMMARY
 * Entry lines, sorted bytewise:    ECOSYSTEM NAME ID SPEC
 *   SPEC  "R TYPE i:V f:V l:V x:V ..."  an OSV range's events (ECOSYSTEM|SEMVER)
 *         "V V1 V2 ..."                  an OSV explicit version list
 *         "T STATUS FIXED|- URGENCY NODSA|-"  a Debian tracker release entry
 * Binary search over the sorted lines of the mapped file finds a package's
 * entries and an ID's advisory without reading the rest. */
#define SCAN_INDEX_MAGIC "kiln-advisory-index 1"

struct adv_sink {
    char **alines;
    size_t na, capa;
    char **plines;
    size_t np, capp;
    time_t data_time;
    size_t advisories, skipped;
    scan_warn_fn warn;
    void *warn_ctx;
};

void adv_sink_release(struct adv_sink *s);
void adv_sink_warn(struct adv_sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Strings are copied with tabs and newlines made spaces. */
void adv_sink_advisory(struct adv_sink *s, const char *id, const char *severity, double score,
                       const char *aliases, const char *summary);
void adv_sink_entry(struct adv_sink *s, const char *eco, const char *name, const char *id,
                    const char *spec);

/* One JSON document (the tracker's or OSV) into the sink. */
int adv_import_json(struct adv_sink *s, const char *data, size_t len, const char *what,
                    struct kiln_error **err);
/* Sorts the lines and drops duplicates; then the index can be written. */
void adv_sink_finish(struct adv_sink *s);
bool adv_sink_write(const struct adv_sink *s, FILE *f, const char *src);

/* The name an ecosystem looks packages up by (PyPI: PEP 503 normalised). */
char *scan_normalize_name(const char *eco, const char *name);

/* One OSV record, or an array of them. A bad record is skipped with a
 * warning; a document that is neither is an error. */
int osv_add_document(struct adv_sink *s, const json_t *doc, const char *what,
                     struct kiln_error **err);
/* Debian's security-tracker JSON: {source: {CVE: {releases: {...}}}}. */
bool debtracker_is_document(const json_t *doc);
int debtracker_add_document(struct adv_sink *s, const json_t *doc, const char *what,
                            struct kiln_error **err);
/* "bookworm" -> "12" (static), NULL for releases the scanner does not index. */
const char *debtracker_release_number(const char *codename);

#endif
