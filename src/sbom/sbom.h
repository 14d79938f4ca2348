/* What is in an image, read from its layers without running it: one package
 * model (Debian packages, Python distributions, npm packages and the files no
 * package owns that matter) filled by the readers, written as SPDX 2.3 JSON,
 * CycloneDX 1.5 JSON or a table. The scanner (kiln scan) reads the same model.
 *
 * Determinism: the same image gives the same bytes. Packages are sorted;
 * identifiers (SPDX ids, bom-refs, the CycloneDX serial number, the SPDX
 * namespace) derive from the image's manifest digest and the package's fields;
 * timestamps are the image's `created` time, never the clock.
 *
 * purls (the scanner relies on these conventions):
 *   pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12
 *     plus &upstream=SRC when the source package's name differs, or
 *     &upstream=SRC%40SRCVERSION when its version differs (syft's convention)
 *   pkg:pypi/NAME@VERSION   name lower case, '_' -> '-'
 *   pkg:npm/NAME@VERSION    scoped: pkg:npm/%40scope/name@VERSION */
#ifndef KILN_SBOM_SBOM_H
#define KILN_SBOM_SBOM_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "store/store.h"
#include "util/digest.h"
#include "util/error.h"

enum sbom_ecosystem { SBOM_DEB = 0, SBOM_PYPI = 1, SBOM_NPM = 2, SBOM_FILE = 3 };

struct sbom_package {
    enum sbom_ecosystem eco;
    char *name;           /* file: its absolute path in the image */
    char *version;        /* NULL for files */
    char *arch;           /* deb only ("amd64", "all"); else NULL */
    char *source_name;    /* deb: the source package (its own name when the same) */
    char *source_version; /* deb: the source version (its own version when the same) */
    char *license;        /* as the package states it ("GPL-2+ AND MIT"), or NULL */
    char *purl;           /* NULL for files */
    char *location;       /* where in the image it was read, with a leading '/' */
    char *sha256;         /* files: hex of the content; else NULL */
};

struct sbom_os {
    char *id;          /* "debian" */
    char *version_id;  /* "12" */
    char *codename;    /* "bookworm" */
    char *pretty_name; /* "Debian GNU/Linux 12 (bookworm)" */
};

struct sbom {
    char *image;            /* the name the user gave */
    struct digest manifest; /* image manifest digest */
    struct digest config;   /* image id */
    char *created;          /* "YYYY-MM-DDThh:mm:ssZ" from the config (epoch 0 if none) */
    char *arch;             /* config architecture ("amd64") */
    struct sbom_os os;      /* from /etc/os-release (fields NULL when absent) */
    struct sbom_package *pkgs;
    size_t n_pkgs, cap_pkgs;
    char **warnings; /* skipped entries, one line each, naming the file */
    size_t n_warnings;
};

void sbom_free(struct sbom *sb);
void cleanup_sbomp(struct sbom **sb);
#define cleanup_sbom __attribute__((cleanup(cleanup_sbomp)))

/* ---- reading ------------------------------------------------------------ */

/* The SBOM of the image `what` names (see store_image_load; platform, when
 * not NULL, picks the entry of an index, "linux/arm64"). Unpacks missing
 * snapshots; never starts a container. Refuses an image whose config says
 * its os is not linux. The scanner calls this for `kiln scan IMAGE`. */
int sbom_from_image(struct store *s, const char *what, const char *platform, struct sbom **out,
                    struct kiln_error **err);
/* Fills sb's packages, os and warnings from snapshot directories (overlay
 * whiteout form), TOP layer first. */
int sbom_read_layers(struct sbom *sb, const char *const *dirs, size_t n, struct kiln_error **err);

/* Adds a package (fields copied; NULL allowed where the struct says). Builds
 * the purl from the fields. Returns the package. */
struct sbom_package *sbom_add(struct sbom *sb, enum sbom_ecosystem eco, const char *name,
                              const char *version, const char *arch, const char *location);
void sbom_warn(struct sbom *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sorts packages (ecosystem, name, arch, version, location) and fills purls
 * (the distro qualifier needs the OS). Called by the readers at the end. */
void sbom_finish(struct sbom *sb);
const char *sbom_ecosystem_name(enum sbom_ecosystem eco); /* "deb", "pypi", "npm", "file" */

/* ---- parsers (pure; buffers need not be NUL-terminated; hostile input) --- */

/* dpkg status (or one status.d file): each installed package stanza is
 * added (stanzas without Status count as installed, as in status.d);
 * malformed stanzas are skipped with a warning naming location:line. */
void sbom_parse_dpkg_status(struct sbom *sb, const char *buf, size_t len, const char *location);
/* Core metadata headers (METADATA, PKG-INFO): Name, Version and the license
 * (License-Expression, else a one-line License, else the first "License ::"
 * classifier's last part). 0 when Name and Version were found. Lines over
 * 64 KiB are ignored. */
int sbom_parse_metadata(const char *buf, size_t len, char **name, char **version, char **license);
/* package.json: name, version, license (string or {"type"}); 0 when name
 * and version are strings. */
int sbom_parse_package_json(const char *buf, size_t len, char **name, char **version,
                            char **license);
/* A machine-readable debian/copyright: the distinct License: short names of
 * its Files paragraphs joined by " AND " in first-seen order; NULL when the
 * file is not in the machine-readable format or names none. */
char *sbom_parse_copyright(const char *buf, size_t len);
/* /etc/os-release KEY=VALUE lines (quotes removed) into os. */
void sbom_parse_os_release(struct sbom_os *os, const char *buf, size_t len);

/* ---- writing ------------------------------------------------------------ */

/* The documents, built with a fixed key order; dump with sbom_dump. */
json_t *sbom_write_spdx(const struct sbom *sb);
json_t *sbom_write_cyclonedx(const struct sbom *sb);
/* Two-space indented, keys in insertion order, trailing newline. */
char *sbom_dump(const json_t *doc);
/* ECOSYSTEM NAME VERSION ... table, one package a line. */
void sbom_write_table(const struct sbom *sb, FILE *out);

/* Stores the SBOM of the image `what` names with it, as referrers (store/
 * referrers.h) of its manifest: formats is a comma-separated list of
 * spdx-json and cyclonedx-json (NULL: both). platform ("linux/arm64", NULL:
 * as store_image_load picks) chooses the image of an index: a multi-platform
 * build attaches one SBOM per platform, each to that platform's manifest. An
 * SBOM attached earlier in the same format is replaced. */
int sbom_attach(struct store *s, const char *what, const char *platform, const char *formats,
                struct kiln_error **err);

/* Media types of the documents (OCI artifactType of an attached SBOM). */
#define SBOM_MT_SPDX      "application/spdx+json"
#define SBOM_MT_CYCLONEDX "application/vnd.cyclonedx+json"

#endif
