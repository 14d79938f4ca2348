/* How the parser cuts an instruction's text into words, each the way
 * BuildKit's parser does for that instruction: blank-separated words, words
 * that respect quotes (ENV/LABEL/ARG), JSON arrays, leading --flags; and the
 * "did you mean" suggestions for misspelt keywords and flags. */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile/expand.h"
#include "dockerfile/internal.h"
#include "util/arena.h"

static int blank(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Strings and arrays come from the arena a, or from malloc when a is NULL
 * (df_split_words, the public form). */
static char *dup_n(struct arena *a, const char *s, size_t n)
{
    return a ? arena_strndup(a, s, n) : xstrndup(s, n);
}

static void push(struct arena *a, char ***v, size_t *n, size_t *cap, char *s)
{
    if (*n + 1 >= *cap) { /* room for a NULL after the last */
        size_t ncap = *cap ? *cap * 2 : 4;
        *v = a ? arena_grow(a, *v, *n, ncap, sizeof(**v)) : xrealloc(*v, ncap * sizeof(**v));
        *cap = ncap;
    }
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

static size_t split_words(struct arena *a, const char *s, size_t len, char escape, char ***out)
{
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    struct strbuf w;
    strbuf_init(&w);
    int in_word = 0, blank_ok = 0;
    char quote = 0;
    for (size_t i = 0; i <= len; i++) {
        char c = s[i];
        if (i == len) {
            if (in_word && (blank_ok || w.len > 0))
                push(a, &v, &cnt, &cap, dup_n(a, w.buf, w.len));
            break;
        }
        if (!in_word) {
            if (blank((unsigned char)c))
                continue;
            in_word = 1;
        }
        if (quote == 0) {
            if (blank((unsigned char)c)) {
                if (blank_ok || w.len > 0)
                    push(a, &v, &cnt, &cap, dup_n(a, w.buf, w.len));
                strbuf_reset(&w);
                in_word = 0;
                blank_ok = 0;
                continue;
            }
            if (c == '\'' || c == '"') {
                quote = c;
                blank_ok = 1;
            } else if (c == escape) {
                if (i + 1 == len)
                    continue;
                strbuf_addc(&w, c);
                c = s[++i];
            }
            strbuf_addc(&w, c);
            continue;
        }
        if (c == quote) {
            quote = 0;
        } else if (c == escape && quote != '\'') {
            if (i + 1 == len) {
                quote = 0;
                continue;
            }
            strbuf_addc(&w, c);
            c = s[++i];
        }
        strbuf_addc(&w, c);
    }
    strbuf_release(&w);
    *out = v;
    return cnt;
}

int df_split_words(const char *s, char escape, char ***out, size_t *n)
{
    *n = split_words(NULL, s, strlen(s), escape, out);
    return 0;
}

size_t df_split_words_a(struct arena *a, const char *s, size_t len, char escape, char ***out)
{
    /* without quotes or escapes the words are the blank-separated ones */
    size_t i = 0;
    while (i < len && s[i] != '\'' && s[i] != '"' && s[i] != escape)
        i++;
    if (i == len)
        return df_split_blank(a, s, len, out);
    return split_words(a, s, len, escape, out);
}

size_t df_split_blank(struct arena *a, const char *s, size_t len, char ***out)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < len;) {
        if (blank((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && !blank((unsigned char)s[i]))
            i++;
        push(a, &v, &n, &cap, arena_strndup(a, s + start, i - start));
    }
    *out = v;
    return n;
}

int df_parse_json_list(struct arena *a, const char *s, size_t len, char ***out, size_t *n)
{
    size_t i = 0;
    while (i < len && blank((unsigned char)s[i]))
        i++;
    if (i == len || s[i] != '[')
        return 0;
    json_error_t jerr;
    json_t *j = json_loadb(s + i, len - i, 0, &jerr);
    if (j == NULL || !json_is_array(j)) {
        json_decref(j);
        return 0;
    }
    size_t cnt = json_array_size(j);
    for (size_t k = 0; k < cnt; k++) {
        if (!json_is_string(json_array_get(j, k))) {
            json_decref(j);
            return 0;
        }
    }
    char **v = arena_calloc(a, cnt + 1, sizeof(*v));
    for (size_t k = 0; k < cnt; k++) {
        json_t *e = json_array_get(j, k);
        v[k] = arena_strndup(a, json_string_value(e), json_string_length(e));
    }
    json_decref(j);
    *out = v;
    *n = cnt;
    return 1;
}

size_t df_extract_flags(struct arena *a, const char *s, size_t len, struct df_rawflag **out,
                        size_t *n)
{
    struct df_rawflag *v = NULL;
    size_t cnt = 0, cap = 0, i = 0;
    struct strbuf w;
    strbuf_init(&w);
    for (;;) {
        while (i < len && blank((unsigned char)s[i]))
            i++;
        if (i + 1 >= len || s[i] != '-' || s[i + 1] != '-')
            break;
        size_t start = i;
        char quote = 0;
        strbuf_reset(&w);
        for (; i < len; i++) {
            char c = s[i];
            if (quote == 0 && blank((unsigned char)c))
                break;
            if (quote == 0 && (c == '\'' || c == '"')) {
                quote = c;
                continue;
            }
            if (quote != 0 && c == quote) {
                quote = 0;
                continue;
            }
            if (c == '\\') {
                if (i + 1 == len)
                    continue;
                c = s[++i];
            }
            strbuf_addc(&w, c);
        }
        if (w.len == 2 && memcmp(w.buf, "--", 2) == 0) {
            while (i < len && blank((unsigned char)s[i]))
                i++;
            break;
        }
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            v = arena_grow(a, v, cnt, ncap, sizeof(*v));
            cap = ncap;
        }
        v[cnt].word = arena_strndup(a, w.buf, w.len);
        v[cnt].len = w.len;
        v[cnt].off = start;
        cnt++;
    }
    strbuf_release(&w);
    *out = v;
    *n = cnt;
    return i > len ? len : i;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 1000;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost =
                tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *df_suggest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = 1000;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    size_t len = strlen(word);
    size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    return best_d <= limit ? best : NULL;
}

/* BuildKit: ^[a-z][a-z0-9-_.]*$ once lower-cased. */
int df_valid_stage_name(const char *name)
{
    if (!islower((unsigned char)name[0]))
        return 0;
    for (const char *p = name; *p; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && !strchr("-_.", *p))
            return 0;
    return 1;
}
