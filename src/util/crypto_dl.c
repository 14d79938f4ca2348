/* libcrypto (OpenSSL 3), loaded on first use (see util/dynload.h): the
 * sha256 and base64 functions kiln calls, with evp.h's own prototypes.
 * Binding libcrypto's ~3400 symbols costs ~2.5 ms per process; `kiln run`,
 * `images`, `ps` never hash, so they never load it. */
#include <openssl/evp.h>

#include "util/dynload.h"

/* ABI 3 of OpenSSL's libcrypto. */
static struct dynlib crypto_lib = {.soname = "libcrypto.so.3"};
#define TRAMPOLINE(...)      DYNLOAD_TRAMPOLINE(crypto_lib, __VA_ARGS__)
#define TRAMPOLINE_VOID(...) DYNLOAD_TRAMPOLINE_VOID(crypto_lib, __VA_ARGS__)

TRAMPOLINE(const EVP_MD *, EVP_sha256, (void), ())
TRAMPOLINE(EVP_MD_CTX *, EVP_MD_CTX_new, (void), ())
TRAMPOLINE(int, EVP_DigestInit_ex, (EVP_MD_CTX * ctx, const EVP_MD *type, ENGINE *impl),
           (ctx, type, impl))
TRAMPOLINE(int, EVP_DigestUpdate, (EVP_MD_CTX * ctx, const void *d, size_t n), (ctx, d, n))
TRAMPOLINE(int, EVP_DigestFinal_ex, (EVP_MD_CTX * ctx, unsigned char *md, unsigned int *s),
           (ctx, md, s))
TRAMPOLINE(int, EVP_EncodeBlock, (unsigned char *t, const unsigned char *f, int n), (t, f, n))
TRAMPOLINE(int, EVP_DecodeBlock, (unsigned char *t, const unsigned char *f, int n), (t, f, n))

TRAMPOLINE_VOID(EVP_MD_CTX_free, (EVP_MD_CTX * ctx), (ctx))
