/* Stage graph: targets, dependency order, parallel waves, --from
 * resolution, cycles; RUN --mount parsing; the dry-run plan text. */
#include <stdlib.h>
#include <string.h>

#include "dockerfile/dockerfile.h"
#include "dockerfile/eval.h"
#include "dockerfile/graph.h"
#include "dockerfile/mount.h"
#include "dockerfile/plan.h"
#include "tap.h"

struct ctx {
    struct dockerfile *df;
    struct df_eval *ev;
    struct df_graph *g;
    char *err;
};

static void build(struct ctx *c, const char *src, const char *target, const char *const *ba,
                  size_t nb)
{
    struct kiln_error *err = NULL;
    memset(c, 0, sizeof(*c));
    struct df_eval_opts o = {.build_args = ba,
                             .n_build_args = nb,
                             .target_platform = "linux/amd64",
                             .build_platform = "linux/amd64"};
    if (df_parse(src, strlen(src), "Dockerfile", &c->df, &err) == 0 &&
        df_eval_new(c->df, &o, &c->ev, &err) == 0 &&
        df_graph_build(c->ev, target, &c->g, &err) == 0)
        return;
    c->err = strdup(err ? err->msg : "?");
    kiln_error_free(err);
}

static void done(struct ctx *c)
{
    df_graph_free(c->g);
    df_eval_free(c->ev);
    df_free(c->df);
    free(c->err);
}

static const char *order(struct ctx *c)
{
    static char buf[256];
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; c->g && i < c->g->n_order; i++) {
        size_t s = c->g->order[i];
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%zu@%d", i ? " " : "", s,
                                c->g->stages[s].wave);
    }
    return buf;
}

static const char *multi = "ARG GO=1.22\n"
                           "FROM golang:${GO} AS deps\nRUN go mod download\n"
                           "FROM deps AS build\nCOPY . .\nRUN go build -o /app\n"
                           "FROM deps AS test\nRUN go test ./...\n"
                           "FROM alpine AS tools\nRUN apk add curl\n"
                           "FROM scratch AS final\nCOPY --from=build /app /app\n"
                           "COPY --from=tools /usr/bin/curl /curl\n"
                           "COPY --from=busybox:1.36 /bin/sh /sh\n";

