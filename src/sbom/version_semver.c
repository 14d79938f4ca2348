/* Semantic Versioning 2.0.0 precedence (semver.org, section 11): major,
 * minor, patch numerically; a pre-release sorts before its release; its
 * dot-separated identifiers compare numerically when all digits, else in
 * ASCII order, numbers before words, a longer list after its prefix. */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sbom/version.h"

struct semver {
    uint64_t num[3];
    const char *pre, *pre_end; /* without the '-'; pre == NULL when absent */
};

static bool semver_ident_ok(const char *s, const char *e, bool numeric_no_zero)
{
    if (s == e)
        return false;
    bool digits = true;
    for (const char *c = s; c < e; c++) {
        if (!isalnum((unsigned char)*c) && *c != '-')
            return false;
        if (!isdigit((unsigned char)*c))
            digits = false;
    }
    return !(numeric_no_zero && digits && e - s > 1 && *s == '0');
}

static bool semver_parse(const char *v, struct semver *o)
{
    memset(o, 0, sizeof(*o));
    const char *p = v;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '=')
        p++;
    if (*p == 'v' || *p == 'V')
        p++;
    int i = 0;
    for (; i < 3; i++) {
        if (i > 0) {
            if (*p != '.')
                break;
            p++;
        }
        if (!isdigit((unsigned char)*p))
            return false;
        if (*p == '0' && isdigit((unsigned char)p[1]))
            return false;
        uint64_t n = 0;
        while (isdigit((unsigned char)*p)) {
            unsigned d = (unsigned)(*p - '0');
            n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
            p++;
        }
        o->num[i] = n;
    }
    if (*p == '-') {
        o->pre = ++p;
        while (*p && *p != '+' && !isspace((unsigned char)*p))
            p++;
        o->pre_end = p;
        for (const char *s = o->pre; s <= o->pre_end;) {
            const char *e = memchr(s, '.', (size_t)(o->pre_end - s));
            if (!e)
                e = o->pre_end;
            if (!semver_ident_ok(s, e, true))
                return false;
            s = e + 1;
        }
    }
    if (*p == '+') {
        const char *s = ++p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        for (const char *e; s <= p; s = e + 1) {
            e = memchr(s, '.', (size_t)(p - s));
            if (!e)
                e = p;
            if (!semver_ident_ok(s, e, false))
                return false;
        }
    }
    while (isspace((unsigned char)*p))
        p++;
    return *p == '\0';
}

bool version_valid_semver(const char *v)
{
    struct semver o;
    return semver_parse(v, &o);
}

static bool all_digits(const char *s, const char *e)
{
    for (; s < e; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

static int ident_cmp(const char *a, const char *ae, const char *b, const char *be)
{
    bool na = all_digits(a, ae), nb = all_digits(b, be);
    size_t la = (size_t)(ae - a), lb = (size_t)(be - b);
    if (na && nb) {
        /* No leading zeros in valid identifiers: longer is larger. */
        if (la != lb)
            return la < lb ? -1 : 1;
        int c = memcmp(a, b, la);
        return c < 0 ? -1 : c > 0;
    }
    if (na != nb)
        return na ? -1 : 1;
    int c = memcmp(a, b, la < lb ? la : lb);
    if (c)
        return c < 0 ? -1 : 1;
    return la < lb ? -1 : la > lb;
}

int version_cmp_semver(const char *a, const char *b)
{
    struct semver x, y;
    bool vx = semver_parse(a, &x), vy = semver_parse(b, &y);
    if (!vx || !vy) {
        if (vx != vy)
            return vx ? 1 : -1;
        int c = strcmp(a, b);
        return c < 0 ? -1 : c > 0;
    }
    for (int i = 0; i < 3; i++)
        if (x.num[i] != y.num[i])
            return x.num[i] < y.num[i] ? -1 : 1;
    if (!x.pre || !y.pre)
        return (x.pre == NULL) - (y.pre == NULL);
    const char *p = x.pre, *q = y.pre;
    for (;;) {
        bool endp = p > x.pre_end, endq = q > y.pre_end;
        if (endp || endq)
            return endp == endq ? 0 : (endp ? -1 : 1);
        const char *pe = memchr(p, '.', (size_t)(x.pre_end - p));
        const char *qe = memchr(q, '.', (size_t)(y.pre_end - q));
        if (!pe)
            pe = x.pre_end;
        if (!qe)
            qe = y.pre_end;
        int c = ident_cmp(p, pe, q, qe);
        if (c)
            return c;
        p = pe + 1;
        q = qe + 1;
    }
}

int version_cmp(enum version_scheme scheme, const char *a, const char *b)
{
    switch (scheme) {
    case VERSION_DPKG:
        return version_cmp_dpkg(a, b);
    case VERSION_PEP440:
        return version_cmp_pep440(a, b);
    case VERSION_SEMVER:
        return version_cmp_semver(a, b);
    }
    return 0;
}

bool version_valid(enum version_scheme scheme, const char *v)
{
    switch (scheme) {
    case VERSION_DPKG:
        return version_valid_dpkg(v);
    case VERSION_PEP440:
        return version_valid_pep440(v);
    case VERSION_SEMVER:
        return version_valid_semver(v);
    }
    return false;
}
