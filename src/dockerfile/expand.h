/* Variable substitution in Dockerfile words, after BuildKit's shell lexer:
 * $v ${v} ${v:-w} ${v-w} ${v:+w} ${v+w} ${v:?w} ${v?w} ${v#p} ${v##p}
 * ${v%p} ${v%%p} ${v/p/r} ${v//p/r}, single and double quotes, and the
 * active escape character (\$ keeps a literal dollar). Pure: values come from
 * a lookup callback, so the caller can also record which names were used. */
#ifndef KILN_DOCKERFILE_EXPAND_H
#define KILN_DOCKERFILE_EXPAND_H

#include <stddef.h>

#include "util/error.h"

/* The value of name, or NULL when it is not set (set-but-empty is ""). */
typedef const char *(*df_lookup_fn)(void *ud, const char *name);

struct df_expand_ctx {
    char escape;         /* '\\' or '`' (the Dockerfile's escape directive) */
    df_lookup_fn lookup; /* NULL: every variable is unset */
    void *ud;
};

/* One word in, one word out: quotes removed, variables substituted, no
 * splitting (ENV, LABEL, ARG, WORKDIR, USER, STOPSIGNAL, VOLUME, COPY/ADD
 * sources, dest and flags, FROM). Errors (KILN_E_INVALID) for ${v:?msg} with
 * v unset or empty, bad substitution syntax, an unterminated quote or ${. */
int df_expand_word(const struct df_expand_ctx *cx, const char *word, char **out,
                   struct kiln_error **err);
/* Like df_expand_word but splits the result into words at unquoted blanks,
 * including blanks that come from unquoted variable values (EXPOSE). *out is
 * an allocated array of *n allocated strings (free with df_strv_free). */
int df_expand_words(const struct df_expand_ctx *cx, const char *text, char ***out, size_t *n,
                    struct kiln_error **err);
/* Heredoc bodies of COPY/ADD with an unquoted delimiter: variables are
 * substituted and escapes processed, but quotes are ordinary characters. */
int df_expand_heredoc(const struct df_expand_ctx *cx, const char *body, char **out,
                      struct kiln_error **err);

/* Splits raw text into words at unquoted blanks, keeping quotes and escapes
 * as written (the parser's view of "KEY=VALUE" lists and ARG names). */
int df_split_words(const char *text, char escape, char ***out, size_t *n);

void df_strv_free(char **v, size_t n);

#endif
