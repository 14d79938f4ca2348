/* The UndefinedVar lint check (df_lint_steps + df_scope_check_undefined):
 * which variable uses are reported, on which line, with which suggestion,
 * and how the base image's ENV (known from a lookup, inherited from a stage,
 * unknown) counts. Each vector is a Dockerfile and the findings expected,
 * "LINE:NAME" (or "LINE:NAME>SUGGESTION"), in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile/dockerfile.h"
#include "dockerfile/eval.h"
#include "dockerfile/expand.h"
#include "dockerfile/graph.h"
#include "dockerfile/lint.h"
#include "tap.h"
#include "util/strbuf.h"

static void on_warn(void *ud, const struct df_warning *w)
{
    struct strbuf *sb = ud;
    if (strcmp(w->rule, "UndefinedVar") != 0)
        return;
    /* "Usage of undefined variable '$X' (did you mean $Y?)" -> "L:X>Y" */
    const char *name = strstr(w->msg, "'$");
    const char *sug = strstr(w->msg, "did you mean $");
    if (sb->len)
        strbuf_addc(sb, ' ');
    strbuf_addf(sb, "%d:", w->pos.line);
    if (name)
        strbuf_add(sb, name + 2, strcspn(name + 2, "'"));
    if (sug) {
        strbuf_addc(sb, '>');
        strbuf_add(sb, sug + 14, strcspn(sug + 14, "?"));
    }
}

/* Image ENV "from the store": python:3 and debian are known, others not. */
static int fake_image_env(void *ud, const char *image, char ***env, size_t *n)
{
    (void)ud;
    static const char *const python[] = {"PATH=/usr/local/bin:/usr/bin", "LANG=C.UTF-8",
                                         "PYTHON_VERSION=3.12.1"};
    static const char *const debian[] = {"PATH=/usr/bin:/bin"};
    const char *const *src;
    size_t cnt;
    if (strcmp(image, "python:3") == 0) {
        src = python;
        cnt = 3;
    } else if (strcmp(image, "debian") == 0) {
        src = debian;
        cnt = 1;
    } else {
        return 0;
    }
    *env = xcalloc(cnt + 1, sizeof(char *));
    for (size_t i = 0; i < cnt; i++)
        (*env)[i] = xstrdup(src[i]);
    *n = cnt;
    return 1;
}

/* The findings for src ("" when none; "error: ..." when it fails). */
static char *findings(const char *src, const char *build_arg)
{
    struct strbuf sb = STRBUF_INIT;
    struct dockerfile *df = NULL;
    struct df_eval *ev = NULL;
    struct df_graph *g = NULL;
    struct kiln_error *err = NULL;
    const char *args[] = {build_arg};
    struct df_eval_opts o = {.build_args = args,
                             .n_build_args = build_arg ? 1 : 0,
                             .build_platform = "linux/amd64",
                             .lint = 1};
    if (df_parse(src, strlen(src), "Dockerfile", &df, &err) < 0 ||
        df_eval_new(df, &o, &ev, &err) < 0)
        goto out;
    df_eval_set_warn(ev, on_warn, &sb);
    if (df_graph_build(ev, NULL, &g, &err) < 0)
        goto out;
    df_lint_steps(ev, g, fake_image_env, NULL, &err);
out:
    if (err != NULL) {
        strbuf_reset(&sb);
        strbuf_addf(&sb, "error: %s", err->msg);
        kiln_error_free(err);
    }
    df_graph_free(g);
    df_eval_free(ev);
    df_free(df);
    strbuf_addc(&sb, '\0');
    return strbuf_detach(&sb);
}

static void vec(const char *src, const char *want, const char *what)
{
    char *got = findings(src, NULL);
    is_str(got, want, "%s", what);
    free(got);
}

