/* What a user's IMAGE argument names: a reference (`debian`, `team/app:1.2`,
 * `name@sha256:...`), a manifest digest, or an image id (the config digest,
 * full or a unique hex prefix, with or without "sha256:"), as docker allows. */
#include "store/store_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "store/reference.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

static int hex_prefix(const char *s, size_t *len)
{
    size_t n = strlen(s);
    if (n < 4 || n > DIGEST_HEX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return 0;
    *len = n;
    return 1;
}

/* Tagged manifests whose digest or image id starts with prefix. 0 found,
 * 1 found (*out filled), -1 ambiguous or error. */
static int find_by_id(struct store *s, const char *prefix, const char *what,
                      const struct platform *want, struct image **out, struct kiln_error **err)
{
    struct store_tag_entry *e = NULL;
    size_t n = 0;
    if (store_list_tags(s, &e, &n, err) < 0)
        return -1;
    size_t plen = strlen(prefix);
    struct image *found = NULL;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct image *img = NULL;
        int manifest_match =
            strncmp(e[i].manifest.digest.hex, prefix, plen) == 0 && plen == DIGEST_HEX_LEN;
        if (store_image_load_manifest_platform(s, &e[i].manifest.digest, want, &img, NULL) < 0)
            continue;
        if (!manifest_match && strncmp(img->config.digest.hex, prefix, plen) != 0) {
            image_free(img);
            continue;
        }
        if (found != NULL && !digest_equal(&found->config.digest, &img->config.digest)) {
            image_free(img);
            rc = kiln_error_set(err, KILN_E_INVALID,
                                "image id \"%s\" is ambiguous: give more characters", what);
            break;
        }
        if (found == NULL)
            found = img;
        else
            image_free(img);
        rc = 1;
    }
    store_tag_entries_free(e, n);
    if (rc == 1)
        *out = found;
    else
        image_free(found);
    return rc;
}

int store_image_load(struct store *s, const char *what, struct image **out, struct kiln_error **err)
{
    return store_image_load_platform(s, what, NULL, out, err);
}

/* A manifest found by the name the user gave: an image or index without the
 * platform wanted is named by it too (not by its digest alone). */
static int load_named(struct store *s, const char *what, const struct digest *d,
                      const struct platform *want, struct image **out, struct kiln_error **err)
{
    if (store_image_load_manifest_platform(s, d, want, out, err) == 0)
        return 0;
    if (err != NULL && *err != NULL && (*err)->code == KILN_E_PLATFORM)
        kiln_error_prefix(err, "image \"%s\"", what);
    return -1;
}

int store_image_load_platform(struct store *s, const char *what, const struct platform *want,
                              struct image **out, struct kiln_error **err)
{
    *out = NULL;
    const char *hex = strncmp(what, "sha256:", 7) == 0 ? what + 7 : what;
    size_t hlen = 0;
    int is_hex = hex_prefix(hex, &hlen);
    /* A full digest may also name an untagged manifest that is present. */
    struct digest d;
    if (is_hex && hlen == DIGEST_HEX_LEN && digest_parse_hex(hex, &d) == 0) {
        int rc = find_by_id(s, hex, what, want, out, err);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        if (store_blob_has(s, &d))
            return store_image_load_manifest_platform(s, &d, want, out, err);
        return kiln_error_set(err, KILN_E_NOTFOUND, "image \"%s\" not found in store %s", what,
                              s->root);
    }
    struct kiln_error *rerr = NULL;
    struct reference r;
    int parsed = reference_parse(what, &r, &rerr) == 0;
    if (parsed) {
        struct descriptor desc;
        struct kiln_error *terr = NULL;
        if (store_resolve_tag(s, what, &desc, &terr) == 0) {
            reference_release(&r);
            kiln_error_free(rerr);
            int rc = load_named(s, what, &desc.digest, want, out, err);
            descriptor_release(&desc);
            return rc;
        }
        kiln_error_free(terr);
        if (r.has_digest && store_blob_has(s, &r.digest)) {
            reference_release(&r);
            return load_named(s, what, &r.digest, want, out, err);
        }
        reference_release(&r);
    }
    if (is_hex) {
        int rc = find_by_id(s, hex, what, want, out, err);
        if (rc != 0) {
            kiln_error_free(rerr);
            return rc < 0 ? -1 : 0;
        }
    }
    if (!parsed && !is_hex) {
        if (err != NULL && *err == NULL)
            *err = rerr;
        else
            kiln_error_free(rerr);
        return -1;
    }
    kiln_error_free(rerr);
    return kiln_error_set(err, KILN_E_NOTFOUND,
                          "image \"%s\" not found in store %s (see 'kiln images')", what, s->root);
}
