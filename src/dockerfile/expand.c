/* Variable substitution for Dockerfile words, with the behaviour of
 * BuildKit's shell lexer: one pass over the word that removes quotes,
 * applies the escape character and substitutes $name / ${name...}. The word
 * splitter (for EXPOSE) splits at unquoted blanks, including blanks that
 * come from unquoted variable values. */
#include "dockerfile/expand.h"
#include "dockerfile/internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

#define MAX_NESTING 64
/* Guards against hostile input: no expansion grows past MAX_OUTPUT bytes,
 * and pattern operations stop after MAX_WORK matching steps. */
#define MAX_OUTPUT (1u << 20)
#define MAX_WORK   20000000LL
#define SB(sb)     ((sb).buf ? (sb).buf : "")

struct words {
    struct strbuf cur;
    int in_word;
    char **v;
    size_t n, cap;
};

struct lexer {
    const char *s;
    size_t i, n;
    const struct df_expand_ctx *cx;
    char esc;
    int skip_quotes; /* heredoc bodies: quotes are plain characters */
    int raw_escapes; /* keep the escape character itself (patterns) */
    int depth;
    long long work; /* matching steps left */
    struct kiln_error **err;
};

static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void words_flush(struct words *w)
{
    if (w->cur.len > 0) {
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4;
            w->v = xrealloc(w->v, w->cap * sizeof(*w->v));
        }
        w->v[w->n++] = strbuf_detach(&w->cur);
    }
    w->in_word = 0;
}

static void words_raw(struct words *w, const char *s, size_t len)
{
    if (w == NULL)
        return;
    strbuf_add(&w->cur, s, len);
    w->in_word = 1;
}

/* An unquoted character: blanks end the word. */
static void words_char(struct words *w, char c)
{
    if (w == NULL)
        return;
    if (is_blank((unsigned char)c)) {
        if (w->in_word)
            words_flush(w);
    } else {
        words_raw(w, &c, 1);
    }
}

static void words_string(struct words *w, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        words_char(w, s[i]);
}

static void words_release(struct words *w)
{
    strbuf_release(&w->cur);
    df_strv_free(w->v, w->n);
}

static int peek(const struct lexer *lx)
{
    return lx->i < lx->n ? (unsigned char)lx->s[lx->i] : -1;
}

static int next(struct lexer *lx)
{
    return lx->i < lx->n ? (unsigned char)lx->s[lx->i++] : -1;
}

static int fail(struct lexer *lx, const char *msg)
{
    return kiln_error_set(lx->err, KILN_E_INVALID, "%s", msg);
}

static int process_until(struct lexer *lx, int stop, int raw_escapes, struct strbuf *out,
                         struct words *w);

static int is_name_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_special_param(int c)
{
    switch (c) {
    case '@':
    case '*':
    case '#':
    case '?':
    case '-':
    case '$':
    case '!':
    case '0':
        return 1;
    default:
        return 0;
    }
}

/* A variable name, NUL-terminated: in buf when short (most are). */
struct name {
    char buf[64];
    char *p;
    size_t len;
};

static void name_release(struct name *n)
{
    if (n->p != n->buf)
        free(n->p);
}

/* The name after '$': a run of digits, one special parameter, or
 * letters/digits/underscores. May be empty. */
static void read_name(struct lexer *lx, struct name *name)
{
    size_t start = lx->i;
    int c = peek(lx);
    if (is_digit(c)) {
        while (is_digit(peek(lx)))
            next(lx);
    } else if (is_special_param(c)) {
        next(lx);
    } else {
        while (is_name_start(peek(lx)) || is_digit(peek(lx)))
            next(lx);
    }
    name->len = lx->i - start;
    name->p = name->len < sizeof(name->buf) ? name->buf : xmalloc(name->len + 1);
    memcpy(name->p, lx->s + start, name->len);
    name->p[name->len] = '\0';
}

static const char *lookup(const struct lexer *lx, const char *name)
{
    if (lx->cx->lookup == NULL)
        return NULL;
    return lx->cx->lookup(lx->cx->ud, name);
}

/* Turns the raw pattern text into the form glob.c understands: a
 * backslash before '}' or '/' only protected it from ${...} parsing. */
static int clean_pattern(struct lexer *lx, const char *raw, struct strbuf *pat)
{
    for (size_t i = 0; raw[i] != '\0'; i++) {
        if (raw[i] != '\\') {
            strbuf_addc(pat, raw[i]);
            continue;
        }
        char c = raw[i + 1];
        if (c == '}' || c == '/')
            continue;
        if (c != '*' && c != '?' && c != '\\')
            return kiln_error_set(lx->err, KILN_E_INVALID,
                                  "invalid pattern (%s) in substitution: invalid escape '\\%c'",
                                  raw, c ? c : ' ');
        strbuf_addc(pat, '\\');
        strbuf_addc(pat, c);
        i++;
    }
    return 0;
}

