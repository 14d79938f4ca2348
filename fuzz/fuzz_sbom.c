/* libFuzzer target for the SBOM parsers (src/sbom/parse.c): the first byte
 * picks the reader, the rest is its input: a dpkg status database, core
 * metadata (METADATA / PKG-INFO), a package.json, a machine-readable
 * debian/copyright or an os-release; what was added then gets its purls and
 * goes through both writers. Nothing may crash, hang or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sbom/sbom.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    struct sbom *sb = xcalloc(1, sizeof(*sb));
    sb->image = xstrdup("fuzz");
    sb->created = xstrdup("1970-01-01T00:00:00Z");
    sb->arch = xstrdup("amd64");
    char *name = NULL, *ver = NULL, *lic = NULL;
    switch (data[0] % 5) {
    case 0:
        sbom_parse_dpkg_status(sb, buf, len, "/var/lib/dpkg/status");
        break;
    case 1:
        if (sbom_parse_metadata(buf, len, &name, &ver, &lic) == 0)
            sbom_add(sb, SBOM_PYPI, name, ver, NULL, "/m")->license = lic, lic = NULL;
        break;
    case 2:
        if (sbom_parse_package_json(buf, len, &name, &ver, &lic) == 0)
            sbom_add(sb, SBOM_NPM, name, ver, NULL, "/p")->license = lic, lic = NULL;
        break;
    case 3: {
        char *c = sbom_parse_copyright(buf, len);
        if (c)
            sbom_add(sb, SBOM_DEB, "x", "1", "all", "/c")->license = c;
        break;
    }
    case 4:
        sbom_parse_os_release(&sb->os, buf, len);
        sbom_add(sb, SBOM_DEB, "x", "1", "all", "/o");
        break;
    }
    free(name);
    free(ver);
    free(lic);
    sbom_finish(sb);
    json_t *a = sbom_write_spdx(sb), *b = sbom_write_cyclonedx(sb);
    free(sbom_dump(a));
    free(sbom_dump(b));
    json_decref(a);
    json_decref(b);
    sbom_free(sb);
    return 0;
}
