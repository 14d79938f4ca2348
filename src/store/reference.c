/* Reference parsing after the grammar of the distribution project:
 *   reference := name [":" tag] ["@" digest]
 *   name      := [domain "/"] path-component ["/" path-component]*
 *   domain    := host [":" port], host a DNS name, IPv4 address or [IPv6]
 *   path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
 *   tag       := [\w][\w.-]{0,127}
 * The first component is a domain when it holds '.' or ':', is "localhost",
 * or has an upper-case letter; otherwise docker.io is implied (and
 * "library/" for a single-component path). */
#include "store/reference.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/strbuf.h"

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_word(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

int reference_tag_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > REFERENCE_TAG_MAX || !is_word(s[0]))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_word(s[i]) && s[i] != '.' && s[i] != '-')
            return 0;
    return 1;
}

/* One path component of [s, s+n): alnum runs joined by '.', '_', '__' or '-+'. */
static int path_component_valid(const char *s, size_t n)
{
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return 0;
    size_t i = 0;
    while (i < n) {
        if (is_lower_alnum(s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && !is_lower_alnum(s[j]))
            j++;
        size_t sep = j - i;
        if (s[i] == '.' || s[i] == '_') {
            if (!(sep == 1 || (sep == 2 && s[i] == '_' && s[i + 1] == '_')))
                return 0;
        } else {
            for (size_t k = i; k < j; k++)
                if (s[k] != '-')
                    return 0;
        }
        i = j;
    }
    return 1;
}

static int has_upper(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            return 1;
    return 0;
}

/* A DNS-ish label: alnum, inner '-' allowed. */
static int domain_label_valid(const char *s, size_t n)
{
    if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-')
            return 0;
    return 1;
}

static int port_valid(const char *s, size_t n)
{
    if (n == 0 || n > 5)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int domain_valid(const char *s, size_t n)
{
    size_t host_end = n;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL)
            return 0;
        size_t hl = (size_t)(close - s);
        if (hl < 3)
            return 0;
        for (size_t i = 1; i < hl; i++)
            if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
                return 0;
        host_end = hl + 1;
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon != NULL)
            host_end = (size_t)(colon - s);
        size_t i = 0;
        while (i < host_end) {
            const char *dot = memchr(s + i, '.', host_end - i);
            size_t end = dot ? (size_t)(dot - s) : host_end;
            if (!domain_label_valid(s + i, end - i))
                return 0;
            i = end + 1;
            if (dot != NULL && i == host_end)
                return 0; /* trailing dot */
        }
        if (host_end == 0)
            return 0;
    }
    if (host_end == n)
        return 1;
    if (s[host_end] != ':')
        return 0;
    return port_valid(s + host_end + 1, n - host_end - 1);
}

