/* kiln build, until the build executor lands: only --dry-run, which prints
 * the plan (stages in order, each step expanded, why other stages are
 * skipped). The build engineer's src/cli/build.c replaces this file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "dockerfile/dockerfile.h"
#include "dockerfile/eval.h"
#include "dockerfile/graph.h"
#include "dockerfile/plan.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

#define MAX_ARGS 256

static void print_warning(void *ud, const struct df_warning *w)
{
    const char *file = ud;
    cli_warn("%s:%d:%d: %s (%s)", file, w->pos.line, w->pos.col, w->msg, w->rule);
}

static int dry_run(const char *file, const char *target, const char *platform,
                   const char *const *args, size_t n_args)
{
    struct dockerfile *df = NULL;
    struct df_eval *ev = NULL;
    struct df_graph *g = NULL;
    struct kiln_error *err = NULL;
    cleanup_strbuf struct strbuf out = STRBUF_INIT;
    struct df_eval_opts o = {
        .build_args = args, .n_build_args = n_args, .target_platform = platform};
    int rc = EXIT_OK;
    if (df_parse_file(file, &df, &err) < 0 || df_eval_new(df, &o, &ev, &err) < 0) {
        rc = cli_fail(err);
        goto out;
    }
    df_eval_set_warn(ev, print_warning, df->file);
    if (df_graph_build(ev, target, &g, &err) < 0 || df_plan_render(ev, g, &out, &err) < 0) {
        rc = cli_fail(err);
        goto out;
    }
    fputs(out.buf, stdout);
out:
    df_graph_free(g);
    df_eval_free(ev);
    df_free(df);
    return rc;
}

static int cmd_build(struct cli_global *gl, int argc, char **argv)
{
    (void)gl;
    static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'},
        {"target", required_argument, NULL, 'T'},
        {"build-arg", required_argument, NULL, 'b'},
        {"platform", required_argument, NULL, 'P'},
        {"tag", required_argument, NULL, 't'},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL, *target = NULL, *platform = NULL;
    const char *args[MAX_ARGS];
    size_t n_args = 0;
    int dry = 0, c;
    while ((c = getopt_long(argc, argv, "+f:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            file = optarg;
            break;
        case 'T':
            target = optarg;
            break;
        case 'P':
            platform = optarg;
            break;
        case 't':
            break; /* tags matter only to a real build */
        case 'b':
            if (n_args == MAX_ARGS)
                return cli_usage_error("build", "too many --build-arg (at most %d)", MAX_ARGS);
            if (strchr(optarg, '=') == NULL) {
                const char *v = getenv(optarg); /* docker: --build-arg NAME takes $NAME */
                if (v == NULL)
                    continue;
                optarg = xasprintf("%s=%s", optarg, v); /* lives until exit */
            }
            args[n_args++] = optarg;
            break;
        case 'n':
            dry = 1;
            break;
        case 'h':
            return cli_print_help("build");
        default:
            return cli_usage_error("build", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("build", "give exactly one CONTEXT directory");
    if (!dry) {
        fprintf(stderr, "kiln build: building is not implemented in this version yet; use "
                        "--dry-run\n");
        return EXIT_FAIL;
    }
    cleanup_free char *path = file ? xstrdup(file) : path_join(argv[optind], "Dockerfile");
    return dry_run(path, target, platform, args, n_args);
}

const struct cli_command cli_cmd_build = {
    .name = "build",
    .run = cmd_build,
    .summary = "build an image from a Dockerfile (for now: --dry-run prints the plan)",
    .usage = "Usage: kiln build --dry-run [-f DOCKERFILE] [--target STAGE] [--build-arg K=V]...\n"
             "                  [--platform OS/ARCH] CONTEXT\n"
             "\n"
             "Prints the build plan: the stages that will run, in dependency order and in\n"
             "waves that can run in parallel, each step with its variables expanded, and\n"
             "why the other stages are skipped. Building itself comes with the build\n"
             "executor; without --dry-run this version fails.\n"
             "\n"
             "  -f, --file PATH     the Dockerfile (default CONTEXT/Dockerfile)\n"
             "  --target STAGE      build this stage (default: the last)\n"
             "  --build-arg K=V     set a build arg (K alone takes $K from the environment)\n"
             "  --platform P        the target platform (default: this machine's)\n"
             "  --dry-run           print the plan, build nothing\n",
};
