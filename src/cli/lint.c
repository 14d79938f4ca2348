/* kiln lint: checks a Dockerfile the way `docker build --check` does,
 * without building: syntax errors, the build checks, the stage graph for
 * the target. Prints FILE:LINE:COL findings, or JSON with --format json. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "dockerfile/dockerfile.h"
#include "dockerfile/dockerignore.h"
#include "dockerfile/eval.h"
#include "dockerfile/graph.h"
#include "dockerfile/lint.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

#define MAX_ARGS       256
#define MAX_DOCKERFILE (16u << 20)

struct lint_opts {
    const char *file, *target, *format, *context;
    const char *build_args[MAX_ARGS];
    size_t n_build_args;
    struct store *store; /* NULL when there is none yet */
};

/* df_image_env_fn over the store: the image's config Env, if it is there. */
static int store_image_env(void *ud, const char *image, char ***env, size_t *n)
{
    struct store *s = ud;
    struct image *img = NULL;
    struct kiln_error *e = NULL;
    if (s == NULL || store_image_load(s, image, &img, &e) < 0) {
        kiln_error_free(e);
        return 0;
    }
    json_t *cfg = json_object_get(img->config_json, "config");
    json_t *ev = json_object_get(cfg, "Env");
    size_t cnt = json_is_array(ev) ? json_array_size(ev) : 0;
    *env = xcalloc(cnt + 1, sizeof(char *));
    *n = 0;
    for (size_t i = 0; i < cnt; i++)
        if (json_is_string(json_array_get(ev, i)))
            (*env)[(*n)++] = xstrdup(json_string_value(json_array_get(ev, i)));
    image_free(img);
    return 1;
}

/* The store, if one exists at the root in effect (lint never creates it). */
static struct store *open_existing_store(const struct cli_global *g)
{
    cleanup_free char *root = cli_store_root(g);
    cleanup_free char *index = path_join(root, "index.json");
    struct store *s = NULL;
    struct kiln_error *e = NULL;
    if (access(index, F_OK) != 0 || store_open(root, &s, &e) < 0) {
        kiln_error_free(e);
        return NULL;
    }
    return s;
}

static void collect_warning(void *ud, const struct df_warning *w)
{
    df_warnings_add(ud, w->rule, w->pos, w->msg);
}

/* "FILE:L:C: msg" -> line, col, msg (0, 0, whole text when not in that form). */
static const char *split_position(const char *file, const char *msg, int *line, int *col)
{
    size_t fl = strlen(file);
    *line = *col = 0;
    if (strncmp(msg, file, fl) == 0 && msg[fl] == ':') {
        int used = 0;
        if (sscanf(msg + fl + 1, "%d:%d: %n", line, col, &used) == 2 && used > 0)
            return msg + fl + 1 + used;
    }
    *line = *col = 0;
    return msg;
}

static int read_dockerfile(const char *path, char **data, size_t *len, struct kiln_error **err)
{
    if (strcmp(path, "-") != 0)
        return read_file(path, MAX_DOCKERFILE, data, len, err);
    struct strbuf sb = STRBUF_INIT;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
        strbuf_add(&sb, buf, n);
        if (sb.len > MAX_DOCKERFILE) {
            strbuf_release(&sb);
            return kiln_error_set(err, KILN_E_INVALID, "Dockerfile on stdin is too large");
        }
    }
    *len = sb.len;
    *data = strbuf_detach(&sb);
    return 0;
}

/* Everything a lint run finds. The error (if any) stops the run. */
struct findings {
    struct df_warnings warnings;
    struct kiln_error *error;
    const char *file;
};

