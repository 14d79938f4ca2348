/* Shell patterns for ${v#p}, ${v%p}, ${v/p/r} and friends: '*', '?' and
 * backslash escapes (no brackets, as in BuildKit), matched by an NFA so that
 * matching never backtracks; a step budget bounds the work on hostile
 * input. */
#include <stdlib.h>
#include <string.h>

#include "dockerfile/internal.h"

/* A pattern as tokens. */
struct glob {
    char *kind; /* 'l' literal, '?' any char, '*' any run */
    char *ch;
    size_t n;
};

static void glob_compile(const char *p, size_t plen, struct glob *g)
{
    g->kind = xmalloc(plen + 1);
    g->ch = xmalloc(plen + 1);
    g->n = 0;
    for (size_t i = 0; i < plen; i++) {
        char k = 'l', c = p[i];
        if (c == '\\' && i + 1 < plen)
            c = p[++i];
        else if (c == '*' || c == '?')
            k = c;
        g->kind[g->n] = k;
        g->ch[g->n++] = c;
    }
}

static void glob_release(struct glob *g)
{
    free(g->kind);
    free(g->ch);
}

/* Runs g over s (forward, or backward from s[len-1] with the tokens
 * reversed when rev). shortest and longest get the match lengths,
 * -1 when nothing matches. */
static void glob_run(const struct glob *g, const char *s, size_t len, int rev, long long *work,
                     long *shortest, long *longest)
{
    size_t n = g->n;
    unsigned char *cur = xcalloc(n + 1, 1), *nxt = xcalloc(n + 1, 1);
    *shortest = *longest = -1;
    cur[0] = 1;
    for (size_t k = 0;; k++) {
        int alive = 0;
        for (size_t j = 0; j < n; j++) /* "*" may match nothing */
            if (cur[j] && g->kind[rev ? n - 1 - j : j] == '*')
                cur[j + 1] = 1;
        for (size_t j = 0; j <= n; j++)
            alive |= cur[j];
        if (cur[n]) {
            if (*shortest < 0)
                *shortest = (long)k;
            *longest = (long)k;
        }
        *work -= (long long)n + 1;
        if (!alive || k == len || *work < 0)
            break;
        char c = rev ? s[len - 1 - k] : s[k];
        memset(nxt, 0, n + 1);
        for (size_t j = 0; j < n; j++) {
            if (!cur[j])
                continue;
            size_t t = rev ? n - 1 - j : j;
            if (g->kind[t] == '*')
                nxt[j] = 1;
            else if (g->kind[t] == '?' || g->ch[t] == c)
                nxt[j + 1] = 1;
        }
        unsigned char *tmp = cur;
        cur = nxt;
        nxt = tmp;
    }
    free(cur);
    free(nxt);
}

/* ${v#p} ${v##p} ${v%p} ${v%%p} */
void df_glob_trim(const char *value, const char *pat, size_t plen, int suffix, int greedy,
                  struct strbuf *out, long long *work)
{
    size_t n = strlen(value);
    struct glob g;
    long shortest, longest;
    glob_compile(pat, plen, &g);
    glob_run(&g, value, n, suffix, work, &shortest, &longest);
    glob_release(&g);
    long cut = greedy ? longest : shortest;
    if (cut < 0)
        strbuf_adds(out, value);
    else if (suffix)
        strbuf_add(out, value, n - (size_t)cut);
    else
        strbuf_adds(out, value + cut);
}

/* ${v/p/r} and ${v//p/r}: leftmost match, longest at that position. */
void df_glob_replace(const char *value, const char *pat, size_t plen, const char *repl, int all,
                     struct strbuf *out, size_t max_out, long long *work)
{
    size_t n = strlen(value), i = 0;
    int replaced = 0;
    size_t last_end = (size_t)-1;
    struct glob g;
    glob_compile(pat, plen, &g);
    while (i <= n && *work >= 0 && out->len <= max_out) {
        long shortest, found = -1;
        if (!replaced || all)
            glob_run(&g, value + i, n - i, 0, work, &shortest, &found);
        if (found >= 0 && !(found == 0 && last_end == i)) {
            strbuf_adds(out, repl);
            replaced = 1;
            if (found > 0) {
                i += (size_t)found;
                last_end = i;
                continue;
            }
        }
        if (i < n)
            strbuf_addc(out, value[i]);
        i++;
    }
    glob_release(&g);
}
