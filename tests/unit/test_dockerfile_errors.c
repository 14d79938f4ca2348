/* Every parse error, with its exact "FILE:LINE:COL: message". */
#include <stdlib.h>
#include <string.h>

#include "dockerfile/dockerfile.h"
#include "tap.h"

static void err_is(const char *src, size_t len, const char *want)
{
    struct dockerfile *df = NULL;
    struct kiln_error *err = NULL;
    int r = df_parse(src, len, "Dockerfile", &df, &err);
    ok(r < 0 && err != NULL && err->code == KILN_E_INVALID, "rejected: %s", want);
    is_str(err ? err->msg : NULL, want, "message");
    df_free(df);
    kiln_error_free(err);
}

#define ERR(src, want) err_is(src, strlen(src), want)

int main(void)
{
    ERR("FROM x\nRUNN echo\n", "Dockerfile:2:1: unknown instruction \"RUNN\" (did you mean RUN?)");
    ERR("FROM x\n  cpoy a b\n",
        "Dockerfile:2:3: unknown instruction \"cpoy\" (did you mean COPY?)");
    ERR("FROM x\nFOOBAR y\n", "Dockerfile:2:1: unknown instruction \"FOOBAR\"");
    ERR("FROM x\nCOPY --chwon=1 a b\n",
        "Dockerfile:2:6: unknown flag --chwon for COPY (did you mean --chown?)");
    ERR("FROM x\nRUN --mount=type=cache,target=/x --netwrk=none make\n",
        "Dockerfile:2:34: unknown flag --netwrk for RUN (did you mean --network?)");
    ERR("FROM x\nWORKDIR --foo=1 /x\n", "Dockerfile:2:9: unknown flag --foo for WORKDIR");
    ERR("FROM x\nCOPY --from a b\n",
        "Dockerfile:2:6: missing a value on flag --from for COPY (use --from=VALUE)");
    ERR("FROM x\nCOPY --link=maybe a b\n",
        "Dockerfile:2:6: expecting boolean value for flag --link, not: maybe");
    ERR("FROM x\nCOPY --from=a --from=b x y\n",
        "Dockerfile:2:15: duplicate flag specified: --from");
    ERR("FROM x\n\nRUN <<EOF\necho hi\n", "Dockerfile:3:5: unterminated heredoc <<EOF started at "
                                          "line 3 (end it with a line \"EOF\")");
    ERR("FROM x\nCOPY <<A <<-B /d\na\nA\nb\n",
        "Dockerfile:2:10: unterminated heredoc <<-B started at line 2 (end it with a line \"B\")");
    ERR("RUN echo\nFROM x\n",
        "Dockerfile:1:1: RUN before the first FROM (only ARG may come before FROM)");
    ERR("", "Dockerfile:1:1: the Dockerfile has no instructions");
    ERR("# just a comment\n\n", "Dockerfile:1:1: the Dockerfile has no instructions");
    ERR("ARG A=1\n", "Dockerfile:1:1: no FROM instruction: nothing to build");
    ERR("# escape=x\nFROM a\n", "Dockerfile:1:1: invalid escape token 'x' does not match ` or \\");
    ERR("# escape=`\n# escape=\\\nFROM a\n",
        "Dockerfile:2:1: only one escape parser directive can be used");
    ERR("FROM a b\n",
        "Dockerfile:1:1: FROM requires either one or three arguments (FROM image [AS name])");
    ERR("FROM a AS b c\n",
        "Dockerfile:1:1: FROM requires either one or three arguments (FROM image [AS name])");
    ERR("FROM\n",
        "Dockerfile:1:1: FROM requires either one or three arguments (FROM image [AS name])");
    ERR("FROM a AS 1abc\n", "Dockerfile:1:11: invalid name for build stage: \"1abc\", name can't "
                            "start with a number or contain symbols");
    ERR("FROM a AS b$\n", "Dockerfile:1:11: invalid name for build stage: \"b$\", name can't "
                          "start with a number or contain symbols");
    ERR("FROM a\nCOPY onlyone\n",
        "Dockerfile:2:1: COPY requires at least two arguments (sources and a destination)");
    ERR("FROM a\nADD [\"x\"]\n",
        "Dockerfile:2:1: ADD requires at least two arguments (sources and a destination)");
    ERR("FROM a\nENV A\n", "Dockerfile:2:1: ENV must have two arguments (use ENV KEY=VALUE)");
    ERR("FROM a\nENV\n", "Dockerfile:2:1: ENV requires at least one argument");
    ERR("FROM a\nLABEL a=1 b\n",
        "Dockerfile:2:7: syntax error: can't find = in \"b\"; must be of the form name=value");
    ERR("FROM a\nENV =x\n", "Dockerfile:2:5: ENV names can not be blank");
    ERR("FROM a\nARG\n", "Dockerfile:2:1: ARG requires at least one argument");
    ERR("FROM a\nSHELL /bin/sh -c\n", "Dockerfile:2:7: SHELL requires the arguments to be in JSON "
                                      "form, e.g. SHELL [\"/bin/sh\", \"-c\"]");
    ERR("FROM a\nSHELL []\n", "Dockerfile:2:1: SHELL requires at least one argument");
    ERR("FROM a\nONBUILD ONBUILD RUN x\n",
        "Dockerfile:2:9: chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    ERR("FROM a\nONBUILD FROM x\n", "Dockerfile:2:9: FROM isn't allowed as an ONBUILD trigger");
    ERR("FROM a\nONBUILD MAINTAINER x\n",
        "Dockerfile:2:9: MAINTAINER isn't allowed as an ONBUILD trigger");
    ERR("FROM a\nONBUILD\n", "Dockerfile:2:1: ONBUILD requires at least one argument");
    ERR("FROM a\nONBUILD RUM x\n",
        "Dockerfile:2:9: unknown instruction \"RUM\" (did you mean RUN?)");
    ERR("FROM a\nHEALTHCHECK FOO x\n",
        "Dockerfile:2:13: unknown type \"FOO\" in HEALTHCHECK (try CMD)");
    ERR("FROM a\nHEALTHCHECK NONE x\n", "Dockerfile:2:17: HEALTHCHECK NONE takes no arguments");
    ERR("FROM a\nHEALTHCHECK\n",
        "Dockerfile:2:1: HEALTHCHECK requires at least one argument (NONE or CMD ...)");
    ERR("FROM a\nHEALTHCHECK CMD\n", "Dockerfile:2:13: missing command after HEALTHCHECK CMD");
    ERR("FROM a\nHEALTHCHECK --interval=5x CMD true\n",
        "Dockerfile:2:13: --interval: invalid duration \"5x\" (use e.g. 30s, 1m30s)");
    ERR("FROM a\nHEALTHCHECK --timeout=10ns CMD true\n",
        "Dockerfile:2:13: --timeout \"10ns\" cannot be less than 1ms");
    ERR("FROM a\nHEALTHCHECK --retries=-1 CMD true\n",
        "Dockerfile:2:13: --retries cannot be negative");
    ERR("FROM a\nHEALTHCHECK --retries=x CMD true\n",
        "Dockerfile:2:13: --retries must be an integer, not \"x\"");
    ERR("FROM a\nHEALTHCHECK --intervl=1s CMD true\n",
        "Dockerfile:2:13: unknown flag --intervl for HEALTHCHECK (did you mean --interval?)");
    ERR("FROM a\nRUN\n", "Dockerfile:2:1: RUN requires at least one argument");
    ERR("FROM a\nRUN --network=none\n", "Dockerfile:2:1: RUN requires at least one argument");
    ERR("FROM a\nWORKDIR\n", "Dockerfile:2:1: WORKDIR requires exactly one argument");
    ERR("FROM a\nUSER\n", "Dockerfile:2:1: USER requires at least one argument");
    ERR("FROM a\nEXPOSE\n", "Dockerfile:2:1: EXPOSE requires at least one argument");
    ERR("FROM a\nVOLUME [\"\"]\n", "Dockerfile:2:8: VOLUME specified can not be an empty string");
    ERR("FROM a\nRUN a \\\n  b\n\nbad x\n", "Dockerfile:5:1: unknown instruction \"bad\"");
    ERR("FROM a\nRUN a \\\n  b \\\n  --x \\\n  c\nCOPY \\\n  --chwn=1 a b\n",
        "Dockerfile:7:3: unknown flag --chwn for COPY (did you mean --chown?)");
    err_is("FROM a\nRUN x\0y\n", 15,
           "Dockerfile:2:1: NUL byte in Dockerfile (is it a binary file?)");
    return done_testing();
}