static void run_checks(const struct lint_opts *o, const char *path, struct findings *f)
{
    cleanup_free char *data = NULL;
    size_t len = 0;
    struct dockerfile *df = NULL;
    struct df_eval *ev = NULL;
    struct df_graph *g = NULL;
    struct dockerignore *di = NULL;
    if (read_dockerfile(path, &data, &len, &f->error) < 0)
        return;
    if (df_parse(data, len, f->file, &df, &f->error) < 0)
        return;
    for (size_t i = 0; i < df->n_warnings; i++)
        df_warnings_add(&f->warnings, df->warnings[i].rule, df->warnings[i].pos,
                        df->warnings[i].msg);
    struct stat st;
    if (o->context && stat(o->context, &st) == 0 && S_ISDIR(st.st_mode)) {
        struct kiln_error *e = NULL;
        if (dockerignore_load(o->context, strcmp(path, "-") ? path : NULL, &di, NULL, &e) < 0) {
            f->error = e;
            goto out;
        }
    }
    df_lint(df, di, &f->warnings);
    struct df_eval_opts eo = {
        .build_args = o->build_args, .n_build_args = o->n_build_args, .lint = 1};
    if (df_eval_new(df, &eo, &ev, &f->error) < 0)
        goto out;
    df_eval_set_warn(ev, collect_warning, &f->warnings);
    if (df_graph_build(ev, o->target, &g, &f->error) < 0)
        goto out;
    /* expand every step of every needed stage, as a build would, each from
     * its base image's ENV when the store has the image */
    if (df_lint_steps(ev, g, store_image_env, o->store, &f->error) < 0)
        goto out;
    const char **unused;
    size_t nu = df_eval_unused_args(ev, &unused);
    for (size_t i = 0; i < nu; i++) {
        char *msg = xasprintf("build arg \"%s\" was given but no stage declares it", unused[i]);
        df_warnings_add(&f->warnings, "UnusedBuildArg", (struct df_pos){0, 0}, msg);
        free(msg);
    }
    free(unused);
out:
    /* drop what "# check=skip=..." turns off */
    for (size_t i = 0; i < f->warnings.n;) {
        if (df_check_skipped(df, f->warnings.v[i].rule)) {
            free(f->warnings.v[i].rule);
            free(f->warnings.v[i].msg);
            memmove(&f->warnings.v[i], &f->warnings.v[i + 1],
                    (f->warnings.n - i - 1) * sizeof(*f->warnings.v));
            f->warnings.n--;
        } else {
            i++;
        }
    }
    if (f->error == NULL && f->warnings.n > 0 && df_check_error(df))
        kiln_error_set(&f->error, KILN_E_INVALID,
                       "%s: %zu warning%s, and the check directive says error=true", f->file,
                       f->warnings.n, f->warnings.n == 1 ? "" : "s");
    df_warnings_sort(&f->warnings);
    df_graph_free(g);
    df_eval_free(ev);
    dockerignore_free(di);
    df_free(df);
}

static void print_text(const struct findings *f)
{
    for (size_t i = 0; i < f->warnings.n; i++) {
        const struct df_warning *w = &f->warnings.v[i];
        if (w->pos.line > 0)
            printf("%s:%d:%d: warning: %s (%s)\n", f->file, w->pos.line, w->pos.col, w->msg,
                   w->rule);
        else
            printf("%s: warning: %s (%s)\n", f->file, w->msg, w->rule);
    }
    if (f->error != NULL)
        fprintf(stderr, "%s\n", f->error->msg);
    if (f->error == NULL && f->warnings.n == 0)
        printf("%s: no problems found\n", f->file);
}

static void print_json(const struct findings *f)
{
    json_t *root = json_object();
    json_t *ws = json_array();
    for (size_t i = 0; i < f->warnings.n; i++) {
        const struct df_warning *w = &f->warnings.v[i];
        json_array_append_new(ws, json_pack("{s:s, s:s?, s:s, s:i, s:i}", "rule", w->rule,
                                            "message", w->msg, "file", f->file, "line", w->pos.line,
                                            "column", w->pos.col));
    }
    json_object_set_new(root, "warnings", ws);
    if (f->error != NULL) {
        int line, col;
        const char *msg = split_position(f->file, f->error->msg, &line, &col);
        json_object_set_new(root, "error",
                            json_pack("{s:s?, s:s, s:i, s:i}", "message", msg, "file", f->file,
                                      "line", line, "column", col));
    } else {
        json_object_set_new(root, "error", json_null());
    }
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s != NULL)
        puts(s);
    free(s);
    json_decref(root);
}

