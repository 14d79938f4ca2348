/* Parsers of the SBOM readers: dpkg's status database, Python core metadata,
 * npm's package.json, machine-readable debian/copyright and os-release. Pure
 * functions over a buffer from an image layer: hostile input (no NUL
 * termination assumed, NUL bytes, megabyte lines, missing fields). */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "sbom/sbom.h"
#include "util/json.h"
#include "util/strbuf.h"

#define LINE_MAX_USED (64u << 10) /* a header longer than this is not one we use */

/* Next line of buf[*pos..len) without its newline (and a trailing '\r'). */
static int next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *n)
{
    if (*pos >= len)
        return 0;
    const char *start = buf + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    size_t l = nl ? (size_t)(nl - start) : len - *pos;
    *line = start;
    *n = l > 0 && start[l - 1] == '\r' ? l - 1 : l;
    *pos += l + (nl ? 1 : 0);
    return 1;
}

/* "Key: value" (key compared case-insensitively, as RFC 822 headers are):
 * the trimmed value, allocated; NULL when the line is another header, too
 * long, or holds a NUL byte. */
static char *header_value(const char *line, size_t n, const char *key)
{
    size_t k = strlen(key);
    if (n <= k || n > LINE_MAX_USED || strncasecmp(line, key, k) != 0 || line[k] != ':' ||
        memchr(line, '\0', n) != NULL)
        return NULL;
    const char *v = line + k + 1;
    size_t vl = n - k - 1;
    while (vl > 0 && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    return xstrndup(v, vl);
}

static int is_blank(const char *line, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (line[i] != ' ' && line[i] != '\t')
            return 0;
    return 1;
}

/* A package name or version as dpkg allows it: printable, no spaces. */
static int token_ok(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p >= 0x7f)
            return 0;
    return 1;
}

struct stanza {
    char *pkg, *ver, *arch, *status, *source;
    size_t line; /* where it began */
    int bad;     /* an unusable line in it */
};

static void stanza_reset(struct stanza *st)
{
    free(st->pkg);
    free(st->ver);
    free(st->arch);
    free(st->status);
    free(st->source);
    memset(st, 0, sizeof(*st));
}

/* "want flag state": only the last word matters ("install ok installed",
 * "hold ok installed"); dpkg-query -W lists half-installed or config-files
 * packages too, but they are not installed software. */
static int installed(const char *status)
{
    if (status == NULL)
        return 1; /* status.d stanzas (distroless) carry none */
    const char *last = strrchr(status, ' ');
    return last != NULL && strcmp(last + 1, "installed") == 0;
}

/* "Source: name (version)" into name and version (version NULL when absent). */
static void split_source(const char *src, char **name, char **version)
{
    const char *paren = strchr(src, '(');
    size_t nl = paren ? (size_t)(paren - src) : strlen(src);
    while (nl > 0 && src[nl - 1] == ' ')
        nl--;
    *name = xstrndup(src, nl);
    *version = NULL;
    if (paren) {
        const char *close = strchr(paren, ')');
        if (close && close > paren + 1)
            *version = xstrndup(paren + 1, (size_t)(close - paren - 1));
    }
}

static void stanza_end(struct sbom *sb, struct stanza *st, const char *location)
{
    if (st->pkg == NULL && st->ver == NULL && st->status == NULL && !st->bad) {
        stanza_reset(st);
        return;
    }
    if (!token_ok(st->pkg) || !token_ok(st->ver) || st->bad) {
        if (installed(st->status) || st->bad)
            sbom_warn(sb, "%s:%zu: skipped a package stanza (%s)", location, st->line,
                      !token_ok(st->pkg)   ? "no valid Package"
                      : !token_ok(st->ver) ? "no valid Version"
                                           : "malformed line");
        stanza_reset(st);
        return;
    }
    if (installed(st->status)) {
        struct sbom_package *p = sbom_add(sb, SBOM_DEB, st->pkg, st->ver,
                                          token_ok(st->arch) ? st->arch : "all", location);
        char *sn = NULL, *sv = NULL;
        if (st->source)
            split_source(st->source, &sn, &sv);
        p->source_name = token_ok(sn) ? xstrdup(sn) : xstrdup(st->pkg);
        p->source_version = token_ok(sv) ? xstrdup(sv) : xstrdup(st->ver);
        free(sn);
        free(sv);
    }
    stanza_reset(st);
}

void sbom_parse_dpkg_status(struct sbom *sb, const char *buf, size_t len, const char *location)
{
    size_t pos = 0, n, lineno = 0;
    const char *line;
    struct stanza st = {0};
    for (int more = 1; more;) {
        more = next_line(buf, len, &pos, &line, &n);
        lineno++;
        if (more && !is_blank(line, n)) {
            if (st.line == 0)
                st.line = lineno;
            if (line[0] == ' ' || line[0] == '\t')
                continue; /* a continuation line (Description, Conffiles) */
            char *v;
            char **slot = NULL;
            if ((v = header_value(line, n, "Package")))
                slot = &st.pkg;
            else if ((v = header_value(line, n, "Version")))
                slot = &st.ver;
            else if ((v = header_value(line, n, "Architecture")))
                slot = &st.arch;
            else if ((v = header_value(line, n, "Status")))
                slot = &st.status;
            else if ((v = header_value(line, n, "Source")))
                slot = &st.source;
            else if (n > LINE_MAX_USED || memchr(line, ':', n) == NULL)
                st.bad = 1; /* neither a field we know nor "Field: value" */
            if (slot) {
                if (*slot) /* a field twice: keep the first, as dpkg rejects it */
                    st.bad = 1;
                free(*slot);
                *slot = v;
            }
            continue;
        }
        stanza_end(sb, &st, location);
    }
    stanza_reset(&st);
}

