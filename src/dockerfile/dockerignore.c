/* .dockerignore patterns, with the semantics of moby's patternmatcher:
 * a pattern is cleaned like a path, then "*" is any run of non-'/', "?" one
 * non-'/' character, "[...]" a class, "**" any number of path components,
 * "\" escapes; a path is excluded when the last pattern that matches it or
 * one of its parents is not an exception. Patterns compile to a small NFA
 * over characters, so matching is linear and never backtracks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile/dockerignore.h"
#include "dockerfile/dockerignore_int.h"
#include "util/strbuf.h"

#define MAX_PATTERN 4096

enum tok_kind { T_LIT = 1, T_ONE, T_CLASS, T_STAR, T_DSTAR_SLASH, T_DSTAR_END };

struct range {
    uint32_t lo, hi;
};

struct tok {
    enum tok_kind kind;
    uint32_t ch;          /* T_LIT */
    struct range *ranges; /* T_CLASS */
    size_t n_ranges;
    int negate;
};

struct pattern {
    struct tok *toks;
    size_t n;
    int exception;
    char *text;         /* cleaned, without '!' */
    const char *suffix; /* patternmatcher quirk: "**lit" matches any path ending in lit */
};

struct dockerignore {
    struct pattern *p;
    size_t n;
    int has_exceptions;
};

/* One UTF-8 code point from s (lenient: a stray byte is itself). */
static uint32_t next_rune(const unsigned char **s)
{
    const unsigned char *p = *s;
    uint32_t c = p[0];
    int extra = c >= 0xf0 && c < 0xf8 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
    if (c < 0x80 || extra == 0) {
        *s = p + 1;
        return c;
    }
    uint32_t r = c & (0x3f >> extra);
    for (int i = 1; i <= extra; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            *s = p + 1;
            return c;
        }
        r = (r << 6) | (p[i] & 0x3f);
    }
    *s = p + extra + 1;
    return r;
}

/* Go's path.Clean. */
char *di_clean_path(const char *path)
{
    size_t n = strlen(path);
    int rooted = n > 0 && path[0] == '/';
    struct strbuf out = STRBUF_INIT;
    size_t *starts = xcalloc(n / 2 + 2, sizeof(size_t));
    size_t depth = 0, dotdot_base = 0;
    if (rooted)
        strbuf_addc(&out, '/');
    size_t base_len = out.len;
    for (size_t i = 0; i < n;) {
        while (i < n && path[i] == '/')
            i++;
        size_t s = i;
        while (i < n && path[i] != '/')
            i++;
        size_t l = i - s;
        if (l == 0 || (l == 1 && path[s] == '.'))
            continue;
        if (l == 2 && path[s] == '.' && path[s + 1] == '.') {
            if (depth > dotdot_base) {
                depth--;
                strbuf_setlen(&out, starts[depth]);
                if (out.len > base_len && out.buf[out.len - 1] == '/')
                    strbuf_setlen(&out, out.len - 1);
                continue;
            }
            if (rooted)
                continue;
            if (out.len > base_len)
                strbuf_addc(&out, '/');
            strbuf_adds(&out, "..");
            dotdot_base = ++depth;
            starts[depth - 1] = out.len;
            continue;
        }
        size_t before = out.len;
        if (out.len > base_len)
            strbuf_addc(&out, '/');
        starts[depth++] = before;
        strbuf_add(&out, path + s, l);
    }
    free(starts);
    if (out.len == 0)
        strbuf_addc(&out, '.');
    return strbuf_detach(&out);
}

static void pattern_release(struct pattern *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->toks[i].ranges);
    free(p->toks);
    free(p->text);
}

static struct tok *add_tok(struct pattern *p, enum tok_kind k)
{
    p->toks = xrealloc(p->toks, (p->n + 1) * sizeof(*p->toks));
    struct tok *t = &p->toks[p->n++];
    memset(t, 0, sizeof(*t));
    t->kind = k;
    return t;
}

/* "[...]" starting after '['; Go filepath.Match class syntax ('^' negates). */
static int parse_class(const unsigned char **s, struct tok *t)
{
    const unsigned char *p = *s;
    if (*p == '^') {
        t->negate = 1;
        p++;
    }
    size_t cap = 0;
    int first = 1;
    for (;;) {
        if (*p == '\0')
            return -1;
        if (*p == ']' && !first)
            break;
        first = 0;
        uint32_t lo, hi;
        if (*p == '\\') {
            p++;
            if (*p == '\0')
                return -1;
        }
        lo = next_rune(&p);
        hi = lo;
        if (*p == '-' && p[1] != ']') {
            p++;
            if (*p == '\\') {
                p++;
                if (*p == '\0')
                    return -1;
            }
            if (*p == '\0')
                return -1;
            hi = next_rune(&p);
            if (hi < lo)
                return -1;
        }
        if (t->n_ranges == cap) {
            cap = cap ? cap * 2 : 4;
            t->ranges = xrealloc(t->ranges, cap * sizeof(*t->ranges));
        }
        t->ranges[t->n_ranges++] = (struct range){lo, hi};
    }
    *s = p + 1;
    return 0;
}