int main(void)
{
    /* definitions that count */
    vec("FROM debian\nARG foo=1\nCOPY $foo /x\n", "", "ARG with a value");
    vec("FROM debian\nARG foo\nCOPY $foo /x\n", "", "ARG without a value is declared");
    vec("FROM debian\nENV foo=1\nCOPY ${foo} /x\n", "", "ENV set earlier");
    vec("FROM python:3\nARG V=$PYTHON_VERSION\nCOPY x /$LANG\n", "", "the base image's ENV");
    vec("FROM debian\nWORKDIR $PATH\n", "", "PATH is always there");
    vec("FROM debian\nCOPY x /${BUILDKIT_SBOM_SCAN_STAGE}\n", "", "BuildKit's SBOM args");
    vec("FROM debian AS a\nENV A=1\nFROM a\nCOPY x /$A\n", "",
        "ENV of the stage built FROM counts");
    vec("FROM debian\nRUN echo $nope ${nope2}\nCMD echo $nope\nENTRYPOINT [\"$nope\"]\n", "",
        "RUN, CMD, ENTRYPOINT are not checked (the shell expands)");
    vec("FROM debian\nRUN --mount=type=cache,target=/$nope true\n", "",
        "RUN --mount is not checked");
    vec("FROM debian\nCOPY <<'EOF' /x\n$nope\nEOF\n", "", "quoted heredoc: no expansion");
    vec("FROM debian\nCOPY \\$nope '$nope2' /x\n", "", "escaped and single-quoted dollars");
    vec("# check=skip=UndefinedVar\nFROM debian\nCOPY $foo /x\n", "3:foo",
        "the library reports; skipping is the caller's (kiln lint filters)");

    /* uses that are reported */
    vec("FROM alpine AS base\nCOPY $foo .\n", "2:foo", "BuildKit's example: undeclared");
    vec("FROM debian\nARG VERSION=$foo\n", "2:foo", "undefined in an ARG default");
    vec("FROM debian\nENV A=1 B=$A\n", "2:A", "same ENV line: A is not yet set");
    vec("FROM debian\nENV A=1\nENV B=$A\n", "", "earlier ENV line: A is set");
    vec("FROM debian\nARG A=1 B=$A\n", "2:A", "same ARG line: A is not yet declared");
    vec("ARG G=1\nFROM debian\nCOPY x /$G\n", "3:G", "global ARG not redeclared in the stage");
    vec("ARG G=1\nFROM debian\nARG G\nCOPY x /$G\n", "", "global ARG redeclared");
    vec("FROM debian AS a\nARG A=1\nFROM a\nCOPY x /$A\n", "4:A",
        "ARGs do not carry into a stage built FROM it");
    vec("FROM debian\nLABEL a=${x:-default} b=${y-d} c=${z:+alt}\n", "2:x 2:y 2:z",
        "default forms too (BuildKit's lexer records the miss before applying the default)");
    vec("FROM debian\nENV P=$PAHT:/x\n", "2:PAHT>PATH", "suggestion for a typo");
    vec("FROM debian\nARG version=1\nCOPY x /$versoin\n", "3:versoin>version",
        "suggestion from the stage's ARGs");
    vec("FROM debian\nCOPY $a $a /$b\n", "2:a 2:b", "each name once per instruction");
    vec("FROM debian\nWORKDIR /w\nUSER $u\nVOLUME $v\nSTOPSIGNAL $s\nEXPOSE $e\nLABEL $l=1\n",
        "3:u 4:v 5:s 6:e 7:l", "USER VOLUME STOPSIGNAL EXPOSE LABEL key");
    vec("FROM debian\nCOPY --chown=$owner x /y\n", "2:owner", "COPY flags");
    vec("FROM debian\nCOPY <<EOF /x\n$inbody\nEOF\n", "2:inbody", "unquoted heredoc body");
    vec("FROM debian\nCOPY x \\\n  /$y\n", "2:y", "position is the instruction's first line");
    vec("FROM debian\nARG TARGETARCH\nCOPY x-$TARGETARCH /$TARGETOS\n", "3:TARGETOS",
        "automatic platform ARGs count once declared (as in BuildKit)");

    /* base image ENV unknown vs known */
    vec("FROM unknown/image\nWORKDIR $HOME/app\n", "", "unknown base: HOME assumed");
    vec("FROM debian\nWORKDIR $HOME/app\n", "2:HOME",
        "known base without HOME: reported (BuildKit does too)");
    vec("FROM scratch\nCOPY x /$HOME\n", "2:HOME", "scratch has only PATH");
    vec("FROM unknown/image\nCOPY x /$PYTHON_VERSION\n", "2:PYTHON_VERSION",
        "unknown base: only its own definitions count");
    vec("FROM unknown/image AS a\nFROM a\nWORKDIR $HOME\n", "",
        "unknown stays unknown through a stage");

    /* errors still stop */
    vec("FROM debian\nCOPY ${x:?required} /y\n",
        "error: Dockerfile:2:1: failed to process \"${x:?required}\": x: required",
        "${x:?} unset is an error, not a warning");
    char *got = findings("FROM debian\nARG foo\nCOPY $foo /x\n", "foo=1");
    is_str(got, "", "build arg given");
    free(got);
    return done_testing();
}
