/* The Dockerfile syntax tree: what df_parse() makes of a Dockerfile's bytes.
 * Follows BuildKit's Dockerfile reference (syntax 1.x). Nothing here is
 * expanded: words keep their quotes and $variables; expand.h and eval.h turn
 * an instruction into its expanded form for a given environment. */
#ifndef KILN_DOCKERFILE_DOCKERFILE_H
#define KILN_DOCKERFILE_DOCKERFILE_H

#include <stddef.h>

#include "util/error.h"

enum df_kind {
    DF_FROM = 1,
    DF_RUN,
    DF_CMD,
    DF_LABEL,
    DF_MAINTAINER,
    DF_EXPOSE,
    DF_ENV,
    DF_ADD,
    DF_COPY,
    DF_ENTRYPOINT,
    DF_VOLUME,
    DF_USER,
    DF_WORKDIR,
    DF_ARG,
    DF_ONBUILD,
    DF_STOPSIGNAL,
    DF_HEALTHCHECK,
    DF_SHELL,
};

/* 1-based line and column (columns count bytes). */
struct df_pos {
    int line;
    int col;
};

/* A "--name=value" (or bare "--name") flag written before the arguments. */
struct df_flag {
    char *name;  /* without the dashes: "chown" */
    char *value; /* text after '=' with quotes removed (not expanded); NULL for "--link" */
    struct df_pos pos;
};

/* A heredoc body attached to RUN, COPY or ADD. */
struct df_heredoc {
    char *name;        /* delimiter, quotes removed: "EOF" */
    char *content;     /* body, each line ending in '\n'; for <<- leading tabs removed */
    int expand;        /* 0 when the delimiter was quoted ('EOF' or "EOF") */
    int chomp;         /* 1 for <<- */
    struct df_pos pos; /* of the "<<" */
};

/* KEY=VALUE of ENV, LABEL and ARG. Raw: quotes and $variables kept. */
struct df_kv {
    char *key;
    char *value;   /* "" when has_value is 0 */
    int has_value; /* ARG NAME without a default has 0 */
    struct df_pos pos;
};

/* One instruction. Which fields are used depends on kind:
 *  FROM         args = [image] or [image, "AS", name]; flags: platform
 *  RUN CMD ENTRYPOINT SHELL
 *               json: args = the JSON array's strings;
 *               shell form: args = [the command text, continuations joined]
 *  COPY ADD VOLUME
 *               args = words (or JSON strings when json); COPY/ADD: last is dest;
 *               a source "<<EOF" names heredocs[i]
 *  EXPOSE       args = words
 *  ENV LABEL ARG kvs
 *  USER WORKDIR STOPSIGNAL MAINTAINER
 *               args = [the rest of the line]
 *  HEALTHCHECK  args = ["NONE"], or sub = the CMD instruction; flags: interval,
 *               timeout, start-period, start-interval, retries
 *  ONBUILD      sub = the wrapped instruction
 * Flags were checked against the instruction's known flags when parsing. */
struct df_instr {
    enum df_kind kind;
    char *keyword;     /* canonical upper case: "RUN" */
    struct df_pos pos; /* of the keyword */
    int end_line;      /* last source line, heredoc bodies included */
    char *original;    /* the whole instruction as written, continuation lines joined */
    struct df_flag *flags;
    size_t n_flags;
    int json; /* exec form */
    char **args;
    size_t n_args;
    struct df_kv *kvs;
    size_t n_kvs;
    struct df_heredoc *heredocs;
    size_t n_heredocs;
    struct df_instr *sub; /* ONBUILD and HEALTHCHECK CMD */
    int legacy_kv;        /* ENV/LABEL written "KEY value" (one pair, no '=') */
};

/* A build stage: FROM and the instructions up to the next FROM. */
struct df_stage {
    size_t index;
    char *name;     /* "AS name" lower-cased, or NULL */
    char *base;     /* FROM's image word, raw (may hold $ARGs) */
    char *platform; /* raw --platform value, or NULL */
    struct df_instr *from;
    struct df_instr *instrs; /* after FROM */
    size_t n_instrs;
};

/* A lint finding. Rule names follow BuildKit's checks (e.g.
 * "MaintainerDeprecated", "JSONArgsRecommended", "StageNameCasing"). */
struct df_warning {
    char *rule;
    char *msg; /* without the position */
    struct df_pos pos;
};

struct dockerfile {
    char *file;                 /* name used in messages: "Dockerfile" */
    char escape;                /* '\\' or '`' */
    char *syntax;               /* "# syntax=" directive, or NULL */
    char *check;                /* "# check=" directive, or NULL */
    struct df_instr *meta_args; /* ARGs before the first FROM */
    size_t n_meta_args;
    struct df_stage *stages;
    size_t n_stages;
    struct df_warning *warnings;
    size_t n_warnings;
};

/* Parses a Dockerfile. file names it in messages. A malformed file fails
 * with KILN_E_INVALID and "FILE:LINE:COL: what is wrong" (with a suggestion
 * where one helps). Warnings (deprecated or doubtful constructs) are collected
 * in (*out)->warnings. Never crashes or hangs on any input. */
int df_parse(const char *data, size_t len, const char *file, struct dockerfile **out,
             struct kiln_error **err);
/* Reads and parses path; messages use path's base name. */
int df_parse_file(const char *path, struct dockerfile **out, struct kiln_error **err);
/* Parses one instruction written on its own, e.g. an ONBUILD trigger taken
 * from a base image's config. what names it in messages. */
int df_parse_instr(const char *text, char escape, const char *what, struct df_instr **out,
                   struct kiln_error **err);
void df_free(struct dockerfile *df);
void df_instr_free(struct df_instr *ins); /* for df_parse_instr's result */

/* "RUN" for DF_RUN. */
const char *df_kind_name(enum df_kind kind);
/* The last value of --name (raw), "" for a bare flag, NULL when absent. */
const char *df_instr_flag(const struct df_instr *ins, const char *name);
/* A boolean flag (--link, --parents, --keep-git-dir): 1 when given bare or
 * as =true (any case), 0 when absent or =false. */
int df_instr_flag_bool(const struct df_instr *ins, const char *name);
/* The shell text of a shell-form RUN with heredocs, as BuildKit hands it to
 * the shell: the command line, then each heredoc body followed by its
 * delimiter line ("cat <<EOF >/f\nbody\nEOF\n"). Without heredocs: the
 * command as is. Allocated; NULL for exec form. */
char *df_run_script(const struct df_instr *ins);
/* All values of a repeatable flag (--mount, --exclude), in order. Returns the
 * count; *vals points into ins (free only the array). */
size_t df_instr_flag_all(const struct df_instr *ins, const char *name, const char ***vals);
/* A Go-style duration ("30s", "1m30s", "250ms", "0") in nanoseconds, as
 * HEALTHCHECK's flags take them. -1 when malformed. */
int df_parse_duration(const char *s, long long *ns);
/* Stage by name (case-insensitive) or decimal index; NULL when none. */
const struct df_stage *df_find_stage(const struct dockerfile *df, const char *name_or_index);

#endif
