/* sbom_attach: the SBOM of an image stored with it as OCI referrers (one
 * artifact per format), as `kiln build --sbom` does. */
#include <stdlib.h>
#include <string.h>

#include "sbom/sbom.h"
#include "store/referrers.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/platform.h"
#include "util/strbuf.h"

int sbom_attach(struct store *s, const char *what, const char *platform, const char *formats,
                struct kiln_error **err)
{
    int spdx = 0, cdx = 0;
    cleanup_free char *copy = xstrdup(formats ? formats : "spdx-json,cyclonedx-json");
    char *save = NULL;
    for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        if (strcmp(f, "spdx-json") == 0)
            spdx = 1;
        else if (strcmp(f, "cyclonedx-json") == 0)
            cdx = 1;
        else
            return kiln_error_set(err, KILN_E_USAGE,
                                  "--sbom=%s: formats are spdx-json and cyclonedx-json", f);
    }
    cleanup_image struct image *img = NULL;
    if (platform == NULL) {
        if (store_image_load(s, what, &img, err) < 0)
            return -1;
    } else {
        struct platform want;
        if (platform_parse(platform, &want, err) < 0 ||
            store_image_load_platform(s, what, &want, &img, err) < 0)
            return -1;
    }
    cleanup_sbom struct sbom *sb = NULL;
    if (sbom_from_image(s, what, platform, &sb, err) < 0)
        return -1;
    for (int k = 0; k < 2; k++) {
        if (!(k == 0 ? spdx : cdx))
            continue;
        cleanup_json json_t *doc = k == 0 ? sbom_write_spdx(sb) : sbom_write_cyclonedx(sb);
        cleanup_free char *text = sbom_dump(doc);
        if (referrers_attach(s, &img->manifest, k == 0 ? SBOM_MT_SPDX : SBOM_MT_CYCLONEDX,
                             sb->created, text, strlen(text), NULL, err) < 0)
            return kiln_error_prefix(err, "attach the SBOM of %s%s%s", what,
                                     platform ? " for " : "", platform ? platform : "");
    }
    return 0;
}
