/* Parser vectors: directives, escapes, continuations, comments, BOM/CRLF,
 * heredocs, JSON vs shell form, every instruction and flag, warnings. */
#include <stdlib.h>
#include <string.h>

#include "dockerfile/dockerfile.h"
#include "tap.h"

static struct dockerfile *parse(const char *src)
{
    struct dockerfile *df = NULL;
    struct kiln_error *err = NULL;
    if (df_parse(src, strlen(src), "Dockerfile", &df, &err) < 0) {
        printf("# unexpected error: %s\n", err->msg);
        kiln_error_free(err);
        return NULL;
    }
    return df;
}

static const struct df_instr *ins_at(const struct dockerfile *df, size_t stage, size_t i)
{
    if (df == NULL || stage >= df->n_stages || i >= df->stages[stage].n_instrs)
        return NULL;
    return &df->stages[stage].instrs[i];
}

static int has_warning(const struct dockerfile *df, const char *rule, int line)
{
    for (size_t i = 0; df && i < df->n_warnings; i++)
        if (strcmp(df->warnings[i].rule, rule) == 0 &&
            (line == 0 || df->warnings[i].pos.line == line))
            return 1;
    return 0;
}

#define ARG(ins, i) ((ins) && (i) < (ins)->n_args ? (ins)->args[i] : NULL)

static void t_basic(void)
{
    struct dockerfile *df = parse("FROM alpine:3.19\nRUN echo hi\n");
    ok(df != NULL, "minimal file parses");
    is_int(df->n_stages, 1, "one stage");
    is_str(df->stages[0].base, "alpine:3.19", "base");
    ok(df->stages[0].name == NULL, "unnamed stage");
    const struct df_instr *r = ins_at(df, 0, 0);
    is_int(r->kind, DF_RUN, "RUN kind");
    is_str(ARG(r, 0), "echo hi", "shell form keeps the command text");
    ok(!r->json, "shell form");
    is_int(r->pos.line, 2, "RUN line");
    is_int(r->pos.col, 1, "RUN column");
    is_str(r->original, "RUN echo hi", "original");
    is_int(df->escape, '\\', "default escape");
    df_free(df);
}

static void t_directives(void)
{
    struct dockerfile *df =
        parse("# syntax=docker/dockerfile:1\n#escape=`\nFROM x\nRUN dir c:\\ `\n  && echo\n");
    is_str(df->syntax, "docker/dockerfile:1", "syntax directive");
    is_int(df->escape, '`', "escape directive backtick");
    is_str(ARG(ins_at(df, 0, 0), 0), "dir c:\\   && echo",
           "backtick continues, backslash is literal");
    df_free(df);

    df = parse("# Escape = `\nFROM x\n");
    is_int(df->escape, '`', "directive name is case-insensitive, spaces allowed");
    df_free(df);

    df = parse("# comment\n# escape=`\nFROM x\n");
    is_int(df->escape, '\\', "directive after a comment is a comment");
    df_free(df);

    df = parse("\n# escape=`\nFROM x\n");
    is_int(df->escape, '\\', "directive after a blank line is a comment");
    df_free(df);

    df = parse("# unknown=1\n# escape=`\nFROM x\n");
    is_int(df->escape, '\\', "unknown directive ends directives");
    df_free(df);

    df = parse("FROM x\n# escape=`\n");
    is_int(df->escape, '\\', "directive after an instruction is a comment");
    df_free(df);

    df = parse("#escape=\\  \n# syntax = docker/dockerfile:1.7 \nFROM x\n");
    is_int(df->escape, '\\', "escape=\\ explicitly, trailing blanks");
    is_str(df->syntax, "docker/dockerfile:1.7", "blanks around = and after the value");
    df_free(df);

    df = parse("# escape=`\nFROM x\nRUN echo \\\nCOPY a b\n");
    is_str(ARG(ins_at(df, 0, 0), 0), "echo \\",
           "with a backtick escape a trailing backslash is text");
    is_int(ins_at(df, 0, 1)->kind, DF_COPY, "so the next line is its own instruction");
    df_free(df);

    df = parse("# check=skip=JSONArgsRecommended\nFROM x\n");
    is_str(df->check, "skip=JSONArgsRecommended", "check directive");
    df_free(df);

    df = parse("\xef\xbb\xbf# escape=`\r\nFROM x\r\nRUN a `\r\n b\r\n");
    ok(df != NULL, "BOM and CRLF");
    is_int(df->escape, '`', "directive on a BOM line");
    is_str(ARG(ins_at(df, 0, 0), 0), "a  b", "CRLF continuation");
    df_free(df);
}