static int check_limits(struct lexer *lx, const struct strbuf *out)
{
    if (lx->work < 0)
        return fail(lx, "substitution pattern too costly to match (simplify the pattern)");
    if (out->len > MAX_OUTPUT)
        return kiln_error_set(lx->err, KILN_E_INVALID, "expansion longer than %u bytes",
                              MAX_OUTPUT);
    return 0;
}

static int process_dollar(struct lexer *lx, struct strbuf *out)
{
    __attribute__((cleanup(name_release))) struct name name = {.p = NULL};
    name.p = name.buf;
    next(lx); /* '$' */
    if (peek(lx) != '{') {
        read_name(lx, &name);
        if (name.len == 0) {
            strbuf_addc(out, '$');
            return 0;
        }
        const char *v = lookup(lx, name.p);
        strbuf_adds(out, v ? v : "");
        return 0;
    }
    next(lx); /* '{' */
    int c = peek(lx);
    if (c == -1)
        return fail(lx, "syntax error: missing '}'");
    if (c == '{' || c == '}' || c == ':')
        return fail(lx, "syntax error: bad substitution");
    read_name(lx, &name);
    c = next(lx);
    if (c == '}') {
        const char *v = lookup(lx, name.p);
        strbuf_adds(out, v ? v : "");
        return 0;
    }
    if (c == -1)
        return fail(lx, "syntax error: missing '}'");
    if (name.len == 0)
        return fail(lx, "syntax error: bad substitution");
    if (++lx->depth > MAX_NESTING)
        return fail(lx, "substitution nested too deeply");

    int null_is_unset = 0, op = c;
    if (c == ':') {
        null_is_unset = 1;
        op = next(lx);
    }
    cleanup_strbuf struct strbuf word = STRBUF_INIT;
    if (op == '/' && !null_is_unset) {
        int all = 0;
        if (peek(lx) == '/') {
            next(lx);
            all = 1;
        }
        cleanup_strbuf struct strbuf repl = STRBUF_INIT;
        if (process_until(lx, '/', 1, &word, NULL) < 0)
            return -1;
        if (process_until(lx, '}', 1, &repl, NULL) < 0)
            return -1;
        lx->depth--;
        cleanup_strbuf struct strbuf pat = STRBUF_INIT;
        if (clean_pattern(lx, SB(word), &pat) < 0)
            return -1;
        const char *v = lookup(lx, name.p);
        df_glob_replace(v ? v : "", SB(pat), pat.len, SB(repl), all, out, MAX_OUTPUT, &lx->work);
        return check_limits(lx, out);
    }
    if (op == -1 || strchr("+-?#%", op) == NULL) {
        if (op == -1)
            return fail(lx, "syntax error: missing '}'");
        return kiln_error_set(lx->err, KILN_E_INVALID,
                              "unsupported modifier (%s%c) in substitution",
                              null_is_unset ? ":" : "", op);
    }
    if (process_until(lx, '}', op == '#' || op == '%', &word, NULL) < 0)
        return -1;
    lx->depth--;
    const char *v = lookup(lx, name.p);
    int unset = v == NULL || (null_is_unset && v[0] == '\0');
    switch (op) {
    case '-':
        strbuf_adds(out, unset ? SB(word) : v);
        return 0;
    case '+':
        strbuf_adds(out, unset ? "" : SB(word));
        return 0;
    case '?':
        if (unset)
            return kiln_error_set(lx->err, KILN_E_INVALID, "%s: %s", name.p,
                                  word.len    ? SB(word)
                                  : v == NULL ? "is not allowed to be unset"
                                              : "is not allowed to be empty");
        strbuf_adds(out, v);
        return 0;
    default: { /* '#' or '%' */
        if (null_is_unset)
            return kiln_error_set(lx->err, KILN_E_INVALID,
                                  "unsupported modifier (:%c) in substitution", op);
        int greedy = word.len > 0 && word.buf[0] == op;
        cleanup_strbuf struct strbuf pat = STRBUF_INIT;
        if (clean_pattern(lx, SB(word) + greedy, &pat) < 0)
            return -1;
        df_glob_trim(v ? v : "", SB(pat), pat.len, op == '%', greedy, out, &lx->work);
        return check_limits(lx, out);
    }
    }
}

static int process_single_quote(struct lexer *lx, struct strbuf *out)
{
    next(lx);
    for (;;) {
        int c = next(lx);
        if (c == -1)
            return fail(lx, "unexpected end of statement while looking for matching single-quote");
        if (c == '\'')
            return 0;
        strbuf_addc(out, (char)c);
    }
}

static int process_double_quote(struct lexer *lx, struct strbuf *out)
{
    next(lx);
    for (;;) {
        int c = peek(lx);
        if (c == -1)
            return fail(lx, "unexpected end of statement while looking for matching double-quote");
        if (c == '"') {
            next(lx);
            return 0;
        }
        if (c == '$') {
            if (process_dollar(lx, out) < 0)
                return -1;
            continue;
        }
        next(lx);
        if (c == lx->esc) {
            if (lx->raw_escapes)
                strbuf_addc(out, (char)c);
            int d = peek(lx);
            if (d == -1)
                continue;
            if (d == '"' || d == '$' || d == lx->esc)
                c = next(lx);
        }
        strbuf_addc(out, (char)c);
    }
}