static struct lint_opts lint_o = {.format = "text"};

/* --build-arg K=V, or NAME taking $NAME as docker does (left out when unset). */
static int lint_build_arg(void *ctx, const struct cli_opt *opt, const char *arg)
{
    struct lint_opts *o = ctx;
    if (o->n_build_args == MAX_ARGS)
        return cli_opt_error(opt, "too many (at most %d)", MAX_ARGS);
    if (strchr(arg, '=') == NULL) {
        const char *v = getenv(arg);
        if (v == NULL)
            return 0;
        arg = xasprintf("%s=%s", arg, v); /* lives until exit */
    }
    o->build_args[o->n_build_args++] = arg;
    return 0;
}

static const struct cli_opt lint_opts[] = {
    {'f', "file", CLI_OPT_STRING, &lint_o.file, "PATH",
     "the Dockerfile (default CONTEXT/Dockerfile; - for stdin)", NULL},
    {0, "target", CLI_OPT_STRING, &lint_o.target, "STAGE",
     "check the stages STAGE needs (default: the last stage)", NULL},
    {0, "build-arg", CLI_OPT_FUNC, &lint_o, "K=V", "a build arg, as for kiln build",
     lint_build_arg},
    {0, "format", CLI_OPT_STRING, &lint_o.format, "FORMAT", "text (default) or json", NULL},
    CLI_OPT_END,
};

static const struct cli_spec lint_spec = {
    .name = "lint",
    .args = "[CONTEXT | DOCKERFILE]",
    .summary = "check a Dockerfile for errors and doubtful constructs without building",
    .text = "Checks a Dockerfile like `docker build --check`: syntax errors stop the check\n"
            "with FILE:LINE:COL and a reason; warnings name the rule they come from\n"
            "(JSONArgsRecommended, MaintainerDeprecated, ...). The stages the target needs\n"
            "are expanded as a build would, so missing required args and bad --from values\n"
            "are found too. A \"# check=skip=Rule,...;error=true\" directive is honoured.\n"
            "A file given in place of CONTEXT is the Dockerfile (its directory the context).\n"
            "\n"
            "Exit status: 0 no errors (warnings may be printed), 1 errors, 2 usage.\n",
    .opts = lint_opts,
    .max_args = 1,
};

static int cmd_lint(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&lint_spec, argc, argv);
    if (first <= 0)
        return -first;
    struct lint_opts o = lint_o;
    if (strcmp(o.format, "text") != 0 && strcmp(o.format, "json") != 0)
        return cli_usage_error("lint", "--format must be text or json, not \"%s\"", o.format);
    o.context = first < argc ? argv[first] : ".";
    /* `kiln lint path/to/Dockerfile`, as people type for hadolint: a file given
     * where the context goes is the Dockerfile, and its directory the context. */
    cleanup_free char *file_dir = NULL;
    struct stat st;
    if (!o.file && stat(o.context, &st) == 0 && !S_ISDIR(st.st_mode)) {
        o.file = o.context;
        const char *slash = strrchr(o.context, '/');
        file_dir = slash ? xstrndup(o.context, (size_t)(slash - o.context) + 1) : xstrdup(".");
        o.context = file_dir;
    }
    cleanup_free char *path = o.file                        ? xstrdup(o.file)
                              : strcmp(o.context, ".") == 0 ? xstrdup("Dockerfile")
                                                            : path_join(o.context, "Dockerfile");

    struct findings f = {{NULL, 0, 0}, NULL, path};
    if (strcmp(path, "-") == 0)
        f.file = "Dockerfile";
    o.store = open_existing_store(g);
    run_checks(&o, path, &f);
    store_close(o.store);
    if (strcmp(o.format, "json") == 0)
        print_json(&f);
    else
        print_text(&f);
    int rc = f.error ? EXIT_FAIL : EXIT_OK;
    kiln_error_free(f.error);
    df_warnings_release(&f.warnings);
    return rc;
}

const struct cli_command cli_cmd_lint = {
    .name = "lint",
    .run = cmd_lint,
    .spec = &lint_spec,
};