static int is_hex64(const char *s, size_t n)
{
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int bad(struct kiln_error **err, const char *ref, const char *why)
{
    return kiln_error_set(err, KILN_E_INVALID, "invalid reference \"%s\": %s", ref, why);
}

void reference_release(struct reference *r)
{
    free(r->domain);
    free(r->path);
    free(r->tag);
    memset(r, 0, sizeof(*r));
}

/* Splits name into domain and path, after docker's splitDockerDomain. */
static int split_domain(const char *ref, const char *name, size_t n, struct reference *out,
                        struct kiln_error **err)
{
    const char *slash = memchr(name, '/', n);
    size_t first = slash ? (size_t)(slash - name) : n;
    int is_domain = slash != NULL &&
                    (memchr(name, '.', first) != NULL || memchr(name, ':', first) != NULL ||
                     (first == 9 && memcmp(name, "localhost", 9) == 0) || has_upper(name, first));
    const char *path = name;
    size_t plen = n;
    if (is_domain) {
        if (!domain_valid(name, first))
            return bad(err, ref, "invalid registry host");
        out->domain = xstrndup(name, first);
        path = slash + 1;
        plen = n - first - 1;
        if (strcmp(out->domain, "index.docker.io") == 0) {
            free(out->domain);
            out->domain = xstrdup(REFERENCE_DEFAULT_DOMAIN);
        }
    } else {
        out->domain = xstrdup(REFERENCE_DEFAULT_DOMAIN);
    }
    if (plen == 0)
        return bad(err, ref, "missing repository name");
    if (has_upper(path, plen))
        return bad(err, ref, "repository name must be lowercase");
    for (size_t i = 0; i < plen;) {
        const char *s = memchr(path + i, '/', plen - i);
        size_t end = s ? (size_t)(s - path) : plen;
        if (!path_component_valid(path + i, end - i))
            return bad(err, ref,
                       end == i ? "empty path component"
                                : "repository path components may only hold a-z, 0-9 and "
                                  "single separators (. _ __ -)");
        i = end + 1;
        if (s != NULL && i == plen)
            return bad(err, ref, "trailing '/'");
    }
    if (strcmp(out->domain, REFERENCE_DEFAULT_DOMAIN) == 0 && memchr(path, '/', plen) == NULL)
        out->path = xasprintf("library/%.*s", (int)plen, path);
    else
        out->path = xstrndup(path, plen);
    if (strlen(out->domain) + 1 + strlen(out->path) > REFERENCE_NAME_MAX)
        return bad(err, ref, "repository name longer than 255 characters");
    return 0;
}

static int parse_into(const char *s, struct reference *out, struct kiln_error **err)
{
    size_t n = strlen(s);
    if (n == 0)
        return kiln_error_set(err, KILN_E_INVALID, "invalid reference \"\": empty name");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
            return bad(err, s, "contains whitespace or non-ASCII characters");
    const char *at = strchr(s, '@');
    size_t name_end = at ? (size_t)(at - s) : n;
    if (at != NULL) {
        struct kiln_error *derr = NULL;
        if (digest_parse(at + 1, &out->digest, &derr) < 0) {
            kiln_error_free(derr);
            return bad(err, s, "digest must be sha256: followed by 64 lower-case hex digits");
        }
        out->has_digest = 1;
    }
    /* A tag is after the last ':' that follows the last '/'. */
    const char *last_slash = NULL;
    for (size_t i = 0; i < name_end; i++)
        if (s[i] == '/')
            last_slash = s + i;
    const char *colon = NULL;
    for (const char *p = last_slash ? last_slash : s; p < s + name_end; p++)
        if (*p == ':')
            colon = p;
    size_t repo_end = name_end;
    if (colon != NULL) {
        repo_end = (size_t)(colon - s);
        cleanup_free char *tag = xstrndup(colon + 1, name_end - repo_end - 1);
        if (!reference_tag_valid(tag))
            return bad(err, s, "tag must be 1-128 of A-Z a-z 0-9 _ . - and not start with . or -");
        out->tag = steal_pointer(&tag);
    }
    if (repo_end == 0)
        return bad(err, s, "missing repository name");
    if (is_hex64(s, repo_end))
        return bad(err, s, "a 64-character hex string is an image id, not a repository name");
    if (split_domain(s, s, repo_end, out, err) < 0)
        return -1;
    if (out->tag == NULL && !out->has_digest)
        out->tag = xstrdup(REFERENCE_DEFAULT_TAG);
    return 0;
}

int reference_parse(const char *s, struct reference *out, struct kiln_error **err)
{
    memset(out, 0, sizeof(*out));
    if (parse_into(s, out, err) < 0) {
        reference_release(out);
        return -1;
    }
    return 0;
}

static void add_suffix(struct strbuf *sb, const struct reference *r)
{
    if (r->tag != NULL)
        strbuf_addf(sb, ":%s", r->tag);
    if (r->has_digest)
        strbuf_addf(sb, "@sha256:%s", r->digest.hex);
}

char *reference_name(const struct reference *r)
{
    return xasprintf("%s/%s", r->domain, r->path);
}

char *reference_familiar_name(const struct reference *r)
{
    if (strcmp(r->domain, REFERENCE_DEFAULT_DOMAIN) != 0)
        return reference_name(r);
    const char *p = r->path;
    if (strncmp(p, "library/", 8) == 0 && strchr(p + 8, '/') == NULL)
        p += 8;
    return xstrdup(p);
}

char *reference_normalized(const struct reference *r)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "%s/%s", r->domain, r->path);
    add_suffix(&sb, r);
    return strbuf_detach(&sb);
}

char *reference_familiar(const struct reference *r)
{
    struct strbuf sb = STRBUF_INIT;
    cleanup_free char *name = reference_familiar_name(r);
    strbuf_adds(&sb, name);
    add_suffix(&sb, r);
    return strbuf_detach(&sb);
}

const char *reference_registry_host(const struct reference *r)
{
    if (strcmp(r->domain, REFERENCE_DEFAULT_DOMAIN) == 0)
        return "registry-1.docker.io";
    return r->domain;
}

char *reference_normalize_str(const char *s, struct kiln_error **err)
{
    struct reference r;
    if (reference_parse(s, &r, err) < 0)
        return NULL;
    char *out = reference_normalized(&r);
    reference_release(&r);
    return out;
}

char *reference_familiar_str(const char *s, struct kiln_error **err)
{
    struct reference r;
    if (reference_parse(s, &r, err) < 0)
        return NULL;
    char *out = reference_familiar(&r);
    reference_release(&r);
    return out;
}