static void t_continuations(void)
{
    struct dockerfile *df =
        parse("FROM x\nRUN a \\\n# inner comment\n    b \\  \n\n  c\nRUN d\\\n");
    const struct df_instr *r = ins_at(df, 0, 0);
    is_str(ARG(r, 0), "a     b   c", "continuation joins lines, skips comments and blanks");
    is_int(r->end_line, 6, "end line");
    ok(has_warning(df, "NoEmptyContinuation", 5), "empty continuation line warned");
    is_str(ARG(ins_at(df, 0, 1), 0), "d", "continuation at end of file");
    df_free(df);

    df = parse("  from   x  \n\t run  echo\n");
    is_int(df->stages[0].instrs[0].pos.col, 3, "column after leading tab and space");
    is_str(df->stages[0].base, "x", "lower-case keyword");
    df_free(df);
}

static void t_from(void)
{
    struct dockerfile *df = parse("ARG V=1\nFROM --platform=$BUILDPLATFORM golang:$V AS Build\n"
                                  "FROM build\nFROM scratch as final\n");
    is_int(df->n_meta_args, 1, "global ARG");
    is_str(df->meta_args[0].kvs[0].key, "V", "global ARG name");
    is_int(df->n_stages, 3, "three stages");
    is_str(df->stages[0].name, "build", "stage name lower-cased");
    is_str(df->stages[0].platform, "$BUILDPLATFORM", "platform raw");
    is_str(df->stages[0].base, "golang:$V", "base raw");
    ok(has_warning(df, "StageNameCasing", 2), "StageNameCasing");
    ok(has_warning(df, "FromAsCasing", 4), "FromAsCasing");
    is_int(df->stages[2].index, 2, "index");
    ok(df_find_stage(df, "BUILD") == &df->stages[0], "find by name, any case");
    ok(df_find_stage(df, "2") == &df->stages[2], "find by index");
    ok(df_find_stage(df, "3") == NULL, "no index 3");
    df_free(df);
}

static void t_json_forms(void)
{
    struct dockerfile *df = parse("FROM x\nRUN [\"echo\", \"a b\"]\nCMD [\"x\"]\n"
                                  "ENTRYPOINT exec top\nSHELL [\"/bin/bash\", \"-c\"]\n"
                                  "RUN [not json\nCMD [\"a\", 1]\nVOLUME [\"/a\", \"/b c\"]\n"
                                  "VOLUME /x /y\nCOPY [\"a b\", \"/d/\"]\nCMD []\n");
    const struct df_instr *r = ins_at(df, 0, 0);
    ok(r->json && r->n_args == 2, "RUN exec form");
    is_str(ARG(r, 1), "a b", "JSON string");
    ok(ins_at(df, 0, 1)->json, "CMD exec form");
    ok(!ins_at(df, 0, 2)->json, "ENTRYPOINT shell form");
    ok(has_warning(df, "JSONArgsRecommended", 4), "JSONArgsRecommended for shell ENTRYPOINT");
    ok(!has_warning(df, "JSONArgsRecommended", 3), "not for exec CMD");
    is_int(ins_at(df, 0, 3)->n_args, 2, "SHELL args");
    ok(!ins_at(df, 0, 4)->json, "invalid JSON is shell form");
    is_str(ARG(ins_at(df, 0, 4), 0), "[not json", "kept as text");
    ok(!ins_at(df, 0, 5)->json, "non-string JSON array is shell form");
    is_str(ARG(ins_at(df, 0, 6), 1), "/b c", "VOLUME JSON");
    is_int(ins_at(df, 0, 7)->n_args, 2, "VOLUME words");
    is_str(ARG(ins_at(df, 0, 8), 0), "a b", "COPY JSON source");
    ok(ins_at(df, 0, 9)->json && ins_at(df, 0, 9)->n_args == 0, "CMD [] is an empty exec form");
    df_free(df);
}

