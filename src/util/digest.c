/* sha256 digests through OpenSSL EVP. */
#include "util/digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/strbuf.h"

struct digester {
    EVP_MD_CTX *ctx;
};

struct digester *digester_new(void)
{
    struct digester *d = xcalloc(1, sizeof(*d));
    d->ctx = EVP_MD_CTX_new();
    if (d->ctx == NULL || EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1)
        abort();
    return d;
}

void digester_update(struct digester *d, const void *data, size_t len)
{
    if (len > 0 && EVP_DigestUpdate(d->ctx, data, len) != 1)
        abort();
}

static void to_hex(const unsigned char *raw, unsigned n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 15];
    }
    hex[2 * n] = '\0';
}

void digester_finish(struct digester *d, struct digest *out)
{
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (EVP_DigestFinal_ex(d->ctx, raw, &n) != 1 || n != 32)
        abort();
    to_hex(raw, n, out->hex);
    digester_free(d);
}

void digester_free(struct digester *d)
{
    if (d == NULL)
        return;
    EVP_MD_CTX_free(d->ctx);
    free(d);
}

void digest_bytes(const void *data, size_t len, struct digest *out)
{
    struct digester *d = digester_new();
    digester_update(d, data, len);
    digester_finish(d, out);
}

int digest_file_fd(int fd, struct digest *out, uint64_t *size, struct kiln_error **err)
{
    struct digester *d = digester_new();
    static const size_t bufsz = 1 << 16;
    char *buf = xmalloc(bufsz);
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, bufsz);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            digester_free(d);
            return kiln_error_errno(err, e, "read");
        }
        if (n == 0)
            break;
        digester_update(d, buf, (size_t)n);
        total += (uint64_t)n;
    }
    free(buf);
    digester_finish(d, out);
    if (size != NULL)
        *size = total;
    return 0;
}

const char *digest_str(const struct digest *d, char *buf)
{
    memcpy(buf, "sha256:", 7);
    memcpy(buf + 7, d->hex, DIGEST_HEX_LEN + 1);
    return buf;
}

char *digest_strdup(const struct digest *d)
{
    return xasprintf("sha256:%s", d->hex);
}

int digest_parse_hex(const char *s, struct digest *out)
{
    size_t i;
    for (i = 0; i < DIGEST_HEX_LEN; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -1;
    }
    if (s[i] != '\0')
        return -1;
    memcpy(out->hex, s, DIGEST_HEX_LEN + 1);
    return 0;
}

int digest_parse(const char *s, struct digest *out, struct kiln_error **err)
{
    if (s == NULL || strncmp(s, "sha256:", 7) != 0 || digest_parse_hex(s + 7, out) < 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "invalid digest \"%s\" (want sha256:<64 hex digits>)", s ? s : "");
    return 0;
}

int digest_equal(const struct digest *a, const struct digest *b)
{
    return memcmp(a->hex, b->hex, DIGEST_HEX_LEN) == 0;
}
