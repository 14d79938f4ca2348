/* The scanner's input: packages read from package URLs, as kiln's SBOMs
 * (CycloneDX components[].purl, SPDX packages[].externalRefs) carry them.
 * purl syntax: pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS#SUBPATH, each part
 * percent-encoded. */
#include <ctype.h>
#include <string.h>

#include "sbom/scan.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

#define SBOM_MAX (256u << 20)

static char *pct_decode(const char *s, size_t n)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_grow(&sb, n);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            strbuf_addc(&sb, (char)strtol(hex, NULL, 16));
            i += 2;
        } else {
            strbuf_addc(&sb, s[i]);
        }
    }
    return strbuf_detach(&sb);
}

void scan_package_release(struct scan_package *p)
{
    free(p->type);
    free(p->name);
    free(p->version);
    free(p->source_name);
    free(p->source_version);
    free(p->distro);
    free(p->purl);
    memset(p, 0, sizeof(*p));
}

static int bad_purl(struct kiln_error **err, const char *purl, const char *why)
{
    return kiln_error_set(err, KILN_E_INVALID, "package URL \"%.200s\": %s", purl, why);
}

/* One qualifier key=value (value still encoded). */
static void purl_qualifier(struct scan_package *p, const char *k, size_t kn, const char *v,
                           size_t vn)
{
    if (kn == 6 && memcmp(k, "distro", 6) == 0) {
        free(p->distro);
        p->distro = pct_decode(v, vn);
    } else if (kn == 8 && memcmp(k, "upstream", 8) == 0) {
        cleanup_free char *up = pct_decode(v, vn);
        char *at = strchr(up, '@');
        /* "SRC (VERSION)" is another spelling some tools use. */
        char *paren = strstr(up, " (");
        free(p->source_name);
        free(p->source_version);
        p->source_version = NULL;
        if (at) {
            p->source_name = xstrndup(up, (size_t)(at - up));
            p->source_version = xstrdup(at + 1);
        } else if (paren && up[strlen(up) - 1] == ')') {
            p->source_name = xstrndup(up, (size_t)(paren - up));
            p->source_version = xstrndup(paren + 2, strlen(paren + 2) - 1);
        } else {
            p->source_name = xstrdup(up);
        }
    }
}

