/* ARG/ENV scoping and expanded steps: global ARGs for FROM, redeclaring in
 * a stage, --build-arg, ENV beating ARG, proxy and platform ARGs, unused
 * build args, and which instructions expand. */
#include <stdlib.h>
#include <string.h>

#include "dockerfile/dockerfile.h"
#include "dockerfile/eval.h"
#include "tap.h"
#include "util/strbuf.h"

struct run {
    struct dockerfile *df;
    struct df_eval *ev;
    struct df_scope *sc;
    struct df_step *steps[32];
    size_t n;
    char *err;
};

static struct df_platform_opts {
    int dummy;
} unused_;

static int nwarn;
static char lastwarn[256];
static void on_warn(void *ud, const struct df_warning *w)
{
    (void)ud;
    nwarn++;
    snprintf(lastwarn, sizeof(lastwarn), "%s: %s", w->rule, w->msg);
}

/* Parses src, evaluates stage `stage` fully. */
static void run(struct run *r, const char *src, const char *const *bargs, size_t nb,
                const char *target_plat, size_t stage)
{
    memset(r, 0, sizeof(*r));
    struct kiln_error *err = NULL;
    if (df_parse(src, strlen(src), "Dockerfile", &r->df, &err) < 0)
        goto fail;
    struct df_eval_opts o = {.build_args = bargs,
                             .n_build_args = nb,
                             .target_platform = target_plat,
                             .build_platform = "linux/amd64"};
    if (df_eval_new(r->df, &o, &r->ev, &err) < 0)
        goto fail;
    df_eval_set_warn(r->ev, on_warn, NULL);
    const char *base_env[] = {"PATH=/usr/bin:/bin", "HOME=/root"};
    if (df_scope_new(r->ev, stage, base_env, 2, &r->sc, &err) < 0)
        goto fail;
    const struct df_stage *st = &r->df->stages[stage];
    for (size_t i = 0; i < st->n_instrs && r->n < 32; i++) {
        if (df_scope_step(r->sc, &st->instrs[i], &r->steps[r->n], &err) < 0)
            goto fail;
        r->n++;
    }
    return;
fail:
    r->err = xstrdup(err ? err->msg : "?");
    kiln_error_free(err);
}

static void done(struct run *r)
{
    for (size_t i = 0; i < r->n; i++)
        df_step_free(r->steps[i]);
    df_scope_free(r->sc);
    df_eval_free(r->ev);
    df_free(r->df);
    free(r->err);
}

static const char *arg0(struct run *r, size_t i)
{
    return i < r->n && r->steps[i]->ins->n_args ? r->steps[i]->ins->args[0] : NULL;
}

static const char *text(struct run *r, size_t i)
{
    return i < r->n ? r->steps[i]->text : NULL;
}

static const char *env_of(struct df_step *st, const char *k)
{
    size_t l = strlen(k);
    for (size_t i = 0; i < st->n_run_env; i++)
        if (strncmp(st->run_env[i], k, l) == 0 && st->run_env[i][l] == '=')
            return st->run_env[i] + l + 1;
    return NULL;
}

static char *joined(char **v, size_t n)
{
    static char buf[512];
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? " " : "", v[i]);
    return buf;
}

