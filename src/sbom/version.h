/* Version comparison by each ecosystem's own rules, for the scanner (scan.h):
 * dpkg's (Debian policy 5.6.12: epoch, upstream, revision, '~' before
 * everything), PEP 440's (Python) and Semantic Versioning 2.0.0's (npm).
 * Pure functions over NUL-terminated strings; no allocation, no I/O. */
#ifndef KILN_SBOM_VERSION_H
#define KILN_SBOM_VERSION_H

#include <stdbool.h>

/* The ecosystems the scanner knows; their comparators below. */
enum version_scheme {
    VERSION_DPKG,
    VERSION_PEP440,
    VERSION_SEMVER,
};

/* <0, 0, >0 as a sorts before, equal to, after b. dpkg's order for any
 * string (as dpkg --compare-versions, which also accepts invalid ones). */
int version_cmp_dpkg(const char *a, const char *b);
/* A dpkg version's syntax (epoch digits, upstream starts with a digit,
 * allowed characters); the comparator works without it. */
bool version_valid_dpkg(const char *v);

/* PEP 440 (normalised forms and the spec's alternative spellings: case,
 * leading "v", "alpha"/"beta"/"c"/"pre"/"preview", "-N" post releases, '_'
 * and '-' separators, local "+label"). Invalid versions sort before every
 * valid one and among themselves bytewise. */
bool version_valid_pep440(const char *v);
int version_cmp_pep440(const char *a, const char *b);

/* Semantic Versioning 2.0.0 precedence (build metadata ignored); a leading
 * "v" or "=" and missing minor/patch ("1.2") are tolerated as npm does.
 * Invalid versions sort before valid ones, bytewise among themselves. */
bool version_valid_semver(const char *v);
int version_cmp_semver(const char *a, const char *b);

int version_cmp(enum version_scheme scheme, const char *a, const char *b);
bool version_valid(enum version_scheme scheme, const char *v);

#endif
