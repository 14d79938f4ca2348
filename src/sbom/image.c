/* sbom_from_image: the image a user names (a platform picked from an
 * index when asked), its snapshots made where missing, then the readers. */
#include <stdlib.h>
#include <string.h>

#include "sbom/sbom.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

/* "2025-01-01T00:00:00.123Z" or "...+00:00" -> "2025-01-01T00:00:00Z"; the
 * epoch when absent or unreadable (SPDX wants exactly this shape). */
static char *created_of(const json_t *config)
{
    const char *c = json_get_str(config, "created");
    if (c && strlen(c) >= 19 && c[4] == '-' && c[7] == '-' && c[10] == 'T' && c[13] == ':' &&
        c[16] == ':') {
        char *out = xasprintf("%.19sZ", c);
        for (size_t i = 0; i < 19; i++)
            if (i != 4 && i != 7 && i != 10 && i != 13 && i != 16 && (out[i] < '0' || out[i] > '9'))
                goto bad;
        return out;
    bad:
        free(out);
    }
    return xstrdup("1970-01-01T00:00:00Z");
}

/* Loads what; with a platform "os/arch[/variant]", a tag on an index picks
 * that entry, and any image must be of that platform. */
static int load_for_platform(struct store *s, const char *what, const char *platform,
                             struct image **out, struct kiln_error **err)
{
    if (platform == NULL)
        return store_image_load(s, what, out, err);
    cleanup_free char *want_os = xstrdup(platform);
    char *arch = strchr(want_os, '/');
    if (arch == NULL)
        return kiln_error_set(err, KILN_E_USAGE, "--platform %s: expected OS/ARCH", platform);
    *arch++ = '\0';
    char *variant = strchr(arch, '/');
    if (variant)
        *variant++ = '\0';
    struct descriptor d = {0};
    struct kiln_error *e2 = NULL;
    int rc = -1;
    if (store_resolve_tag(s, what, &d, &e2) == 0) {
        cleanup_json json_t *doc = store_blob_read_json(s, &d.digest, err);
        if (doc == NULL) {
            descriptor_release(&d);
            return -1;
        }
        json_t *ms = json_object_get(doc, "manifests");
        size_t i;
        json_t *m;
        json_array_foreach(ms, i, m)
        {
            json_t *p = json_object_get(m, "platform");
            const char *v = json_get_str(p, "variant");
            if (strcmp(json_get_str(p, "os") ? json_get_str(p, "os") : "", want_os) == 0 &&
                strcmp(json_get_str(p, "architecture") ? json_get_str(p, "architecture") : "",
                       arch) == 0 &&
                (variant == NULL || (v && strcmp(v, variant) == 0))) {
                struct descriptor child;
                if (descriptor_from_json(m, &child, what, err) < 0)
                    break;
                rc = store_image_load_manifest(s, &child.digest, out, err);
                descriptor_release(&child);
                descriptor_release(&d);
                return rc;
            }
        }
        if (json_is_array(ms)) {
            descriptor_release(&d);
            return kiln_error_set(err, KILN_E_NOTFOUND, "%s has no image for %s", what, platform);
        }
        descriptor_release(&d);
    }
    kiln_error_free(e2);
    if (store_image_load(s, what, out, err) < 0)
        return -1;
    const char *os = json_get_str((*out)->config_json, "os");
    const char *a = json_get_str((*out)->config_json, "architecture");
    if (os == NULL || a == NULL || strcmp(os, want_os) != 0 || strcmp(a, arch) != 0) {
        kiln_error_set(err, KILN_E_NOTFOUND, "%s is %s/%s, not %s", what, os ? os : "?",
                       a ? a : "?", platform);
        image_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int sbom_from_image(struct store *s, const char *what, const char *platform, struct sbom **out,
                    struct kiln_error **err)
{
    cleanup_image struct image *img = NULL;
    if (load_for_platform(s, what, platform, &img, err) < 0)
        return -1;
    const char *os = json_get_str(img->config_json, "os");
    if (os && strcmp(os, "linux") != 0)
        return kiln_error_set(err, KILN_E_INVALID,
                              "%s: a %s image (kiln reads the packages of Linux images only)", what,
                              os);
    cleanup_sbom struct sbom *sb = xcalloc(1, sizeof(*sb));
    sb->image = xstrdup(what);
    sb->manifest = img->manifest.digest;
    sb->config = img->config.digest;
    sb->created = created_of(img->config_json);
    const char *arch = json_get_str(img->config_json, "architecture");
    sb->arch = xstrdup(arch ? arch : "unknown");

    char **dirs = xcalloc(img->n_layers + 1, sizeof(*dirs));
    int rc = 0;
    /* the readers want the top layer first */
    for (size_t i = 0; i < img->n_layers && rc == 0; i++)
        if (store_snapshot_ensure(s, &img->layers[i], &dirs[img->n_layers - 1 - i], err) < 0)
            rc = kiln_error_prefix(err, "sbom of %s", what);
    if (rc == 0)
        rc = sbom_read_layers(sb, (const char *const *)dirs, img->n_layers, err);
    for (size_t i = 0; i < img->n_layers; i++)
        free(dirs[i]);
    free(dirs);
    if (rc < 0)
        return -1;
    *out = steal_pointer(&sb);
    return 0;
}
