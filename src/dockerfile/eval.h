/* Build-time evaluation of a Dockerfile: which value each ARG and ENV has at
 * each step, and the expanded form of each instruction. The rules (BuildKit):
 *  - ARGs before the first FROM (global) are in scope for FROM lines only; a
 *    stage sees one only after redeclaring it ("ARG NAME" without a value
 *    takes the global's value).
 *  - --build-arg overrides the default of a declared ARG; an undeclared build
 *    arg is unused (reported) unless it is a predefined one.
 *  - Predefined ARGs usable without declaring them in RUN's environment:
 *    HTTP_PROXY http_proxy HTTPS_PROXY https_proxy FTP_PROXY ftp_proxy
 *    NO_PROXY no_proxy ALL_PROXY all_proxy (only when given as build args).
 *  - Automatic platform ARGs (need "ARG TARGETOS" etc. to be seen in a stage;
 *    global scope has them for FROM): TARGETPLATFORM TARGETOS TARGETARCH
 *    TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH BUILDVARIANT.
 *  - ENV beats ARG of the same name; within one instruction every variable
 *    keeps the value it had before the instruction. */
#ifndef KILN_DOCKERFILE_EVAL_H
#define KILN_DOCKERFILE_EVAL_H

#include <stddef.h>

#include "dockerfile/dockerfile.h"
#include "util/error.h"

struct df_platform {
    char *os;      /* "linux" */
    char *arch;    /* "amd64", "arm64" */
    char *variant; /* "v8", or "" */
};

/* "linux/amd64", "linux/arm64/v8", "linux/arm/v7"; normalised (aarch64 ->
 * arm64, x86_64 -> amd64, arm64 gets no default variant). */
int df_platform_parse(const char *s, struct df_platform *out, struct kiln_error **err);
/* The platform kiln runs on (linux/<machine>). */
void df_platform_host(struct df_platform *out);
/* "os/arch[/variant]", allocated. */
char *df_platform_format(const struct df_platform *p);
void df_platform_release(struct df_platform *p);

struct df_eval_opts {
    const char *const *build_args; /* "KEY=VALUE" strings */
    size_t n_build_args;
    const char *target_platform; /* NULL: the build platform */
    const char *build_platform;  /* NULL: the host's */
    int lint;                    /* lint mode: a FROM that expands to nothing (a base ARG without
                                    default, given only as a build arg) is a warning
                                    (InvalidDefaultArgInFrom), and the raw text stands in */
};

/* Receives each warning (e.g. an undefined variable in FROM) as it is found. */
typedef void (*df_warn_fn)(void *ud, const struct df_warning *w);

struct df_eval; /* a whole build: global ARGs, build args, what was used */

int df_eval_new(const struct dockerfile *df, const struct df_eval_opts *opts, struct df_eval **out,
                struct kiln_error **err);
void df_eval_free(struct df_eval *ev);
void df_eval_set_warn(struct df_eval *ev, df_warn_fn fn, void *ud);
const struct dockerfile *df_eval_dockerfile(const struct df_eval *ev);

/* FROM of stage i expanded with the global ARGs: base (image reference or
 * stage name), platform (NULL when no --platform). Allocated. */
int df_eval_from(struct df_eval *ev, size_t stage, char **base, char **platform,
                 struct kiln_error **err);
/* Build args given but never declared by an ARG in the stages evaluated so
 * far (nor predefined). Returns the count; *names is allocated (strings are
 * not: they point into the options). */
size_t df_eval_unused_args(const struct df_eval *ev, const char ***names);

/* One instruction expanded for execution. */
struct df_step {
    const struct df_instr *orig;
    struct df_instr *ins; /* expanded copy: args, kvs, flag values substituted
                             where the instruction expands; RUN/CMD/ENTRYPOINT
                             /SHELL/HEALTHCHECK unchanged, except RUN --mount */
    char *text;           /* one-line form of the expanded instruction, for plans */
    char *cache_text;     /* unambiguous form for cache keys: a JSON array of the
                             keyword, flags, args, KEY=VALUE pairs and heredoc
                             bodies (expanded where the instruction expands) */
    char **used_args;     /* "NAME=VALUE" of the build-time ARGs the step depends
                             on: those referenced, and for RUN every ARG in
                             scope (they are its environment); sorted */
    size_t n_used_args;
    char **run_env; /* RUN only: the process environment: ENV entries, then
                       ARGs in scope not shadowed by ENV, then the proxy
                       build args (which, as in docker, stay out of
                       used_args and so out of the cache key); "K=V" */
    size_t n_run_env;
};
void df_step_free(struct df_step *st);

struct df_scope; /* the ARG/ENV state while walking one stage */

/* Starts stage `stage`. base_env is the base image's ENV ("K=V"), or the
 * final ENV of the stage it is built FROM (see df_scope_env). */
int df_scope_new(struct df_eval *ev, size_t stage, const char *const *base_env, size_t n_base_env,
                 struct df_scope **out, struct kiln_error **err);
void df_scope_free(struct df_scope *sc);
/* Expands ins in the scope as it stands, then applies its effect (ARG
 * declares, ENV sets). Errors carry "FILE:LINE:COL:". */
int df_scope_step(struct df_scope *sc, const struct df_instr *ins, struct df_step **out,
                  struct kiln_error **err);
/* Lint: from now on, report each variable a step's expansion uses that
 * nothing defines (BuildKit's UndefinedVar: not an ENV, not an ARG declared
 * in the stage, with or without a value, not PATH) through the evaluator's
 * warning callback, once per step and name, at the step's position. RUN is
 * not checked (its shell expands). base_known: the base_env given to
 * df_scope_new is the base image's whole ENV; when 0 (not known), HOME and
 * HOSTNAME are assumed defined as well. */
void df_scope_check_undefined(struct df_scope *sc, int base_known);
/* The current ENV list ("K=V", image config order). Points into sc. */
size_t df_scope_env(const struct df_scope *sc, const char *const **env);
/* Current value of a variable (ENV, else ARG in scope), NULL if unset. */
const char *df_scope_get(const struct df_scope *sc, const char *name);

#endif