/* The main loop: up to the unquoted stop character (-1: end of input). */
static int process_until(struct lexer *lx, int stop, int raw_escapes, struct strbuf *out,
                         struct words *w)
{
    int saved_raw = lx->raw_escapes;
    lx->raw_escapes = raw_escapes;
    int r = 0;
    for (;;) {
        int c = peek(lx);
        if (c == -1)
            break;
        if (out->len > MAX_OUTPUT) {
            r = check_limits(lx, out);
            goto done;
        }
        if (stop != -1 && c == stop) {
            next(lx);
            goto done;
        }
        if (w == NULL) { /* a run of ordinary characters in one go */
            size_t j = lx->i;
            while (j < lx->n) {
                int ch = (unsigned char)lx->s[j];
                if (ch == '$' || ch == lx->esc || ch == stop ||
                    (!lx->skip_quotes && (ch == '\'' || ch == '"')))
                    break;
                j++;
            }
            if (j > lx->i) {
                strbuf_add(out, lx->s + lx->i, j - lx->i);
                lx->i = j;
                continue;
            }
        }
        if (c == '$' || (!lx->skip_quotes && (c == '\'' || c == '"'))) {
            size_t before = out->len;
            if (c == '$')
                r = process_dollar(lx, out);
            else if (c == '\'')
                r = process_single_quote(lx, out);
            else
                r = process_double_quote(lx, out);
            if (r < 0)
                goto done;
            if (c == '$')
                words_string(w, SB(*out) + before, out->len - before);
            else
                words_raw(w, SB(*out) + before, out->len - before);
            continue;
        }
        next(lx);
        if (c == lx->esc) {
            if (lx->raw_escapes) {
                words_raw(w, (const char *)&lx->s[lx->i - 1], 1);
                strbuf_addc(out, (char)c);
            }
            c = next(lx);
            if (c == -1)
                break;
            char ch = (char)c;
            words_raw(w, &ch, 1);
        } else {
            words_char(w, (char)c);
        }
        strbuf_addc(out, (char)c);
    }
    if (out->len > MAX_OUTPUT) {
        r = check_limits(lx, out);
        goto done;
    }
    if (stop != -1)
        r = kiln_error_set(
            lx->err, KILN_E_INVALID,
            stop == '}' ? "syntax error: missing '}'" : "syntax error: missing '%c' in ${}", stop);
done:
    lx->raw_escapes = saved_raw;
    return r;
}

static void lexer_init(struct lexer *lx, const struct df_expand_ctx *cx, const char *s,
                       struct kiln_error **err)
{
    memset(lx, 0, sizeof(*lx));
    lx->s = s;
    lx->n = strlen(s);
    lx->cx = cx;
    lx->esc = cx->escape ? cx->escape : '\\';
    lx->err = err;
    lx->work = MAX_WORK;
}

int df_expand_word_add(const struct df_expand_ctx *cx, const char *word, struct strbuf *out,
                       struct kiln_error **err)
{
    struct lexer lx;
    lexer_init(&lx, cx, word, err);
    if (process_until(&lx, -1, 0, out, NULL) < 0)
        return kiln_error_prefix(err, "failed to process \"%s\"", word);
    return 0;
}

int df_expand_word(const struct df_expand_ctx *cx, const char *word, char **out,
                   struct kiln_error **err)
{
    cleanup_strbuf struct strbuf sb = STRBUF_INIT;
    if (df_expand_word_add(cx, word, &sb, err) < 0)
        return -1;
    *out = strbuf_detach(&sb);
    return 0;
}

int df_expand_words(const struct df_expand_ctx *cx, const char *text, char ***out, size_t *n,
                    struct kiln_error **err)
{
    struct lexer lx;
    cleanup_strbuf struct strbuf sb = STRBUF_INIT;
    struct words w = {STRBUF_INIT, 0, NULL, 0, 0};
    lexer_init(&lx, cx, text, err);
    if (process_until(&lx, -1, 0, &sb, &w) < 0) {
        words_release(&w);
        return kiln_error_prefix(err, "failed to process \"%s\"", text);
    }
    words_flush(&w);
    strbuf_release(&w.cur);
    *out = w.v;
    *n = w.n;
    return 0;
}

int df_expand_heredoc_add(const struct df_expand_ctx *cx, const char *body, struct strbuf *out,
                          struct kiln_error **err)
{
    struct lexer lx;
    struct df_expand_ctx c = *cx;
    c.escape = '\\';
    lexer_init(&lx, &c, body, err);
    lx.skip_quotes = 1;
    if (process_until(&lx, -1, 0, out, NULL) < 0)
        return kiln_error_prefix(err, "heredoc");
    return 0;
}

int df_expand_heredoc(const struct df_expand_ctx *cx, const char *body, char **out,
                      struct kiln_error **err)
{
    cleanup_strbuf struct strbuf sb = STRBUF_INIT;
    if (df_expand_heredoc_add(cx, body, &sb, err) < 0)
        return -1;
    *out = strbuf_detach(&sb);
    return 0;
}

void df_strv_free(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}
