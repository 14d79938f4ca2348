/* Finding the heredocs an instruction opens: "<<EOF", "<<-EOF", quoted
 * delimiters ("<<'EOF'", "<<\"EOF\"") that turn expansion off, several per
 * line. A "<<" inside quotes, or "<<<" (a here-string), opens nothing. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile/internal.h"

static int blank(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Shell operators that end a word in RUN (and "<>" a delimiter). */
static int shell_op(char c, int redirect_too)
{
    switch (c) {
    case ';':
    case '|':
    case '&':
    case '(':
    case ')':
        return 1;
    case '<':
    case '>':
        return redirect_too;
    default:
        return 0;
    }
}

/* Reads the delimiter word at s[*i]; returns it (quotes removed) or NULL. */
static char *delimiter(struct arena *a, const char *s, size_t *i, int shell, int *quoted)
{
    struct strbuf w = STRBUF_INIT;
    *quoted = 0;
    while (s[*i] && !blank((unsigned char)s[*i])) {
        char c = s[*i];
        if (shell && shell_op(c, 1))
            break;
        if (c == '\'' || c == '"') {
            *quoted = 1;
            size_t j = *i + 1;
            while (s[j] && s[j] != c) {
                if (c == '"' && s[j] == '\\' && s[j + 1])
                    j++;
                strbuf_addc(&w, s[j]);
                j++;
            }
            *i = s[j] ? j + 1 : j;
            continue;
        }
        if (c == '\\' && s[*i + 1]) {
            (*i)++;
            c = s[*i];
        }
        strbuf_addc(&w, c);
        (*i)++;
    }
    char *name = w.len ? arena_strndup(a, w.buf, w.len) : NULL;
    strbuf_release(&w);
    return name;
}

size_t df_find_heredocs(struct arena *a, enum df_kind kind, const char *s,
                        struct df_heredoc_ref **out)
{
    struct df_heredoc_ref *v = NULL;
    size_t n = 0, cap = 0;
    int shell = kind == DF_RUN;
    char quote = 0;
    int word_start = 1;
    *out = NULL;
    if (kind != DF_RUN && kind != DF_COPY && kind != DF_ADD)
        return 0;
    if (strstr(s, "<<") == NULL) /* the common case, without the walk below */
        return 0;
    for (size_t i = 0; s[i];) {
        char c = s[i];
        if (quote) {
            if (c == '\\' && quote == '"' && s[i + 1])
                i++;
            else if (c == quote)
                quote = 0;
            i++;
            continue;
        }
        if (blank((unsigned char)c) || (shell && shell_op(c, 0))) {
            word_start = 1;
            i++;
            continue;
        }
        if (word_start) {
            size_t j = i;
            while (isdigit((unsigned char)s[j]))
                j++;
            if (s[j] == '<' && s[j + 1] == '<' && s[j + 2] != '<') {
                size_t at = j;
                j += 2;
                int chomp = 0;
                if (s[j] == '-') {
                    chomp = 1;
                    j++;
                }
                int quoted;
                char *name = delimiter(a, s, &j, shell, &quoted);
                if (name != NULL) {
                    if (n == cap) {
                        cap = cap ? cap * 2 : 2;
                        v = arena_grow(a, v, n, cap, sizeof(*v));
                    }
                    v[n++] = (struct df_heredoc_ref){name, !quoted, chomp, at};
                    i = j;
                    word_start = 0;
                    continue;
                }
            }
        }
        word_start = 0;
        if (c == '\'' || c == '"')
            quote = c;
        else if (c == '\\' && s[i + 1])
            i++;
        i++;
    }
    *out = v;
    return n;
}
