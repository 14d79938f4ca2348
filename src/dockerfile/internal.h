/* Shared between the parser's files (parse.c, instr.c, words.c); not part of
 * the frontend's contract. */
#ifndef KILN_DOCKERFILE_INTERNAL_H
#define KILN_DOCKERFILE_INTERNAL_H

#include <stddef.h>

#include "dockerfile/dockerfile.h"
#include "dockerfile/expand.h"
#include "util/arena.h"
#include "util/strbuf.h"

/* A logical line: physical lines joined at continuations, with a map from
 * offsets in the joined text back to source positions. */
struct df_seg {
    size_t off;
    int line, col;
};

struct df_lline {
    struct strbuf text;
    struct df_seg *segs;
    size_t n_segs, cap_segs;
    int end_line;
};

struct df_pos df_lline_pos(const struct df_lline *ll, size_t off);

/* Parser state for one file. */
struct df_pctx {
    struct arena *a; /* owns everything the syntax tree holds */
    const char *file;
    char escape;
    struct kiln_error **err;
    struct df_warning *warnings;
    size_t n_warnings, cap_warnings;
    size_t args_off; /* set by df_instr_from_line: where the arguments start */
};

/* A zeroed dockerfile (or instruction) and the arena it owns, which
 * df_free (df_instr_free) releases with it. */
struct dockerfile *df_alloc(struct arena **a);
struct df_instr *df_instr_alloc(struct arena **a);

/* "FILE:LINE:COL: msg" as a KILN_E_INVALID error; returns -1. */
int df_perr(struct df_pctx *p, struct df_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void df_pwarn(struct df_pctx *p, const char *rule, struct df_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Builds one instruction from a logical line (keyword at offset kw_off).
 * Heredoc bodies are attached by the caller (df_instr_heredoc_names says
 * which it needs). */
int df_instr_from_line(struct df_pctx *p, const struct df_lline *ll, size_t kw_off,
                       struct df_instr *out);

/* The heredocs a RUN/COPY/ADD line opens, in order. */
struct df_heredoc_ref {
    char *name;
    int expand, chomp;
    size_t off; /* of "<<" in the line */
};
size_t df_find_heredocs(struct arena *a, enum df_kind kind, const char *rest,
                        struct df_heredoc_ref **out);

/* Word helpers (words.c); results are allocated from a. */
/* Whitespace-separated words of s[0..len), nothing special about quotes
 * (FROM, EXPOSE, shell-form COPY, ADD and VOLUME). */
size_t df_split_blank(struct arena *a, const char *s, size_t len, char ***out);
/* df_split_words (expand.h) into the arena. */
size_t df_split_words_a(struct arena *a, const char *s, size_t len, char escape, char ***out);
/* A JSON array of strings; 1 if s[0..len) is one (then out and n hold it), else 0. */
int df_parse_json_list(struct arena *a, const char *s, size_t len, char ***out, size_t *n);
/* Leading --flags of an instruction's arguments, BuildKit style: quotes
 * removed; returns the offset where the arguments start. */
struct df_rawflag {
    char *word; /* "--name=value" with quotes removed */
    size_t len;
    size_t off;
};
size_t df_extract_flags(struct arena *a, const char *s, size_t len, struct df_rawflag **out,
                        size_t *n);

/* The closest of candidates to word (case-insensitive edit distance), or
 * NULL when nothing is close. */
const char *df_suggest(const char *word, const char *const *candidates, size_t n);

int df_valid_stage_name(const char *name);

/* ${v#p} ${v##p} ${v%p} ${v%%p} (suffix: %, greedy: doubled) and ${v/p/r},
 * ${v//p/r} (glob.c). pat is the cleaned pattern; work is a step budget that
 * goes negative when exhausted (then the output is incomplete). */
void df_glob_trim(const char *value, const char *pat, size_t plen, int suffix, int greedy,
                  struct strbuf *out, long long *work);
void df_glob_replace(const char *value, const char *pat, size_t plen, const char *repl, int all,
                     struct strbuf *out, size_t max_out, long long *work);

/* Renderings of an (expanded) instruction (format.c), appended to sb. */
void df_step_text_add(struct strbuf *sb, const struct df_instr *ins);
void df_step_cache_text_add(struct strbuf *sb, const struct df_instr *ins);

/* df_expand_word and df_expand_heredoc (expand.h) appending to out. */
int df_expand_word_add(const struct df_expand_ctx *cx, const char *word, struct strbuf *out,
                       struct kiln_error **err);
int df_expand_heredoc_add(const struct df_expand_ctx *cx, const char *body, struct strbuf *out,
                          struct kiln_error **err);

#endif