int main(void)
{
    struct run r;
    (void)unused_;

    /* global ARGs serve FROM, not the stage, until redeclared */
    run(&r,
        "ARG BASE=alpine\nARG TAG=3.19\nFROM $BASE:${TAG}\nWORKDIR /$BASE\nARG BASE\n"
        "WORKDIR /$BASE\n",
        NULL, 0, NULL, 0);
    ok(r.err == NULL, "evaluates: %s", r.err ? r.err : "");
    char *base = NULL, *plat = NULL;
    struct kiln_error *err = NULL;
    ok(df_eval_from(r.ev, 0, &base, &plat, &err) == 0, "FROM expands");
    is_str(base, "alpine:3.19", "FROM uses global ARGs");
    ok(plat == NULL, "no platform");
    free(base);
    is_str(arg0(&r, 0), "/", "global ARG not visible in the stage");
    is_str(arg0(&r, 2), "/alpine", "redeclared ARG takes the global value");
    done(&r);

    /* build args override defaults, globals too */
    const char *ba[] = {"BASE=debian", "V=2", "UNUSED=1", "http_proxy=http://p:3128"};
    run(&r,
        "ARG BASE=alpine\nFROM $BASE\nARG V=1\nENV E=$V\nRUN echo $V\nARG BASE\nLABEL b=$BASE\n",
        ba, 4, NULL, 0);
    ok(df_eval_from(r.ev, 0, &base, &plat, &err) == 0, "FROM with build arg");
    is_str(base, "debian", "--build-arg overrides the global default");
    free(base);
    is_str(r.steps[1]->ins->kvs[0].value, "2", "--build-arg overrides the stage default");
    is_str(joined(r.steps[2]->used_args, r.steps[2]->n_used_args), "V=2", "RUN uses ARGs in scope");
    is_str(env_of(r.steps[2], "E"), "2", "RUN env has ENV");
    is_str(env_of(r.steps[2], "V"), "2", "RUN env has ARG");
    is_str(env_of(r.steps[2], "http_proxy"), "http://p:3128", "proxy build arg reaches RUN");
    is_str(env_of(r.steps[2], "PATH"), "/usr/bin:/bin", "base image ENV kept");
    is_str(r.steps[4]->ins->kvs[0].value, "debian",
           "stage ARG without default takes the overridden global");
    const char **unused;
    size_t nu = df_eval_unused_args(r.ev, &unused);
    is_int(nu, 1, "one unused build arg");
    is_str(nu ? unused[0] : NULL, "UNUSED", "UNUSED reported, proxy not");
    free(unused);
    done(&r);

    /* ENV beats ARG; values are taken from before the instruction */
    run(&r,
        "FROM x\nARG A=arg\nENV A=env\nWORKDIR /$A\nENV B=1 C=$B\nENV B=2 D=${B}\n"
        "ENV PATH=$PATH:/opt\nUSER ${A}\n",
        NULL, 0, NULL, 0);
    is_str(arg0(&r, 2), "/env", "ENV beats ARG");
    is_str(r.steps[3]->ins->kvs[1].value, "", "C sees B from before the instruction (unset)");
    is_str(r.steps[4]->ins->kvs[1].value, "1", "D sees the old B");
    is_str(r.steps[5]->ins->kvs[0].value, "/usr/bin:/bin:/opt", "ENV extends base image PATH");
    is_str(df_scope_get(r.sc, "B"), "2", "B is 2 afterwards");
    const char *const *env;
    size_t ne = df_scope_env(r.sc, &env);
    is_str(ne == 6 ? env[5] : NULL, "D=1", "ENV list order (base, then set order)");
    is_int(r.steps[2]->n_used_args, 0, "shadowed ARG is not a used build arg");
    done(&r);

    /* platform ARGs */
    run(&r,
        "FROM --platform=$BUILDPLATFORM golang AS b\nARG TARGETOS TARGETARCH\nARG TARGETVARIANT\n"
        "RUN GOOS=$TARGETOS GOARCH=$TARGETARCH build\nENV "
        "X=${TARGETOS}-${TARGETARCH}-${TARGETVARIANT}-${BUILDOS}\n",
        NULL, 0, "linux/arm/v7", 0);
    ok(df_eval_from(r.ev, 0, &base, &plat, &err) == 0, "FROM platform expands");
    is_str(plat, "linux/amd64", "BUILDPLATFORM in FROM --platform");
    free(base);
    free(plat);
    is_str(r.steps[3]->ins->kvs[0].value, "linux-arm-v7-", "TARGET* declared, BUILDOS not");
    is_str(env_of(r.steps[2], "TARGETARCH"), "arm", "RUN env has the platform ARG");
    done(&r);

    /* expansion per instruction kind */
    run(&r,
        "FROM x\nARG D=/dst V=1.0 P=8080 S=SIGKILL\nCOPY --chown=$V --from=s$V a$V $D/\n"
        "ADD --chmod=${P} x ${D}\nEXPOSE $P ${P}/udp\nVOLUME [\"$D\"]\nSTOPSIGNAL $S\n"
        "RUN echo $V\nCMD echo $V\nLABEL \"k $V\"=\"v $V\"\nCOPY <<EOF <<'RAW' "
        "/f\n$V\nEOF\n$V\nRAW\n"
        "ONBUILD COPY $V /x\nENTRYPOINT [\"$V\"]\n",
        NULL, 0, NULL, 0);
    ok(r.err == NULL, "evaluates: %s", r.err ? r.err : "");
    is_str(text(&r, 1), "COPY --chown=1.0 --from=s1.0 a1.0 /dst/", "COPY expands flags and args");
    is_str(joined(r.steps[1]->used_args, r.steps[1]->n_used_args), "D=/dst V=1.0",
           "COPY uses the ARGs it references");
    is_str(text(&r, 2), "ADD --chmod=8080 x /dst", "ADD expands");
    is_str(text(&r, 3), "EXPOSE 8080 8080/udp", "EXPOSE expands");
    is_str(text(&r, 4), "VOLUME [\"/dst\"]", "VOLUME JSON expands");
    is_str(text(&r, 5), "STOPSIGNAL SIGKILL", "STOPSIGNAL expands");
    is_str(text(&r, 6), "RUN echo $V", "RUN is left to the shell");
    is_str(text(&r, 7), "CMD echo $V", "CMD is not expanded");
    is_str(text(&r, 8), "LABEL \"k 1.0\"=\"v 1.0\"", "LABEL key and value expand");
    is_str(r.steps[9]->ins->heredocs[0].content, "1.0\n", "COPY heredoc expands");
    is_str(r.steps[9]->ins->heredocs[1].content, "$V\n", "quoted heredoc does not");
    is_str(text(&r, 10), "ONBUILD COPY $V /x", "ONBUILD trigger kept as written");
    is_str(text(&r, 11), "ENTRYPOINT [\"$V\"]", "ENTRYPOINT exec form untouched");
    ok(strstr(r.steps[9]->cache_text, "\"1.0\\n\"") != NULL, "cache text holds heredoc body");
    done(&r);

    /* errors carry the position */
    run(&r, "FROM x\nARG A\n\nWORKDIR ${A:?set A with --build-arg}\n", NULL, 0, NULL, 0);
    is_str(r.err,
           "Dockerfile:4:1: failed to process \"${A:?set A with --build-arg}\": A: set A "
           "with --build-arg",
           "required ARG error");
    done(&r);

    nwarn = 0;
    run(&r, "FROM ${NOPE}img\n", NULL, 0, NULL, 0);
    ok(df_eval_from(r.ev, 0, &base, &plat, &err) == 0, "undeclared FROM arg expands empty");
    free(base);
    is_int(nwarn, 1, "warned");
    is_str(lastwarn, "UndefinedArgInFrom: FROM argument 'NOPE' is not declared", "warning text");
    done(&r);

    run(&r, "ARG E\nFROM $E\n", NULL, 0, NULL, 0);
    ok(df_eval_from(r.ev, 0, &base, &plat, &err) < 0, "blank base rejected");
    is_str(err ? err->msg : NULL, "Dockerfile:2:1: base name ($E) should not be blank", "message");
    kiln_error_free(err);
    err = NULL;
    done(&r);

    const char *badba[] = {"NOEQUALS"};
    run(&r, "FROM x\n", badba, 1, NULL, 0);
    is_str(r.err, "invalid build arg \"NOEQUALS\": want KEY=VALUE", "build arg without =");
    done(&r);

    /* platforms */
    struct df_platform p;
    ok(df_platform_parse("linux/aarch64", &p, &err) == 0, "aarch64 parses");
    char *s = df_platform_format(&p);
    is_str(s, "linux/arm64", "aarch64 normalised");
    free(s);
    df_platform_release(&p);
    ok(df_platform_parse("linux/arm", &p, &err) == 0, "arm parses");
    s = df_platform_format(&p);
    is_str(s, "linux/arm/v7", "arm gets v7");
    free(s);
    df_platform_release(&p);
    /* containerd: an OS alone is that OS on this machine's architecture */
    ok(df_platform_parse("linux", &p, &err) == 0 && strcmp(p.os, "linux") == 0 && p.arch[0] != '\0',
       "os alone is the host's architecture");
    df_platform_release(&p);
    ok(df_platform_parse("linux/", &p, &err) < 0, "os/ is invalid");
    kiln_error_free(err);
    return done_testing();
}