int scan_package_from_purl(const char *purl, struct scan_package *p, struct kiln_error **err)
{
    memset(p, 0, sizeof(*p));
    if (strncmp(purl, "pkg:", 4) != 0)
        return bad_purl(err, purl, "does not start with pkg:");
    const char *s = purl + 4;
    while (*s == '/')
        s++;
    size_t len = strcspn(s, "#");
    const char *q = memchr(s, '?', len);
    const char *path_end = q ? q : s + len;
    const char *slash = memchr(s, '/', (size_t)(path_end - s));
    if (!slash || slash == s)
        return bad_purl(err, purl, "no type");
    p->type = xstrndup(s, (size_t)(slash - s));
    for (char *c = p->type; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    const char *rest = slash + 1;
    /* The version follows the last '@' of the path (an encoded scope is %40). */
    const char *at = NULL;
    for (const char *c = rest; c < path_end; c++)
        if (*c == '@')
            at = c;
    const char *name_end = at ? at : path_end;
    const char *last = NULL;
    for (const char *c = rest; c < name_end; c++)
        if (*c == '/')
            last = c;
    cleanup_free char *ns = last ? pct_decode(rest, (size_t)(last - rest)) : NULL;
    cleanup_free char *nm =
        pct_decode(last ? last + 1 : rest, (size_t)(name_end - (last ? last + 1 : rest)));
    if (!*nm) {
        scan_package_release(p);
        return bad_purl(err, purl, "no name");
    }
    if (!at || at + 1 == path_end) {
        scan_package_release(p);
        return bad_purl(err, purl, "no version");
    }
    p->version = pct_decode(at + 1, (size_t)(path_end - at - 1));
    /* npm keeps the scope in the name; other types name the package alone. */
    if (ns && strcmp(p->type, "npm") == 0)
        p->name = xasprintf("%s/%s", ns, nm);
    else
        p->name = xstrdup(nm);
    if (q) {
        const char *e = s + len;
        for (const char *k = q + 1; k < e;) {
            const char *amp = memchr(k, '&', (size_t)(e - k));
            if (!amp)
                amp = e;
            const char *eq = memchr(k, '=', (size_t)(amp - k));
            if (eq)
                purl_qualifier(p, k, (size_t)(eq - k), eq + 1, (size_t)(amp - eq - 1));
            k = amp + 1;
        }
    }
    if (!p->source_name)
        p->source_name = xstrdup(p->name);
    if (!p->source_version)
        p->source_version = xstrdup(p->version);
    p->purl = xstrdup(purl);
    return 0;
}

void scan_packages_add(struct scan_packages *list, const struct scan_package *p)
{
    if (list->n == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 64;
        list->v = xrealloc(list->v, list->cap * sizeof(*list->v));
    }
    struct scan_package *d = &list->v[list->n++];
    d->type = xstrdup(p->type);
    d->name = xstrdup(p->name);
    d->version = xstrdup(p->version);
    d->source_name = xstrdup(p->source_name ? p->source_name : p->name);
    d->source_version = xstrdup(p->source_version ? p->source_version : p->version);
    d->distro = p->distro ? xstrdup(p->distro) : NULL;
    d->purl = p->purl ? xstrdup(p->purl) : NULL;
}

void scan_packages_release(struct scan_packages *list)
{
    for (size_t i = 0; i < list->n; i++)
        scan_package_release(&list->v[i]);
    free(list->v);
    memset(list, 0, sizeof(*list));
}

static void add_purl(struct scan_packages *out, const char *purl, const char *what,
                     scan_warn_fn warn, void *ctx)
{
    struct scan_package p;
    struct kiln_error *e = NULL;
    if (scan_package_from_purl(purl, &p, &e) < 0) {
        if (warn) {
            cleanup_free char *m = xasprintf("%s: skipped: %s", what, e->msg);
            warn(ctx, m);
        }
        kiln_error_free(e);
        return;
    }
    /* Same purl twice (an SBOM listing a package in two places): once. */
    for (size_t i = 0; i < out->n; i++)
        if (out->v[i].purl && strcmp(out->v[i].purl, p.purl) == 0) {
            scan_package_release(&p);
            return;
        }
    scan_packages_add(out, &p);
    scan_package_release(&p);
}

static void cyclonedx_components(const json_t *arr, struct scan_packages *out, const char *what,
                                 scan_warn_fn warn, void *ctx, int depth)
{
    size_t i;
    const json_t *c;
    if (!json_is_array(arr) || depth > 32)
        return;
    json_array_foreach(arr, i, c)
    {
        const char *purl = json_get_str(c, "purl");
        if (purl)
            add_purl(out, purl, what, warn, ctx);
        cyclonedx_components(json_object_get(c, "components"), out, what, warn, ctx, depth + 1);
    }
}

int scan_packages_from_sbom(const json_t *doc, const char *what, struct scan_packages *out,
                            scan_warn_fn warn, void *warn_ctx, struct kiln_error **err)
{
    if (!json_is_object(doc))
        return kiln_error_set(err, KILN_E_INVALID, "%s: not a JSON object", what);
    const char *format = json_get_str(doc, "bomFormat");
    if (format && strcmp(format, "CycloneDX") == 0) {
        cyclonedx_components(json_object_get(doc, "components"), out, what, warn, warn_ctx, 0);
        return 0;
    }
    if (json_get_str(doc, "spdxVersion")) {
        size_t i, j;
        const json_t *pkg, *ref;
        json_array_foreach(json_object_get(doc, "packages"), i, pkg)
        {
            json_array_foreach(json_object_get(pkg, "externalRefs"), j, ref)
            {
                const char *type = json_get_str(ref, "referenceType");
                const char *loc = json_get_str(ref, "referenceLocator");
                if (type && loc && strcmp(type, "purl") == 0)
                    add_purl(out, loc, what, warn, warn_ctx);
            }
        }
        return 0;
    }
    return kiln_error_set(err, KILN_E_INVALID,
                          "%s: neither a CycloneDX (bomFormat) nor an SPDX (spdxVersion) document",
                          what);
}

int scan_packages_from_file(const char *path, struct scan_packages *out, scan_warn_fn warn,
                            void *warn_ctx, struct kiln_error **err)
{
    cleanup_json json_t *doc = json_load_path(path, SBOM_MAX, err);
    if (!doc)
        return -1;
    return scan_packages_from_sbom(doc, path, out, warn, warn_ctx, err);
}