static void t_kv(void)
{
    struct dockerfile *df =
        parse("FROM x\nENV A=1 B=\"two words\" C=three\\ words\nENV D four five\n"
              "LABEL \"com.x\"=\"v\" k=v\nARG N\nARG M=1 O\nENV E=\n");
    const struct df_instr *e = ins_at(df, 0, 0);
    is_int(e->n_kvs, 3, "three pairs");
    is_str(e->kvs[1].value, "\"two words\"", "values raw (quotes kept)");
    is_str(e->kvs[2].value, "three\\ words", "escape kept");
    const struct df_instr *l = ins_at(df, 0, 1);
    ok(l->legacy_kv, "legacy ENV");
    is_str(l->kvs[0].key, "D", "legacy key");
    is_str(l->kvs[0].value, "four five", "legacy value is the rest");
    ok(has_warning(df, "LegacyKeyValueFormat", 3), "LegacyKeyValueFormat");
    is_str(ins_at(df, 0, 2)->kvs[0].key, "\"com.x\"", "label key raw");
    ok(!ins_at(df, 0, 3)->kvs[0].has_value, "ARG without default");
    is_int(ins_at(df, 0, 4)->n_kvs, 2, "ARG with several names");
    ok(ins_at(df, 0, 5)->kvs[0].has_value, "ENV E= has an empty value");
    df_free(df);
}

static void t_flags(void)
{
    struct dockerfile *df =
        parse("FROM x\n"
              "COPY --from=build --chown=1:1 --chmod=0755 --link --parents --exclude=*.md "
              "--exclude=t a b /d/\n"
              "ADD --checksum=sha256:abc --keep-git-dir=true --link=false --chown=u --chmod=644 "
              "--exclude=x http://e/f /g\n"
              "RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=s --network=none "
              "--security=insecure make\n"
              "HEALTHCHECK --interval=30s --timeout=5s --start-period=1m --start-interval=2s "
              "--retries=3 CMD "
              "curl -f http://localhost/\n"
              "HEALTHCHECK NONE\n"
              "COPY --chown=\"a b\" x /y\n"
              "COPY -- --weird /y\n");
    const struct df_instr *c = ins_at(df, 0, 0);
    is_str(df_instr_flag(c, "from"), "build", "--from");
    is_str(df_instr_flag(c, "link"), "", "bare bool flag");
    ok(df_instr_flag_bool(c, "link") && df_instr_flag_bool(c, "parents"), "bool flags set");
    const char **ex;
    size_t n = df_instr_flag_all(c, "exclude", &ex);
    is_int(n, 2, "repeatable --exclude");
    is_str(n == 2 ? ex[1] : NULL, "t", "second exclude");
    free(ex);
    is_int(c->n_args, 3, "sources and dest");
    is_int(c->flags[0].pos.col, 6, "flag column");
    const struct df_instr *a = ins_at(df, 0, 1);
    is_str(df_instr_flag(a, "keep-git-dir"), "true", "ADD --keep-git-dir");
    ok(!df_instr_flag_bool(a, "link") && df_instr_flag_bool(a, "keep-git-dir"), "--link=false");
    is_str(df_instr_flag(a, "checksum"), "sha256:abc", "ADD --checksum");
    const struct df_instr *r = ins_at(df, 0, 2);
    n = df_instr_flag_all(r, "mount", &ex);
    is_int(n, 2, "two mounts");
    free(ex);
    is_str(ARG(r, 0), "make", "RUN command after flags");
    const struct df_instr *h = ins_at(df, 0, 3);
    ok(h->sub && h->sub->kind == DF_CMD, "HEALTHCHECK CMD sub-instruction");
    is_str(h->sub ? ARG(h->sub, 0) : NULL, "curl -f http://localhost/", "health command");
    is_str(df_instr_flag(h, "retries"), "3", "retries");
    is_str(ARG(ins_at(df, 0, 4), 0), "NONE", "HEALTHCHECK NONE");
    is_str(df_instr_flag(ins_at(df, 0, 5), "chown"), "a b", "quoted flag value unquoted");
    is_str(ARG(ins_at(df, 0, 6), 0), "--weird", "-- ends flags");
    df_free(df);

    long long ns;
    ok(df_parse_duration("1m30s", &ns) == 0 && ns == 90000000000LL, "duration 1m30s");
    ok(df_parse_duration("250ms", &ns) == 0 && ns == 250000000LL, "duration 250ms");
    ok(df_parse_duration("1.5h", &ns) == 0 && ns == 5400000000000LL, "duration 1.5h");
    ok(df_parse_duration("0", &ns) == 0 && ns == 0, "duration 0");
    ok(df_parse_duration("10", &ns) < 0, "duration without unit");
    ok(df_parse_duration("5x", &ns) < 0, "duration bad unit");
}

