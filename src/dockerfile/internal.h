/* Shared between the parser's files (parse.c, instr.c, words.c); not part of
 * the frontend's contract. */
#ifndef KILN_DOCKERFILE_INTERNAL_H
#define KILN_DOCKERFILE_INTERNAL_H

#include <stddef.h>

#include "dockerfile/dockerfile.h"
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
    const char *file;
    char escape;
    struct kiln_error **err;
    struct df_warning *warnings;
    size_t n_warnings, cap_warnings;
};

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
void df_instr_release(struct df_instr *ins);
int df_instr_copy(const struct df_instr *in, struct df_instr *out);

/* The heredocs a RUN/COPY/ADD line opens, in order. */
struct df_heredoc_ref {
    char *name;
    int expand, chomp;
    size_t off; /* of "<<" in the line */
};
size_t df_find_heredocs(enum df_kind kind, const char *rest, char escape,
                        struct df_heredoc_ref **out);

/* Word helpers (words.c). */
/* Whitespace-separated words, nothing special about quotes (FROM, EXPOSE,
 * shell-form COPY, ADD and VOLUME). offs (if not NULL) gets each word's offset. */
size_t df_split_blank(const char *s, char ***out, size_t **offs);
/* A JSON array of strings; 1 if s is one (then out and n hold it), else 0. */
int df_parse_json_list(const char *s, char ***out, size_t *n);
/* Leading --flags of an instruction's arguments, BuildKit style: quotes
 * removed; returns the offset where the arguments start. */
struct df_rawflag {
    char *word; /* "--name=value" with quotes removed */
    size_t off;
};
size_t df_extract_flags(const char *s, struct df_rawflag **out, size_t *n);

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

/* Renderings of an (expanded) instruction (format.c). */
char *df_step_text(const struct df_instr *ins);
char *df_step_cache_text(const struct df_instr *ins);

#endif
