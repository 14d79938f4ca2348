/* libFuzzer target for the scanner's version orders (sbom/version.h): the
 * input is split at its first NUL or newline into two versions, compared by
 * dpkg's, PEP 440's and semver's rules. Beyond not crashing, each order must
 * be consistent: cmp(a, a) == 0 and cmp(a, b) == -cmp(b, a). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sbom/scan.h"
#include "sbom/version.h"
#include "util/strbuf.h"

static int sign(int c)
{
    return c < 0 ? -1 : c > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *buf = xmalloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *b = buf + strcspn(buf, "\n");
    if (*b)
        *b++ = '\0';
    const char *a = buf;
    for (int s = VERSION_DPKG; s <= VERSION_SEMVER; s++) {
        int ab = sign(version_cmp((enum version_scheme)s, a, b));
        int ba = sign(version_cmp((enum version_scheme)s, b, a));
        if (ab != -ba || version_cmp((enum version_scheme)s, a, a) != 0)
            abort();
        (void)version_valid((enum version_scheme)s, a);
    }
    (void)cvss3_base_score(a);
    struct scan_package p;
    if (scan_package_from_purl(a, &p, NULL) == 0)
        scan_package_release(&p);
    free(buf);
    return 0;
}