/* "License :: OSI Approved :: MIT License" -> "MIT License" */
static char *classifier_license(const char *v)
{
    if (strncmp(v, "License ::", 10) != 0)
        return NULL;
    const char *last = v;
    for (const char *p = strstr(v, " :: "); p; p = strstr(p + 4, " :: "))
        last = p + 4;
    if (last == v || strcmp(last, "OSI Approved") == 0)
        return NULL;
    return xstrdup(last);
}

int sbom_parse_metadata(const char *buf, size_t len, char **name, char **version, char **license)
{
    size_t pos = 0, n;
    const char *line;
    char *expr = NULL, *lic = NULL, *classifier = NULL;
    *name = *version = NULL;
    int lic_multiline = 0, in_license = 0;
    /* the headers end at the first empty line; the body is the description */
    while (next_line(buf, len, &pos, &line, &n) && n > 0) {
        char *v;
        if (line[0] == ' ' || line[0] == '\t') { /* a continuation line */
            lic_multiline |= in_license;
            continue;
        }
        in_license = 0;
        if (!*name && (v = header_value(line, n, "Name")))
            *name = v;
        else if (!*version && (v = header_value(line, n, "Version")))
            *version = v;
        else if (!expr && (v = header_value(line, n, "License-Expression")))
            expr = v;
        else if (!lic && (v = header_value(line, n, "License"))) {
            lic = v;
            in_license = 1;
        } else if (!classifier && (v = header_value(line, n, "Classifier"))) {
            classifier = classifier_license(v);
            free(v);
        }
    }
    /* A License: header is often the whole license text (continuation lines
     * follow): only a short one-liner is a name worth reporting. */
    int lic_ok =
        lic && lic[0] && strlen(lic) <= 64 && strcmp(lic, "UNKNOWN") != 0 && !lic_multiline;
    if (license)
        *license = expr && expr[0] ? xstrdup(expr)
                   : lic_ok        ? xstrdup(lic)
                   : classifier    ? xstrdup(classifier)
                                   : NULL;
    free(expr);
    free(lic);
    free(classifier);
    if (token_ok(*name) && token_ok(*version))
        return 0;
    free(*name);
    free(*version);
    *name = *version = NULL;
    if (license) {
        free(*license);
        *license = NULL;
    }
    return -1;
}

int sbom_parse_package_json(const char *buf, size_t len, char **name, char **version,
                            char **license)
{
    *name = *version = NULL;
    if (license)
        *license = NULL;
    json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return -1;
    }
    const char *n = json_get_str(doc, "name"), *v = json_get_str(doc, "version");
    json_t *l = json_object_get(doc, "license");
    if (json_is_object(l))
        l = json_object_get(l, "type");
    if (token_ok(n) && token_ok(v)) {
        *name = xstrdup(n);
        *version = xstrdup(v);
        if (license && json_is_string(l) && json_string_length(l) > 0 &&
            json_string_length(l) <= 256)
            *license = xstrdup(json_string_value(l));
    }
    json_decref(doc);
    return *name ? 0 : -1;
}

char *sbom_parse_copyright(const char *buf, size_t len)
{
    size_t pos = 0, n;
    const char *line;
    if (!next_line(buf, len, &pos, &line, &n) || n < 7 || strncasecmp(line, "Format:", 7) != 0 ||
        memmem(line, n, "copyright-format", 16) == NULL)
        return NULL;
    struct strbuf out = STRBUF_INIT;
    json_t *seen = json_object();
    int has_files = 0; /* the header paragraph's License: is not a file's */
    char *lic = NULL;
    for (int more = 1; more;) {
        more = next_line(buf, len, &pos, &line, &n);
        if (!more || is_blank(line, n)) {
            if (has_files && lic && lic[0] && !json_object_get(seen, lic)) {
                json_object_set_new(seen, lic, json_true());
                if (out.len)
                    strbuf_adds(&out, " AND ");
                strbuf_adds(&out, lic);
            }
            free(lic);
            lic = NULL;
            has_files = 0;
            continue;
        }
        char *v;
        if ((v = header_value(line, n, "Files"))) {
            has_files = 1;
            free(v);
        } else if (lic == NULL && (v = header_value(line, n, "License"))) {
            lic = v;
        }
    }
    free(lic);
    json_decref(seen);
    if (out.len == 0) {
        strbuf_release(&out);
        return NULL;
    }
    return strbuf_detach(&out);
}

void sbom_parse_os_release(struct sbom_os *os, const char *buf, size_t len)
{
    static const struct {
        const char *key;
        size_t off;
    } keys[] = {
        {"ID", offsetof(struct sbom_os, id)},
        {"VERSION_ID", offsetof(struct sbom_os, version_id)},
        {"VERSION_CODENAME", offsetof(struct sbom_os, codename)},
        {"PRETTY_NAME", offsetof(struct sbom_os, pretty_name)},
    };
    size_t pos = 0, n;
    const char *line;
    while (next_line(buf, len, &pos, &line, &n)) {
        const char *eq = memchr(line, '=', n);
        if (eq == NULL || n > 4096 || memchr(line, '\0', n))
            continue;
        size_t kl = (size_t)(eq - line);
        const char *v = eq + 1;
        size_t vl = n - kl - 1;
        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0])
            v++, vl -= 2;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            char **slot = (char **)((char *)os + keys[i].off);
            if (strlen(keys[i].key) == kl && memcmp(line, keys[i].key, kl) == 0 && *slot == NULL)
                *slot = xstrndup(v, vl);
        }
    }
}
