/* PEP 440 version order. A version is parsed into its parts (epoch, release,
 * pre, post, dev, local) and compared part by part, with the spec's special
 * places: a dev release of a final version comes before its pre-releases,
 * a post release after the final one, and a local version after the public
 * one it extends. */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "sbom/version.h"

#define PEP440_MAX_RELEASE 16
#define PEP440_MAX_LOCAL   16

struct pep440 {
    uint64_t epoch;
    uint64_t release[PEP440_MAX_RELEASE];
    int nrelease;
    int pre_kind; /* 0 none, 1 a, 2 b, 3 rc */
    uint64_t pre;
    bool has_post, has_dev;
    uint64_t post, dev;
    /* Local segments: a number (is_num) or a lowercased word (ptr, len). */
    struct pep440_local {
        bool is_num;
        uint64_t num;
        const char *s;
        size_t len;
    } local[PEP440_MAX_LOCAL];
    int nlocal;
};

static bool read_num(const char **p, uint64_t *out)
{
    const char *s = *p;
    if (!isdigit((unsigned char)*s))
        return false;
    uint64_t v = 0;
    while (isdigit((unsigned char)*s)) {
        unsigned d = (unsigned)(*s - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return true;
}

static bool is_sep(char c)
{
    return c == '.' || c == '-' || c == '_';
}

/* Matches one of words at *p (case-insensitive); advances past it. */
static int match_word(const char **p, const char *const *words)
{
    for (int i = 0; words[i]; i++) {
        size_t n = strlen(words[i]);
        if (strncasecmp(*p, words[i], n) == 0) {
            *p += n;
            return i;
        }
    }
    return -1;
}

/* An optional separator, then an optional number (implicit 0). */
static uint64_t read_opt_num(const char **p)
{
    const char *s = *p;
    if (is_sep(*s) && isdigit((unsigned char)s[1]))
        s++;
    uint64_t v = 0;
    if (read_num(&s, &v))
        *p = s;
    return v;
}

static bool pep440_parse(const char *v, struct pep440 *o)
{
    memset(o, 0, sizeof(*o));
    const char *p = v;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == 'v' || *p == 'V')
        p++;
    uint64_t n;
    if (!read_num(&p, &n))
        return false;
    if (*p == '!') {
        o->epoch = n;
        p++;
        if (!read_num(&p, &n))
            return false;
    }
    o->release[o->nrelease++] = n;
    while (*p == '.' && isdigit((unsigned char)p[1])) {
        p++;
        read_num(&p, &n);
        if (o->nrelease == PEP440_MAX_RELEASE)
            return false;
        o->release[o->nrelease++] = n;
    }
    /* Pre-release: [sep](a|b|c|rc|alpha|beta|pre|preview)[sep][N]. Longer
     * spellings first so "alpha" is not read as "a". */
    static const char *const pre_words[] = {"alpha", "beta", "preview", "pre", "rc",
                                            "a",     "b",    "c",       NULL};
    static const int pre_kinds[] = {1, 2, 3, 3, 3, 1, 2, 3};
    const char *s = p;
    if (is_sep(*s))
        s++;
    int w = match_word(&s, pre_words);
    if (w >= 0) {
        o->pre_kind = pre_kinds[w];
        o->pre = read_opt_num(&s);
        p = s;
    }
    /* Post release: [sep](post|rev|r)[sep][N], or "-N". */
    static const char *const post_words[] = {"post", "rev", "r", NULL};
    s = p;
    if (*s == '-' && isdigit((unsigned char)s[1])) {
        s++;
        read_num(&s, &o->post);
        o->has_post = true;
        p = s;
    } else {
        if (is_sep(*s))
            s++;
        if (match_word(&s, post_words) >= 0) {
            o->has_post = true;
            o->post = read_opt_num(&s);
            p = s;
        }
    }
    /* Development release: [sep]dev[sep][N]. */
    static const char *const dev_words[] = {"dev", NULL};
    s = p;
    if (is_sep(*s))
        s++;
    if (match_word(&s, dev_words) >= 0) {
        o->has_dev = true;
        o->dev = read_opt_num(&s);
        p = s;
    }
    /* Local version: +seg([-_.]seg)*, segments alphanumeric. */
    if (*p == '+') {
        p++;
        for (;;) {
            const char *start = p;
            bool digits = true;
            while (isalnum((unsigned char)*p)) {
                if (!isdigit((unsigned char)*p))
                    digits = false;
                p++;
            }
            if (p == start || o->nlocal == PEP440_MAX_LOCAL)
                return false;
            o->local[o->nlocal].is_num = digits;
            o->local[o->nlocal].s = start;
            o->local[o->nlocal].len = (size_t)(p - start);
            if (digits) {
                const char *q = start;
                read_num(&q, &o->local[o->nlocal].num);
            }
            o->nlocal++;
            if (!is_sep(*p))
                break;
            p++;
        }
    }
    while (isspace((unsigned char)*p))
        p++;
    return *p == '\0';
}

bool version_valid_pep440(const char *v)
{
    struct pep440 o;
    return pep440_parse(v, &o);
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

/* The pre-release key: a dev-only final version sorts below every
 * pre-release of it, a final version above them. */
static void pre_key(const struct pep440 *v, int *kind, uint64_t *num)
{
    if (v->pre_kind == 0 && !v->has_post && v->has_dev) {
        *kind = -1;
        *num = 0;
    } else if (v->pre_kind == 0) {
        *kind = 4;
        *num = 0;
    } else {
        *kind = v->pre_kind;
        *num = v->pre;
    }
}

static int local_cmp(const struct pep440 *a, const struct pep440 *b)
{
    int i;
    for (i = 0; i < a->nlocal && i < b->nlocal; i++) {
        const struct pep440_local *x = &a->local[i], *y = &b->local[i];
        if (x->is_num != y->is_num)
            return x->is_num ? 1 : -1; /* numbers sort after words */
        if (x->is_num) {
            int c = cmp_u64(x->num, y->num);
            if (c)
                return c;
            continue;
        }
        size_t n = x->len < y->len ? x->len : y->len;
        int c = strncasecmp(x->s, y->s, n);
        if (c)
            return c < 0 ? -1 : 1;
        if (x->len != y->len)
            return x->len < y->len ? -1 : 1;
    }
    return cmp_u64((uint64_t)a->nlocal, (uint64_t)b->nlocal);
}

int version_cmp_pep440(const char *a, const char *b)
{
    struct pep440 x, y;
    bool vx = pep440_parse(a, &x), vy = pep440_parse(b, &y);
    if (!vx || !vy) {
        if (vx != vy)
            return vx ? 1 : -1;
        int c = strcmp(a, b);
        return c < 0 ? -1 : c > 0;
    }
    int c = cmp_u64(x.epoch, y.epoch);
    if (c)
        return c;
    /* Release: trailing zeros do not count (1.0 == 1.0.0). */
    int n = x.nrelease > y.nrelease ? x.nrelease : y.nrelease;
    for (int i = 0; i < n; i++) {
        c = cmp_u64(i < x.nrelease ? x.release[i] : 0, i < y.nrelease ? y.release[i] : 0);
        if (c)
            return c;
    }
    int kx, ky;
    uint64_t nx, ny;
    pre_key(&x, &kx, &nx);
    pre_key(&y, &ky, &ny);
    if (kx != ky)
        return kx < ky ? -1 : 1;
    if ((c = cmp_u64(nx, ny)))
        return c;
    /* No post release sorts before any post release. */
    if (x.has_post != y.has_post)
        return x.has_post ? 1 : -1;
    if ((c = cmp_u64(x.post, y.post)))
        return c;
    /* No dev release sorts after any dev release. */
    if (x.has_dev != y.has_dev)
        return x.has_dev ? -1 : 1;
    if ((c = cmp_u64(x.dev, y.dev)))
        return c;
    return local_cmp(&x, &y);
}
