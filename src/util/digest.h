/* Content digests ("sha256:<64 hex>") over OpenSSL's EVP interface, streaming
 * or one-shot. Only sha256 is produced; parsing accepts only sha256 too, so a
 * digest string that passes digest_parse() is safe to use as a file name. */
#ifndef KILN_UTIL_DIGEST_H
#define KILN_UTIL_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define DIGEST_HEX_LEN 64
#define DIGEST_STR_LEN (7 + DIGEST_HEX_LEN) /* "sha256:" + hex */

struct digest {
    char hex[DIGEST_HEX_LEN + 1]; /* lower-case hex, NUL-terminated */
};

struct digester; /* opaque streaming state */

struct digester *digester_new(void);
void digester_update(struct digester *d, const void *data, size_t len);
/* Finishes, fills out, and frees d. */
void digester_finish(struct digester *d, struct digest *out);
void digester_free(struct digester *d);

void digest_bytes(const void *data, size_t len, struct digest *out);
/* Digest of a whole file; also returns its size if size != NULL. */
int digest_file_fd(int fd, struct digest *out, uint64_t *size, struct kiln_error **err);

/* "sha256:<hex>" into buf (at least DIGEST_STR_LEN + 1 bytes). */
const char *digest_str(const struct digest *d, char *buf);
/* Allocated "sha256:<hex>". */
char *digest_strdup(const struct digest *d);
/* Accepts "sha256:<64 lower hex>"; anything else is KILN_E_INVALID. */
int digest_parse(const char *s, struct digest *out, struct kiln_error **err);
/* Accepts a bare 64-hex string. */
int digest_parse_hex(const char *s, struct digest *out);
int digest_equal(const struct digest *a, const struct digest *b);

#endif
