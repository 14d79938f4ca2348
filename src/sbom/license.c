/* License names as packages state them ("GPL-2+", "BSD-3-clause", "MIT
 * License", "Expat") turned into SPDX license expressions where every part
 * is known; otherwise the writers say NOASSERTION and keep the stated text. */
#include <string.h>
#include <strings.h>

#include "sbom/internal.h"
#include "util/strbuf.h"

static const struct {
    const char *stated; /* case-insensitive */
    const char *spdx;
} known[] = {
    {"GPL-1+", "GPL-1.0-or-later"},
    {"GPL-2", "GPL-2.0-only"},
    {"GPL-2+", "GPL-2.0-or-later"},
    {"GPL-2.0", "GPL-2.0-only"},
    {"GPL-2.0+", "GPL-2.0-or-later"},
    {"GPL-3", "GPL-3.0-only"},
    {"GPL-3+", "GPL-3.0-or-later"},
    {"GPL-3.0", "GPL-3.0-only"},
    {"GPL-3.0+", "GPL-3.0-or-later"},
    {"LGPL-2", "LGPL-2.0-only"},
    {"LGPL-2+", "LGPL-2.0-or-later"},
    {"LGPL-2.1", "LGPL-2.1-only"},
    {"LGPL-2.1+", "LGPL-2.1-or-later"},
    {"LGPL-3", "LGPL-3.0-only"},
    {"LGPL-3+", "LGPL-3.0-or-later"},
    {"AGPL-3", "AGPL-3.0-only"},
    {"AGPL-3+", "AGPL-3.0-or-later"},
    {"Apache-2", "Apache-2.0"},
    {"Apache-2.0", "Apache-2.0"},
    {"Apache 2.0", "Apache-2.0"},
    {"Apache License 2.0", "Apache-2.0"},
    {"Apache Software License", "Apache-2.0"},
    {"Artistic", "Artistic-1.0-Perl"},
    {"Artistic-2.0", "Artistic-2.0"},
    {"BSD-2-clause", "BSD-2-Clause"},
    {"BSD-3-clause", "BSD-3-Clause"},
    {"BSD-4-clause", "BSD-4-Clause"},
    {"BSD License", "BSD-3-Clause"},
    {"BSD", "BSD-3-Clause"},
    {"0BSD", "0BSD"},
    {"CC0-1.0", "CC0-1.0"},
    {"Expat", "MIT"},
    {"MIT", "MIT"},
    {"MIT License", "MIT"},
    {"ISC", "ISC"},
    {"ISC License (ISCL)", "ISC"},
    {"MPL-1.1", "MPL-1.1"},
    {"MPL-2.0", "MPL-2.0"},
    {"Mozilla Public License 2.0 (MPL 2.0)", "MPL-2.0"},
    {"PSF-2.0", "PSF-2.0"},
    {"Python Software Foundation License", "PSF-2.0"},
    {"Python-2.0", "Python-2.0"},
    {"Unlicense", "Unlicense"},
    {"Zlib", "Zlib"},
    {"zlib/libpng", "Zlib"},
    {"curl", "curl"},
    {"OpenSSL", "OpenSSL"},
    {"X11", "X11"},
    {"FSFAP", "FSFAP"},
    {"FSFUL", "FSFUL"},
    {"FSFULLR", "FSFULLR"},
    {"GFDL-1.3+", "GFDL-1.3-or-later"},
    {"BSL-1.0", "BSL-1.0"},
    {"Unicode-DFS-2016", "Unicode-DFS-2016"},
    {"WTFPL", "WTFPL"},
    {"public-domain", NULL}, /* no SPDX id: the whole becomes NOASSERTION */
};

static const char *map_one(const char *s, size_t n)
{
    while (n > 0 && *s == ' ')
        s++, n--;
    while (n > 0 && s[n - 1] == ' ')
        n--;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strlen(known[i].stated) == n && strncasecmp(known[i].stated, s, n) == 0)
            return known[i].spdx;
    return NULL;
}

/* Splits on " AND " / " and " / " OR " / " or " / " with ... exception"
 * is not supported (NOASSERTION). */
char *sbom_spdx_license(const char *stated)
{
    if (stated == NULL || stated[0] == '\0' || strlen(stated) > 1024)
        return NULL;
    struct strbuf out = STRBUF_INIT;
    const char *p = stated;
    for (;;) {
        const char *best = NULL, *op = NULL;
        static const char *const ops[] = {" AND ", " and ", " OR ", " or ", ", "};
        for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
            const char *hit = strstr(p, ops[k]);
            if (hit && (best == NULL || hit < best))
                best = hit, op = ops[k];
        }
        size_t n = best ? (size_t)(best - p) : strlen(p);
        const char *id = map_one(p, n);
        if (id == NULL) {
            strbuf_release(&out);
            return NULL;
        }
        strbuf_adds(&out, id);
        if (best == NULL)
            break;
        strbuf_adds(&out, (op[1] == 'O' || op[1] == 'o') ? " OR " : " AND ");
        p = best + strlen(op);
    }
    return strbuf_detach(&out);
}

/* Lets the writers use one deterministic id scheme: the first 16 hex digits
 * of sha256 over the package's identifying fields. */
void sbom_package_key(const struct sbom_package *p, char out[17])
{
    struct strbuf k = STRBUF_INIT;
    strbuf_addf(&k, "%s\n%s\n%s\n%s\n%s", sbom_ecosystem_name(p->eco), p->name,
                p->version ? p->version : "", p->arch ? p->arch : "",
                p->location ? p->location : "");
    struct digest d;
    digest_bytes(k.buf, k.len, &d);
    strbuf_release(&k);
    memcpy(out, d.hex, 16);
    out[16] = '\0';
}

char *sbom_uuid(const struct sbom *sb, const char *salt)
{
    struct strbuf k = STRBUF_INIT;
    strbuf_addf(&k, "%s\n%s", sb->config.hex, salt);
    struct digest d;
    digest_bytes(k.buf, k.len, &d);
    strbuf_release(&k);
    char *h = d.hex;
    /* version nibble 5, variant bits 10xx */
    static const char variant[] = "89ab";
    int v = (h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3;
    return xasprintf("urn:uuid:%.8s-%.4s-5%.3s-%c%.3s-%.12s", h, h + 8, h + 13, variant[v], h + 17,
                     h + 20);
}