static void t_heredocs(void)
{
    struct dockerfile *df = parse("FROM x\n"
                                  "RUN <<EOF\napt-get update\n  echo $HOME\nEOF\n"
                                  "RUN <<-'END' cat > /f\n\t\tindented $X\n\tEND\n"
                                  "COPY <<one <<\"two\" /dest/\nfirst\none\nsecond $Y\ntwo\n"
                                  "RUN python3 <<PY && echo '<<NOT'\nprint(1)\nPY\n"
                                  "RUN cat <<<here\n"
                                  "RUN 3<<FD cat\nx\nFD\n");
    const struct df_instr *r = ins_at(df, 0, 0);
    is_int(r->n_heredocs, 1, "one heredoc");
    is_str(r->heredocs[0].name, "EOF", "name");
    is_str(r->heredocs[0].content, "apt-get update\n  echo $HOME\n", "content");
    ok(r->heredocs[0].expand && !r->heredocs[0].chomp, "unquoted: expands");
    is_int(r->end_line, 5, "end line after terminator");
    is_int(r->heredocs[0].pos.col, 5, "heredoc column");
    const struct df_instr *r2 = ins_at(df, 0, 1);
    ok(r2->heredocs[0].chomp && !r2->heredocs[0].expand, "<<- and quoted");
    is_str(r2->heredocs[0].content, "indented $X\n", "tabs stripped");
    is_str(ARG(r2, 0), "<<-'END' cat > /f", "command line");
    const struct df_instr *c = ins_at(df, 0, 2);
    is_int(c->n_heredocs, 2, "two heredocs in COPY");
    is_str(c->heredocs[0].content, "first\n", "first body");
    is_str(c->heredocs[1].content, "second $Y\n", "second body");
    ok(c->heredocs[0].expand && !c->heredocs[1].expand, "quoting per heredoc");
    is_int(c->n_args, 3, "COPY args include heredoc markers");
    is_int(ins_at(df, 0, 3)->n_heredocs, 1, "quoted <<NOT is not a heredoc");
    char *script = df_run_script(ins_at(df, 0, 3));
    is_str(script, "python3 <<PY && echo '<<NOT'\nprint(1)\nPY\n", "RUN script with its heredoc");
    free(script);
    script = df_run_script(r2);
    is_str(script, "<<-'END' cat > /f\nindented $X\nEND\n", "<<- body and delimiter");
    free(script);
    is_int(ins_at(df, 0, 4)->n_heredocs, 0, "<<< is a here-string");
    is_int(ins_at(df, 0, 5)->n_heredocs, 1, "fd prefix");
    is_int(ins_at(df, 0, 5)->heredocs[0].pos.col, 6, "fd heredoc column (of the <<)");
    df_free(df);
}

static void t_onbuild_misc(void)
{
    struct dockerfile *df =
        parse("FROM x\nONBUILD COPY --chown=1 . /app\nONBUILD run make\n"
              "MAINTAINER me\nexpose 80/tcp 53/udp\nUSER app:app\nWORKDIR /a b\n"
              "STOPSIGNAL SIGTERM\n");
    const struct df_instr *o = ins_at(df, 0, 0);
    ok(o->sub && o->sub->kind == DF_COPY, "ONBUILD COPY");
    is_str(df_instr_flag(o->sub, "chown"), "1", "trigger flags");
    is_int(ins_at(df, 0, 1)->sub->kind, DF_RUN, "ONBUILD run (any case)");
    ok(has_warning(df, "MaintainerDeprecated", 4), "MAINTAINER deprecated");
    ok(has_warning(df, "ConsistentInstructionCasing", 5), "minority-case keyword warned");
    ok(!has_warning(df, "ConsistentInstructionCasing", 4), "majority case not warned");
    is_int(ins_at(df, 0, 3)->n_args, 2, "EXPOSE words");
    is_str(ARG(ins_at(df, 0, 4), 0), "app:app", "USER");
    is_str(ARG(ins_at(df, 0, 5), 0), "/a b", "WORKDIR keeps inner blanks");
    is_str(ARG(ins_at(df, 0, 6), 0), "SIGTERM", "STOPSIGNAL");
    df_free(df);

    struct df_instr *ins = NULL;
    struct kiln_error *err = NULL;
    ok(df_parse_instr("RUN echo built", '\\', "trigger", &ins, &err) == 0 && ins->kind == DF_RUN,
       "df_parse_instr");
    df_instr_free(ins);
}

int main(void)
{
    t_basic();
    t_directives();
    t_continuations();
    t_from();
    t_json_forms();
    t_kv();
    t_flags();
    t_heredocs();
    t_onbuild_misc();
    return done_testing();
}