static int compile(struct pattern *p, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    if (strncmp(text, "**", 2) == 0 && text[2] != '/' && text[2] != '\0' &&
        strpbrk(text + 2, "*?[]\\") == NULL)
        p->suffix = text + 2;
    while (*s) {
        if (*s == '*') {
            if (s[1] == '*') {
                s += 2;
                if (*s == '/')
                    s++;
                add_tok(p, *s == '\0' ? T_DSTAR_END : T_DSTAR_SLASH);
            } else {
                s++;
                add_tok(p, T_STAR);
            }
        } else if (*s == '?') {
            s++;
            add_tok(p, T_ONE);
        } else if (*s == '[') {
            s++;
            if (parse_class(&s, add_tok(p, T_CLASS)) < 0)
                return -1;
        } else {
            if (*s == '\\') {
                s++;
                if (*s == '\0')
                    return -1; /* Go: a trailing backslash is a bad pattern */
            }
            add_tok(p, T_LIT)->ch = next_rune(&s);
        }
    }
    return 0;
}

static int class_has(const struct tok *t, uint32_t c)
{
    int in = 0;
    for (size_t i = 0; i < t->n_ranges && !in; i++)
        in = c >= t->ranges[i].lo && c <= t->ranges[i].hi;
    return in != t->negate;
}

/* NFA simulation. States 2i (before token i) and 2i+1 (inside "**" of
 * token i, which must still end at a '/'). */
struct nfa {
    unsigned char *cur, *nxt;
    size_t n_states;
};

static void closure(const struct pattern *p, unsigned char *set)
{
    for (size_t i = 0; i < p->n; i++) {
        enum tok_kind k = p->toks[i].kind;
        if (set[2 * i] && (k == T_STAR || k == T_DSTAR_SLASH || k == T_DSTAR_END))
            set[2 * (i + 1)] = 1;
    }
}

static void step(const struct pattern *p, const unsigned char *cur, unsigned char *nxt, uint32_t c)
{
    memset(nxt, 0, 2 * (p->n + 1));
    for (size_t i = 0; i < p->n; i++) {
        const struct tok *t = &p->toks[i];
        if (cur[2 * i]) {
            switch (t->kind) {
            case T_LIT:
                if (c == t->ch)
                    nxt[2 * (i + 1)] = 1;
                break;
            case T_ONE:
                if (c != '/')
                    nxt[2 * (i + 1)] = 1;
                break;
            case T_CLASS:
                if (class_has(t, c))
                    nxt[2 * (i + 1)] = 1;
                break;
            case T_STAR:
                if (c != '/')
                    nxt[2 * i] = 1;
                break;
            case T_DSTAR_END:
                nxt[2 * i] = 1;
                break;
            case T_DSTAR_SLASH:
                nxt[2 * i + 1] = 1;
                if (c == '/')
                    nxt[2 * (i + 1)] = 1;
                break;
            }
        }
        if (cur[2 * i + 1] && t->kind == T_DSTAR_SLASH) {
            nxt[2 * i + 1] = 1;
            if (c == '/')
                nxt[2 * (i + 1)] = 1;
        }
    }
    closure(p, nxt);
}

/* Runs p over s[0..len). full: the whole of s matches. alive: some state
 * survives (s is a prefix of something p could match). parent (if not
 * NULL): some prefix of s ending just before a '/' matches. */
static void run(const struct pattern *p, const char *s, size_t len, int *full, int *alive,
                int *parent)
{
    size_t ns = 2 * (p->n + 1);
    unsigned char stack_a[256], stack_b[256];
    unsigned char *a = ns <= sizeof(stack_a) ? stack_a : xmalloc(ns);
    unsigned char *b = ns <= sizeof(stack_b) ? stack_b : xmalloc(ns);
    memset(a, 0, ns);
    a[0] = 1;
    closure(p, a);
    const unsigned char *q = (const unsigned char *)s, *end = q + len;
    int any = 1;
    if (parent)
        *parent = 0;
    while (q < end && any) {
        if (parent && *q == '/' && q > (const unsigned char *)s && a[2 * p->n]) {
            *parent = 1;
            break;
        }
        uint32_t c = next_rune(&q);
        step(p, a, b, c);
        unsigned char *t = a;
        a = b;
        b = t;
        any = memchr(a, 1, ns) != NULL;
    }
    *full = any && q >= end && a[2 * p->n];
    *alive = any && q >= end;
    if (a != stack_a && a != stack_b)
        free(a);
    if (b != stack_a && b != stack_b)
        free(b);
}

