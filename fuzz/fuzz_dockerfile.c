/* libFuzzer target for the Dockerfile frontend: the input is parsed as a
 * Dockerfile (then evaluated, graphed and planned), expanded line by line
 * as words, word lists and heredoc bodies, and read as a .dockerignore that
 * is matched against its own lines. Nothing may crash, hang or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile/dockerfile.h"
#include "dockerfile/dockerignore.h"
#include "dockerfile/eval.h"
#include "dockerfile/expand.h"
#include "dockerfile/graph.h"
#include "dockerfile/lint.h"
#include "dockerfile/mount.h"
#include "dockerfile/plan.h"
#include "util/strbuf.h"

static const char *env_lookup(void *ud, const char *name)
{
    (void)ud;
    static const char *const env[][2] = {
        {"A", "a"},
        {"EMPTY", ""},
        {"SP", "x y  z"},
        {"P", "/usr/local/bin:/usr/bin"},
        {"F", "archive.tar.gz"},
        {"STAR", "*?[\\"},
    };
    for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
        if (strcmp(env[i][0], name) == 0)
            return env[i][1];
    return NULL;
}

static void fuzz_dockerfile(const char *s, size_t n)
{
    struct dockerfile *df = NULL;
    struct kiln_error *err = NULL;
    if (df_parse(s, n, "Dockerfile", &df, &err) < 0) {
        kiln_error_free(err);
        return;
    }
    static const char *const args[] = {"A=1", "HTTP_PROXY=http://p", "BASE=alpine", "X="};
    struct df_eval_opts o = {.build_args = args,
                             .n_build_args = 4,
                             .target_platform = "linux/arm64",
                             .build_platform = "linux/amd64",
                             .lint = 1};
    struct df_eval *ev = NULL;
    struct df_graph *g = NULL;
    if (df_eval_new(df, &o, &ev, &err) == 0 && df_graph_build(ev, NULL, &g, &err) == 0) {
        struct strbuf plan = STRBUF_INIT;
        df_plan_render(ev, g, &plan, &err);
        strbuf_release(&plan);
    }
    kiln_error_free(err);
    struct df_warnings ws = {0};
    df_lint(df, NULL, &ws);
    df_warnings_release(&ws);
    df_check_skipped(df, "JSONArgsRecommended");
    df_check_error(df);
    df_graph_free(g);
    df_eval_free(ev);
    df_free(df);
}

static void fuzz_line(const char *line, struct dockerignore *di)
{
    struct kiln_error *err = NULL;
    struct df_expand_ctx cx = {line[0] == '`' ? '`' : '\\', env_lookup, NULL};
    char *out = NULL;
    if (df_expand_word(&cx, line, &out, &err) == 0)
        free(out);
    kiln_error_free(err);
    err = NULL;
    char **v = NULL;
    size_t nv = 0;
    if (df_expand_words(&cx, line, &v, &nv, &err) == 0)
        df_strv_free(v, nv);
    kiln_error_free(err);
    err = NULL;
    if (df_expand_heredoc(&cx, line, &out, &err) == 0)
        free(out);
    kiln_error_free(err);
    err = NULL;
    df_split_words(line, '\\', &v, &nv);
    df_strv_free(v, nv);
    struct df_instr *ins = NULL;
    if (df_parse_instr(line, '\\', "trigger", &ins, &err) == 0)
        df_instr_free(ins);
    kiln_error_free(err);
    err = NULL;
    struct df_mount m;
    if (df_mount_parse(line, &m, &err) == 0)
        df_mount_release(&m);
    kiln_error_free(err);
    err = NULL;
    struct df_platform p;
    if (df_platform_parse(line, &p, &err) == 0)
        df_platform_release(&p);
    kiln_error_free(err);
    long long ns;
    df_parse_duration(line, &ns);
    if (di != NULL)
        dockerignore_excluded(di, line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    const char *s = (const char *)data;
    fuzz_dockerfile(s, size);

    struct dockerignore *di = NULL;
    struct kiln_error *err = NULL;
    if (dockerignore_parse(s, size, &di, &err) < 0) {
        kiln_error_free(err);
        di = NULL;
    }
    /* each NUL-free line on its own */
    char *copy = malloc(size + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    for (char *line = copy, *next; line != NULL && line < copy + size; line = next) {
        char *nl = memchr(line, '\n', (size_t)(copy + size - line));
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        if (memchr(line, '\0', (size_t)((nl ? nl : copy + size) - line)) == NULL)
            fuzz_line(line, di);
    }
    free(copy);
    if (di != NULL) {
        dockerignore_excluded(di, "a/b/c.txt");
        dockerignore_excluded(di, "node_modules/x/y");
        dockerignore_excluded(di, ".");
    }
    dockerignore_free(di);
    return 0;
}
