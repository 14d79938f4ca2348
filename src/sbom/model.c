/* The package model: adding packages and warnings, the purls, the final sort
 * that makes the output deterministic. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sbom/sbom.h"
#include "util/strbuf.h"

static void package_release(struct sbom_package *p)
{
    free(p->name);
    free(p->version);
    free(p->arch);
    free(p->source_name);
    free(p->source_version);
    free(p->license);
    free(p->purl);
    free(p->location);
    free(p->sha256);
}

void sbom_free(struct sbom *sb)
{
    if (sb == NULL)
        return;
    for (size_t i = 0; i < sb->n_pkgs; i++)
        package_release(&sb->pkgs[i]);
    free(sb->pkgs);
    for (size_t i = 0; i < sb->n_warnings; i++)
        free(sb->warnings[i]);
    free(sb->warnings);
    free(sb->image);
    free(sb->created);
    free(sb->arch);
    free(sb->os.id);
    free(sb->os.version_id);
    free(sb->os.codename);
    free(sb->os.pretty_name);
    free(sb);
}

void cleanup_sbomp(struct sbom **sb)
{
    sbom_free(*sb);
    *sb = NULL;
}

const char *sbom_ecosystem_name(enum sbom_ecosystem eco)
{
    static const char *const names[] = {"deb", "pypi", "npm", "file"};
    return (unsigned)eco < 4 ? names[eco] : "unknown";
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

struct sbom_package *sbom_add(struct sbom *sb, enum sbom_ecosystem eco, const char *name,
                              const char *version, const char *arch, const char *location)
{
    if (sb->n_pkgs == sb->cap_pkgs) {
        sb->cap_pkgs = sb->cap_pkgs ? sb->cap_pkgs * 2 : 256;
        sb->pkgs = xrealloc(sb->pkgs, sb->cap_pkgs * sizeof(*sb->pkgs));
    }
    struct sbom_package *p = &sb->pkgs[sb->n_pkgs++];
    memset(p, 0, sizeof(*p));
    p->eco = eco;
    p->name = xstrdup(name);
    p->version = dup_or_null(version);
    p->arch = dup_or_null(arch);
    p->location = dup_or_null(location);
    return p;
}

void sbom_warn(struct sbom *sb, const char *fmt, ...)
{
    /* A hostile image could produce millions; the first thousand tell enough. */
    if (sb->n_warnings >= 1000)
        return;
    struct strbuf w = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&w, fmt, ap);
    va_end(ap);
    sb->warnings = xrealloc(sb->warnings, (sb->n_warnings + 1) * sizeof(*sb->warnings));
    sb->warnings[sb->n_warnings++] = strbuf_detach(&w);
}

/* Percent-encodes what the purl spec does not allow verbatim in a name,
 * version or qualifier value (':' and '/' included: they are separators). */
static void purl_escape(struct strbuf *sb, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '.' || *p == '-' || *p == '_' || *p == '~' || *p == '+')
            strbuf_addc(sb, (char)*p);
        else
            strbuf_addf(sb, "%%%02X", *p);
    }
}

static char *purl_of(const struct sbom *sb, const struct sbom_package *p)
{
    struct strbuf u = STRBUF_INIT;
    switch (p->eco) {
    case SBOM_DEB: {
        const char *vendor = sb->os.id ? sb->os.id : "debian";
        strbuf_adds(&u, "pkg:deb/");
        purl_escape(&u, vendor);
        strbuf_addc(&u, '/');
        purl_escape(&u, p->name);
        strbuf_addc(&u, '@');
        purl_escape(&u, p->version);
        strbuf_adds(&u, "?arch=");
        purl_escape(&u, p->arch ? p->arch : "all");
        if (sb->os.version_id) {
            strbuf_adds(&u, "&distro=");
            purl_escape(&u, vendor);
            strbuf_addc(&u, '-');
            purl_escape(&u, sb->os.version_id);
        }
        int other_name = p->source_name && strcmp(p->source_name, p->name) != 0;
        int other_ver = p->source_version && strcmp(p->source_version, p->version) != 0;
        if (other_name || other_ver) {
            strbuf_adds(&u, "&upstream=");
            purl_escape(&u, p->source_name ? p->source_name : p->name);
            if (other_ver) {
                strbuf_adds(&u, "%40");
                purl_escape(&u, p->source_version);
            }
        }
        break;
    }
    case SBOM_PYPI: {
        struct strbuf n = STRBUF_INIT;
        for (const char *c = p->name; *c; c++)
            strbuf_addc(&n, *c == '_' ? '-' : (*c >= 'A' && *c <= 'Z') ? (char)(*c + 32) : *c);
        strbuf_adds(&u, "pkg:pypi/");
        purl_escape(&u, n.buf);
        strbuf_release(&n);
        strbuf_addc(&u, '@');
        purl_escape(&u, p->version);
        break;
    }
    case SBOM_NPM: {
        strbuf_adds(&u, "pkg:npm/");
        const char *slash = p->name[0] == '@' ? strchr(p->name, '/') : NULL;
        if (slash) { /* the namespace, then the name: both escaped, '/' kept */
            char *ns = xstrndup(p->name, (size_t)(slash - p->name));
            purl_escape(&u, ns);
            free(ns);
            strbuf_addc(&u, '/');
            purl_escape(&u, slash + 1);
        } else {
            purl_escape(&u, p->name);
        }
        strbuf_addc(&u, '@');
        purl_escape(&u, p->version);
        break;
    }
    case SBOM_FILE:
        strbuf_release(&u);
        return NULL;
    }
    return strbuf_detach(&u);
}

static int cmp_null(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return (a != NULL) - (b != NULL);
    return strcmp(a, b);
}

static int cmp_pkg(const void *va, const void *vb)
{
    const struct sbom_package *a = va, *b = vb;
    int c;
    if (a->eco != b->eco)
        return a->eco < b->eco ? -1 : 1;
    if ((c = strcmp(a->name, b->name)) != 0)
        return c;
    if ((c = cmp_null(a->arch, b->arch)) != 0)
        return c;
    if ((c = cmp_null(a->version, b->version)) != 0)
        return c;
    return cmp_null(a->location, b->location);
}

void sbom_finish(struct sbom *sb)
{
    for (size_t i = 0; i < sb->n_pkgs; i++) {
        free(sb->pkgs[i].purl);
        sb->pkgs[i].purl = purl_of(sb, &sb->pkgs[i]);
    }
    if (sb->n_pkgs > 1)
        qsort(sb->pkgs, sb->n_pkgs, sizeof(*sb->pkgs), cmp_pkg);
}