/* The pattern matches path or one of its parent directories. */
static int match_or_parent(const struct pattern *p, const char *path)
{
    size_t len = strlen(path);
    if (p->suffix != NULL) {
        size_t sl = strlen(p->suffix);
        for (size_t i = 0; i <= len; i++)
            if ((i == len || path[i] == '/') && i >= sl &&
                memcmp(path + i - sl, p->suffix, sl) == 0)
                return 1;
        return 0;
    }
    int full, alive, parent;
    run(p, path, len, &full, &alive, &parent);
    return full || parent;
}

int dockerignore_excluded(const struct dockerignore *di, const char *path)
{
    if (di == NULL || di->n == 0)
        return 0;
    char *clean = di_clean_path(path);
    const char *rel = clean;
    while (rel[0] == '/')
        rel++;
    int matched = 0;
    if (strcmp(rel, ".") != 0 && rel[0] != '\0') {
        for (size_t i = 0; i < di->n; i++) {
            const struct pattern *p = &di->p[i];
            if (p->exception != matched)
                continue;
            if (match_or_parent(p, rel))
                matched = !p->exception;
        }
    }
    free(clean);
    return matched;
}

int di_exception_may_match_below(const struct dockerignore *di, const char *dir)
{
    if (di == NULL || !di->has_exceptions)
        return 0;
    struct strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "%s/", dir);
    int r = 0;
    for (size_t i = 0; i < di->n && !r; i++) {
        if (!di->p[i].exception)
            continue;
        int full, alive;
        run(&di->p[i], sb.buf, sb.len, &full, &alive, NULL);
        r = alive || di->p[i].suffix != NULL;
    }
    strbuf_release(&sb);
    return r;
}

static int add_pattern(struct dockerignore *di, const char *raw, int line, struct kiln_error **err)
{
    const char *s = raw;
    int exception = 0;
    if (s[0] == '!') {
        exception = 1;
        s++;
        while (*s == ' ' || *s == '\t' || *s == '\v' || *s == '\f' || *s == '\r')
            s++;
        if (*s == '\0')
            return kiln_error_set(err, KILN_E_INVALID,
                                  "line %d: illegal exclusion pattern \"!\" (an exception needs a "
                                  "pattern)",
                                  line);
    }
    if (strlen(s) > MAX_PATTERN)
        return kiln_error_set(err, KILN_E_INVALID, "line %d: pattern longer than %d bytes", line,
                              MAX_PATTERN);
    char *clean = di_clean_path(s);
    if (strlen(clean) > 1 && clean[0] == '/')
        memmove(clean, clean + 1, strlen(clean));
    struct pattern p = {NULL, 0, exception, clean, NULL};
    if (compile(&p, clean) < 0) {
        kiln_error_set(err, KILN_E_INVALID, "line %d: syntax error in pattern \"%s\"", line, raw);
        pattern_release(&p);
        return -1;
    }
    di->p = xrealloc(di->p, (di->n + 1) * sizeof(*di->p));
    di->p[di->n++] = p;
    di->has_exceptions |= exception;
    return 0;
}

static char *trim(const char *s, size_t n)
{
    while (n > 0 && strchr(" \t\r\v\f", s[0])) {
        s++;
        n--;
    }
    while (n > 0 && strchr(" \t\r\v\f", s[n - 1]))
        n--;
    return xstrndup(s, n);
}

int dockerignore_parse(const char *data, size_t len, struct dockerignore **out,
                       struct kiln_error **err)
{
    struct dockerignore *di = xcalloc(1, sizeof(*di));
    size_t pos = 0;
    int line = 0;
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        pos = 3;
    while (pos < len) {
        const char *s = data + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + 1;
        line++;
        if (n > 0 && s[0] == '#')
            continue;
        if (memchr(s, '\0', n) != NULL) {
            dockerignore_free(di);
            return kiln_error_set(err, KILN_E_INVALID, "line %d: NUL byte in pattern", line);
        }
        char *pat = trim(s, n);
        int rc = pat[0] ? add_pattern(di, pat, line, err) : 0;
        free(pat);
        if (rc < 0) {
            dockerignore_free(di);
            return -1;
        }
    }
    *out = di;
    return 0;
}

int dockerignore_from_patterns(const char *const *patterns, size_t n, struct dockerignore **out,
                               struct kiln_error **err)
{
    struct dockerignore *di = xcalloc(1, sizeof(*di));
    for (size_t i = 0; i < n; i++) {
        char *pat = trim(patterns[i], strlen(patterns[i]));
        int rc = pat[0] ? add_pattern(di, pat, (int)i + 1, err) : 0;
        free(pat);
        if (rc < 0) {
            dockerignore_free(di);
            return -1;
        }
    }
    *out = di;
    return 0;
}

size_t dockerignore_count(const struct dockerignore *di)
{
    return di ? di->n : 0;
}

void dockerignore_free(struct dockerignore *di)
{
    if (di == NULL)
        return;
    for (size_t i = 0; i < di->n; i++)
        pattern_release(&di->p[i]);
    free(di->p);
    free(di);
}
