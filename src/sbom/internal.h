/* Shared by the SBOM writers, not part of the contract. */
#ifndef KILN_SBOM_INTERNAL_H
#define KILN_SBOM_INTERNAL_H

#include "sbom/sbom.h"

/* The SPDX expression for a stated license, or NULL when some part of it has
 * no known SPDX identifier (the writers then say NOASSERTION). Allocated. */
char *sbom_spdx_license(const char *stated);
/* 16 hex digits identifying a package within a document (deterministic). */
void sbom_package_key(const struct sbom_package *p, char out[17]);

/* urn:uuid:... derived from the image id and a salt (RFC 4122
 * version 5 layout over sha256). */
char *sbom_uuid(const struct sbom *sb, const char *salt);

#endif