int main(void)
{
    struct ctx c;
    build(&c, multi, NULL, NULL, 0);
    ok(c.err == NULL, "graph builds: %s", c.err ? c.err : "");
    is_int(c.g->target, 4, "default target is the last stage");
    is_str(order(&c), "0@0 3@0 1@1 4@2", "order and waves");
    ok(!c.g->stages[2].needed, "test stage skipped");
    is_str(c.g->stages[2].skip_reason, "not needed to build the target stage \"final\"",
           "skip reason");
    is_int(c.g->stages[0].base.kind, DF_REF_IMAGE, "deps FROM image");
    is_str(c.g->stages[0].base.image, "golang:1.22", "image expanded with global ARG");
    is_int(c.g->stages[1].base.kind, DF_REF_STAGE, "build FROM stage");
    is_int(c.g->stages[4].base.kind, DF_REF_SCRATCH, "scratch");
    is_int(c.g->stages[4].n_deps, 2, "final needs build and tools");
    is_int(c.g->stages[4].n_images, 1, "final needs an image via --from");
    is_str(c.g->stages[4].images[0], "busybox:1.36", "that image");
    is_int(c.g->n_waves, 3, "three waves");

    struct strbuf plan = STRBUF_INIT;
    struct kiln_error *err = NULL;
    ok(df_plan_render(c.ev, c.g, &plan, &err) == 0, "plan renders");
    ok(strstr(plan.buf, "Target: stage 4 \"final\"\n") != NULL, "plan names the target");
    ok(strstr(plan.buf, "  [wave 0] stage 0 \"deps\": FROM golang:1.22 (image)  (line 2)\n"
                        "    1. RUN go mod download\n") != NULL,
       "plan lists stage and steps");
    ok(strstr(plan.buf, "  [wave 1] stage 1 \"build\": FROM stage 0 \"deps\"") != NULL,
       "FROM stage shown");
    ok(strstr(plan.buf, "Skipped stages:\n  stage 2 \"test\": not needed") != NULL,
       "skipped stage explained");
    ok(strstr(plan.buf, "needs image busybox:1.36") != NULL, "extra image listed");
    strbuf_release(&plan);
    done(&c);

    build(&c, multi, "TEST", NULL, 0);
    is_str(order(&c), "0@0 2@1", "--target test keeps only what it needs");
    done(&c);

    build(&c, multi, "1", NULL, 0);
    is_str(order(&c), "0@0 1@1", "target by index");
    done(&c);

    build(&c, multi, "nope", NULL, 0);
    is_str(c.err,
           "target stage \"nope\" could not be found in Dockerfile (stages: deps, build, "
           "test, tools, final)",
           "unknown target");
    done(&c);

    build(&c, "FROM a AS x\nCOPY --from=y /a /a\nFROM b AS y\nCOPY --from=x /b /b\n", NULL, NULL,
          0);
    ok(c.err && strstr(c.err, "circular dependency detected on stage"), "cycle: %s",
       c.err ? c.err : "");
    done(&c);

    build(&c, "FROM a AS x\nCOPY --from=x /a /a\n", NULL, NULL, 0);
    is_str(c.err,
           "Dockerfile:2:1: circular dependency detected on stage: x (a stage cannot copy "
           "from itself)",
           "self copy");
    done(&c);

    build(&c, "FROM a\nCOPY --from=1 /a /a\nFROM b\n", "0", NULL, 0);
    is_str(c.err,
           "Dockerfile:2:1: invalid --from=1: refers to the current or a later build stage "
           "(use an earlier stage's index or name)",
           "--from index not before current");
    done(&c);

    build(&c,
          "FROM a\nRUN x\nFROM b\nCOPY --from=0 /a /a\nRUN --mount=type=bind,from=c,target=/m y\n"
          "FROM c\n",
          "1", NULL, 0);
    ok(c.err == NULL, "--from index and mount from: %s", c.err ? c.err : "");
    is_str(order(&c), "0@0 1@1", "index dependency");
    is_int(c.g->stages[1].n_images, 1, "mount from= an image (stage c is later? no: unnamed)");
    done(&c);

    build(&c, "FROM a AS later_ref\nRUN --mount=from=b,target=/x y\nFROM c AS b\n", NULL, NULL, 0);
    is_str(order(&c), "1@0", "last stage alone");
    done(&c);
    build(&c, "FROM a AS first\nRUN --mount=from=b,target=/x y\nFROM c AS b\n", "first", NULL, 0);
    is_str(order(&c), "1@0 0@1", "mount from= a later named stage");
    done(&c);

    const char *ba[] = {"SRC=builder", "UNUSED_X=1"};
    build(&c,
          "FROM a AS builder\nFROM b\nARG SRC\nCOPY --from=$SRC /x /x\nFROM c AS skipped\nARG "
          "UNUSED_X\n",
          "1", ba, 2);
    is_str(order(&c), "0@0 1@1", "--from expanded with the stage's ARG");
    const char **unused;
    size_t nu = df_eval_unused_args(c.ev, &unused);
    ok(nu == 1 && strcmp(unused[0], "UNUSED_X") == 0,
       "ARG of a skipped stage does not use a build arg");
    free(unused);
    done(&c);

    build(&c,
          "FROM a\nFROM b AS two\nRUN ${X:?x must be set}\nCOPY --from=${NEEDED:?needed} / /\n"
          "FROM c\n",
          "0", NULL, 0);
    ok(c.err == NULL, "expansion error in a skipped stage does not matter");
    done(&c);
    build(&c, "FROM a\nFROM b AS two\nCOPY --from=${NEEDED:?needed} / /\n", NULL, NULL, 0);
    ok(c.err && strstr(c.err, "Dockerfile:3:1:") && strstr(c.err, "NEEDED: needed"),
       "expansion error in a needed stage: %s", c.err ? c.err : "");
    done(&c);

    /* mounts */
    struct df_mount m;
    ok(df_mount_parse("type=cache,target=/root/.cache,sharing=locked,id=pip", &m, &err) == 0,
       "cache mount");
    ok(m.type == DF_MOUNT_CACHE && !m.readonly && strcmp(m.id, "pip") == 0 &&
           strcmp(m.sharing, "locked") == 0,
       "cache fields");
    df_mount_release(&m);
    ok(df_mount_parse("type=cache,target=/c", &m, &err) == 0 && strcmp(m.id, "/c") == 0 &&
           strcmp(m.sharing, "shared") == 0,
       "cache defaults");
    df_mount_release(&m);
    ok(df_mount_parse("target=/src,from=build,source=/out,rw", &m, &err) == 0 &&
           m.type == DF_MOUNT_BIND && !m.readonly && strcmp(m.from, "build") == 0,
       "bind mount, rw");
    df_mount_release(&m);
    ok(df_mount_parse("type=bind,target=/src", &m, &err) == 0 && m.readonly,
       "bind is read-only by default");
    df_mount_release(&m);
    ok(df_mount_parse("type=secret,id=npmrc", &m, &err) == 0 &&
           strcmp(m.target, "/run/secrets/npmrc") == 0,
       "secret default target");
    df_mount_release(&m);
    ok(df_mount_parse("type=secret,target=/root/.aws/credentials,mode=0400,uid=10,required", &m,
                      &err) == 0 &&
           strcmp(m.id, "credentials") == 0 && m.mode == 0400 && m.uid == 10 && m.required,
       "secret id from target, mode, uid, required");
    df_mount_release(&m);
    ok(df_mount_parse("type=secret,id=tok,env=TOKEN", &m, &err) == 0 && m.target == NULL &&
           strcmp(m.env, "TOKEN") == 0,
       "secret as env only");
    df_mount_release(&m);
    ok(df_mount_parse("type=tmpfs,target=/t,size=64m", &m, &err) == 0 && m.size == 64LL << 20,
       "tmpfs size");
    df_mount_release(&m);
    ok(df_mount_parse("type=ssh", &m, &err) == 0 && strcmp(m.id, "default") == 0, "ssh default");
    df_mount_release(&m);
    ok(df_mount_parse("type=nfs,target=/x", &m, &err) < 0 &&
           strstr(err->msg, "unsupported mount type \"nfs\""),
       "bad type");
    kiln_error_free(err);
    err = NULL;
    /* A stage name used twice is BuildKit's DuplicateStageName warning (as in
     * docker/buildx's Dockerfile); the name means its last definition, and in
     * FROM the last one before. */
    build(&c,
          "FROM alpine AS x\nFROM x AS y\nFROM busybox AS X\nFROM scratch\nCOPY --from=x /a /b\n",
          NULL, NULL, 0);
    ok(c.err == NULL, "duplicate stage name is not an error: %s", c.err ? c.err : "");
    int dup_line = 0;
    for (size_t i = 0; c.df && i < c.df->n_warnings; i++)
        if (strcmp(c.df->warnings[i].rule, "DuplicateStageName") == 0)
            dup_line = c.df->warnings[i].pos.line;
    is_int(dup_line, 3, "DuplicateStageName warning on line 3");
    ok(c.g && c.g->stages[1].base.kind == DF_REF_STAGE && c.g->stages[1].base.stage == 0,
       "FROM x before the second x: the first");
    ok(c.g && c.g->stages[3].n_deps == 1 && c.g->stages[3].deps[0] == 2,
       "COPY --from=x: the last x");
    ok(c.df && df_find_stage(c.df, "x") == &c.df->stages[2], "df_find_stage: the last x");
    done(&c);

    /* BuildKit resolves a missing or relative target against WORKDIR */
    ok(df_mount_parse("type=cache", &m, &err) == 0 && strcmp(m.target, "") == 0,
       "cache without a target: the working directory");
    df_mount_release(&m);
    ok(df_mount_parse("from=binaries", &m, &err) == 0 && m.type == DF_MOUNT_BIND &&
           strcmp(m.target, "") == 0 && strcmp(m.from, "binaries") == 0,
       "bind from a stage without a target (docker/buildx's Dockerfile)");
    df_mount_release(&m);
    ok(df_mount_parse("type=bind,target=src", &m, &err) == 0 && strcmp(m.target, "src") == 0,
       "relative target kept for the executor");
    df_mount_release(&m);
    ok(df_mount_parse("type=cache,target=/x,colour=red", &m, &err) < 0 &&
           strstr(err->msg, "unexpected key 'colour'"),
       "unknown key");
    kiln_error_free(err);
    err = NULL;
    ok(df_mount_parse("type=cache,target=/x,sharing=maybe", &m, &err) < 0, "bad sharing");
    kiln_error_free(err);
    err = NULL;

    /* parse-time check of constant --mount values, with the flag's position */
    struct dockerfile *df = NULL;
    const char *src = "FROM a\nRUN --mount=type=cache,target=/x,colour=red make\n";
    ok(df_parse(src, strlen(src), "Dockerfile", &df, &err) < 0, "bad mount rejected when parsing");
    is_str(err ? err->msg : NULL,
           "Dockerfile:2:5: --mount \"type=cache,target=/x,colour=red\": unexpected key 'colour'",
           "mount error message");
    kiln_error_free(err);
    err = NULL;
    src = "FROM a\nRUN --network=bridge make\n";
    ok(df_parse(src, strlen(src), "Dockerfile", &df, &err) < 0 &&
           strcmp(err->msg,
                  "Dockerfile:2:5: unsupported --network=bridge (use none, host or default)") == 0,
       "bad network");
    kiln_error_free(err);
    return done_testing();
}
