/* kiln build: flags after `docker buildx build`, then build_run() and the
 * tags, --iidfile and --output the user asked for. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "build/build.h"
#include "build/epoch.h"
#include "cli/cli.h"
#include "cli/opt.h"
#include "cli/registry_opts.h"
#include "dockerfile/eval.h"
#include "dockerfile/graph.h"
#include "dockerfile/plan.h"
#include "store/layer.h"
#include "store/reference.h"
#include "store/store.h"
#include "sbom/sbom.h"
#include "runtime/runtime.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/platform.h"
#include "util/strbuf.h"

#define MAX_LIST 256

/* cleanup for an array of allocated strings (cleanup_free frees only the first) */
static void free_list(char *(*v)[MAX_LIST])
{
    for (size_t i = 0; i < MAX_LIST; i++)
        free((*v)[i]);
}

struct build_flags {
    struct cli_strv tags, args, labels, secrets, ssh, cache_from, cache_to;
    const char *file, *target, *platform, *progress, *output, *iidfile, *network;
    const char *sbom; /* --sbom[=FORMATS]: "" for the default formats */
    int no_cache, quiet, dry_run, print_args, jobs, push;
    enum build_pull pull;
    struct registry_opts registry;
    const char *context;
};

static struct build_flags bf;

static int parse_pull(void *ctx, const struct cli_opt *opt, const char *arg)
{
    enum build_pull *pull = ctx;
    if (arg == NULL || strcmp(arg, "always") == 0 || strcmp(arg, "true") == 0)
        *pull = BUILD_PULL_ALWAYS;
    else if (strcmp(arg, "missing") == 0)
        *pull = BUILD_PULL_MISSING;
    else if (strcmp(arg, "never") == 0 || strcmp(arg, "false") == 0)
        *pull = BUILD_PULL_NEVER;
    else
        return cli_opt_error(opt, "%s: use always, missing or never", arg);
    return 0;
}

static int parse_jobs(void *ctx, const struct cli_opt *opt, const char *arg)
{
    int *jobs = ctx;
    *jobs = atoi(arg);
    if (*jobs < 1)
        return cli_opt_error(opt, "%s: give a number of at least 1", arg);
    return 0;
}

static int parse_sbom(void *ctx, const struct cli_opt *opt, const char *arg)
{
    (void)opt;
    *(const char **)ctx = arg ? arg : "";
    return 0;
}

static const struct cli_opt build_opts[] = {
    {'t', "tag", CLI_OPT_LIST, &bf.tags, "NAME",
     "name the image (repeatable); tags move only on success", NULL},
    {'f', "file", CLI_OPT_STRING, &bf.file, "FILE", "the Dockerfile (default: CONTEXT/Dockerfile)",
     NULL},
    {0, "target", CLI_OPT_STRING, &bf.target, "STAGE", "build this stage (default: the last)",
     NULL},
    {0, "build-arg", CLI_OPT_LIST, &bf.args, "K=V", "set a build argument (repeatable)", NULL},
    {0, "no-cache", CLI_OPT_FLAG, &bf.no_cache, NULL, "run every step, ignoring the build cache",
     NULL},
    {0, "cache-to", CLI_OPT_LIST, &bf.cache_to, "SPEC",
     "export the steps' cache (repeatable):\n"
     "type=registry,ref=REG/NAME:TAG[,mode=min|max],\n"
     " type=local,dest=DIR (an OCI layout) or\n"
     "type=inline (in the image: push it with --push)",
     NULL},
    {0, "cache-from", CLI_OPT_LIST, &bf.cache_from, "SPEC",
     "steps found in another machine's cache (repeatable, tried in\n"
     "order after this store's): type=registry,ref=REF,\n"
     "type=local,src=DIR, or an image (store or registry) built with\n"
     "--cache-to type=inline. Unreachable or missing: a warning\n"
     "and a cold build; a layer whose bytes do not match: refused\n"
     "with a warning, its step runs",
     NULL},
    {0, "pull", CLI_OPT_FUNC_OPTARG, &bf.pull, "POLICY",
     "base images: missing (default), always or never", parse_pull},
    {0, "platform", CLI_OPT_STRING, &bf.platform, "P[,P..]",
     "target platform(s), e.g. linux/arm64 or\n"
     "linux/amd64,linux/arm64 (an image index); foreign ones\n"
     "run under QEMU (qemu-user-static, binfmt_misc)",
     NULL},
    {0, "progress", CLI_OPT_STRING, &bf.progress, "MODE", "auto, tty, plain, json or quiet", NULL},
    {'o', "output", CLI_OPT_STRING, &bf.output, "SPEC",
     "also write type=oci|oci-archive|docker-archive|tar|local,\ndest=PATH", NULL},
    {0, "label", CLI_OPT_LIST, &bf.labels, "K=V", "add a label to the image (repeatable)", NULL},
    {0, "secret", CLI_OPT_LIST, &bf.secrets, "id=ID,src=FILE",
     "a secret for RUN --mount=type=secret (repeatable)", NULL},
    {0, "ssh", CLI_OPT_LIST, &bf.ssh, "ID[=SOCKET]",
     "an SSH agent for RUN --mount=type=ssh (default:\n$SSH_AUTH_SOCK; repeatable)", NULL},
    {0, "network", CLI_OPT_STRING, &bf.network, "MODE",
     "network of RUN steps: host (default), none, or private\n"
     "(a namespace of its own reaching out through slirp4netns)",
     NULL},
    {'j', "jobs", CLI_OPT_FUNC, &bf.jobs, "N", "steps run at once (default: number of CPUs)",
     parse_jobs},
    {0, "iidfile", CLI_OPT_STRING, &bf.iidfile, "FILE", "write the image id to FILE", NULL},
    {'q', "quiet", CLI_OPT_FLAG, &bf.quiet, NULL, "print only the image id", NULL},
    {0, "dry-run", CLI_OPT_FLAG, &bf.dry_run, NULL, "print the build plan and exit", NULL},
    {0, "print-args", CLI_OPT_FLAG, &bf.print_args, NULL,
     "print the ARGs the target's stages (and the global ARGs)\n"
     "declare, one a line, and exit: the build args it uses",
     NULL},
    {0, "push", CLI_OPT_FLAG, &bf.push, NULL, "push every -t NAME to its registry after the build",
     NULL},
    {0, "sbom", CLI_OPT_FUNC_OPTARG, &bf.sbom, "FORMATS",
     "attach the image's SBOM (kiln sbom) to it as an OCI\n"
     "referrer: spdx-json,cyclonedx-json (default both);\n"
     "kiln push sends it along, kiln sbom --attached reads it;\n"
     "with several --platform, one per platform's image",
     parse_sbom},
    CLI_REGISTRY_OPTS(&bf.registry),
    CLI_OPT_END,
};

static const struct cli_spec build_spec = {
    .name = "build",
    .args = "CONTEXT",
    .summary = "Build an image from a Dockerfile",
    .text =
        "Build an image from the Dockerfile in CONTEXT (a directory, or - for a tar on stdin).\n"
        "Steps whose inputs did not change are taken from the build cache.\n"
        "The registry options apply to pulls of base images and to --push.\n"
        "\n"
        "The build's epoch (image created time, history, clamped file times) is\n"
        "SOURCE_DATE_EPOCH, else the commit time of the context's git HEAD, else 0.\n",
    .opts = build_opts,
    .min_args = 1,
    .max_args = 1,
};

static int dry_run(const struct build_flags *f, const char *dockerfile)
{
    struct dockerfile *df = NULL;
    struct df_eval *ev = NULL;
    struct df_graph *g = NULL;
    struct kiln_error *err = NULL;
    cleanup_strbuf struct strbuf out = STRBUF_INIT;
    int rc = EXIT_OK;
    struct df_eval_opts eo = {.build_args = f->args.v, .n_build_args = f->args.n};
    if (df_parse_file(dockerfile, &df, &err) < 0 || df_eval_new(df, &eo, &ev, &err) < 0 ||
        df_graph_build(ev, f->target, &g, &err) < 0)
        rc = cli_fail(err);
    else if (f->print_args)
        df_plan_args(df, g, &out);
    else if (df_plan_render(ev, g, &out, &err) < 0)
        rc = cli_fail(err);
    if (rc == EXIT_OK && out.len > 0)
        fputs(out.buf, stdout);
    df_graph_free(g);
    df_eval_free(ev);
    df_free(df);
    return rc;
}

/* A tar on stdin becomes a directory in the store's scratch area. */
static int unpack_stdin(struct store *s, char **dir, struct kiln_error **err)
{
    char *d = xasprintf("%s/context-XXXXXX", store_scratch_dir(s));
    if (mkdtemp(d) == NULL) {
        int e = errno;
        free(d);
        return kiln_error_errno(err, e, "create a directory for the context");
    }
    cleanup_close int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct layer_extract_opts o = {.whiteouts = LAYER_WHITEOUT_FLATTEN};
    if (dfd < 0 || layer_extract(0, dfd, &o, NULL, err) < 0) {
        free(d);
        return kiln_error_prefix(err, "build context from stdin");
    }
    *dir = d;
    return 0;
}

/* Runs this kiln again (save/export live in their own commands). */
static int run_self(const char *const *argv, struct kiln_error **err)
{
    pid_t pid = fork();
    if (pid < 0)
        return kiln_error_errno(err, errno, "fork");
    if (pid == 0) {
        execv("/proc/self/exe", (char *const *)argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return kiln_error_set(err, KILN_E_FAIL, "kiln %s failed", argv[3]);
    return 0;
}

static int extract_tar_file(const char *tar, const char *dest, struct kiln_error **err)
{
    if (mkdir_p(dest, 0755, err) < 0)
        return -1;
    cleanup_close int in = open(tar, O_RDONLY | O_CLOEXEC);
    cleanup_close int dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (in < 0 || dfd < 0)
        return kiln_error_errno(err, errno, "open %s", in < 0 ? tar : dest);
    struct layer_extract_opts o = {.whiteouts = LAYER_WHITEOUT_FLATTEN, .allow_devices = true};
    return layer_extract(in, dfd, &o, NULL, err);
}

/* --output type=...,dest=...: archives through `kiln save` / `kiln export`;
 * oci (a layout directory) and local (the root file system) unpack those. */
static int do_output(struct store *s, const char *root, const char *spec, const char *image,
                     struct kiln_error **err)
{
    cleanup_free char *copy = xstrdup(spec);
    const char *type = NULL, *dest = NULL;
    char *save = NULL;
    for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        if (strncmp(f, "type=", 5) == 0)
            type = f + 5;
        else if (strncmp(f, "dest=", 5) == 0)
            dest = f + 5;
        else if (strchr(f, '=') == NULL && type == NULL)
            dest = f, type = "local";
    }
    if (type == NULL || dest == NULL)
        return kiln_error_set(err, KILN_E_USAGE,
                              "--output %s: give type=oci|oci-archive|docker-archive|tar|local,"
                              "dest=PATH",
                              spec);
    int unpack = strcmp(type, "oci") == 0 || strcmp(type, "local") == 0;
    cleanup_free char *tmp = unpack ? xasprintf("%s/output.tar", store_scratch_dir(s)) : NULL;
    const char *file = unpack ? tmp : dest;
    const char *argv[10] = {"kiln", "--root", root};
    if (strcmp(type, "oci-archive") == 0 || strcmp(type, "oci") == 0 ||
        strcmp(type, "docker-archive") == 0) {
        argv[3] = "save";
        argv[4] = "--format";
        argv[5] = strcmp(type, "docker-archive") == 0 ? "docker-archive" : "oci-archive";
        argv[6] = "-o";
        argv[7] = file;
        argv[8] = image;
    } else if (strcmp(type, "tar") == 0 || strcmp(type, "local") == 0) {
        argv[3] = "export";
        argv[4] = image;
        argv[5] = "-o";
        argv[6] = file;
    } else {
        return kiln_error_set(err, KILN_E_USAGE,
                              "--output type=%s: use oci, oci-archive, docker-archive, tar or "
                              "local",
                              type);
    }
    int rc = run_self(argv, err);
    if (rc == 0 && unpack)
        rc = extract_tar_file(tmp, dest, err);
    if (tmp != NULL)
        unlink(tmp);
    return rc < 0 ? kiln_error_prefix(err, "--output %s", spec) : 0;
}

struct push_ctx {
    struct progress *p;
    int quiet; /* warnings only */
};

/* Registry events of --push as build progress lines. */
static void push_progress(void *ctx, const struct registry_progress *p)
{
    struct push_ctx *pc = ctx;
    struct progress *pr = pc->p;
    const char *hex = p->digest ? p->digest + strlen("sha256:") : "";
    if (pc->quiet && p->event != REGISTRY_EV_RETRY && p->event != REGISTRY_EV_WARNING)
        return;
    switch (p->event) {
    case REGISTRY_EV_BLOB_DONE:
        progress_message(pr, "=> %.12s pushed (%llu bytes)", hex, (unsigned long long)p->total);
        break;
    case REGISTRY_EV_BLOB_EXISTS:
        progress_message(pr, "=> %.12s already exists", hex);
        break;
    case REGISTRY_EV_BLOB_MOUNTED:
        progress_message(pr, "=> %.12s mounted", hex);
        break;
    case REGISTRY_EV_RETRY:
    case REGISTRY_EV_WARNING:
        progress_message(pr, "warning: %s", p->message);
        break;
    default:
        break;
    }
}

/* --push: every tag goes to its registry. */
static int push_tags(struct store *s, const struct build_flags *f, struct progress *p,
                     struct kiln_error **err)
{
    struct push_ctx pc = {p, f->quiet};
    struct registry_opts ro = f->registry;
    ro.progress = push_progress;
    ro.progress_ctx = &pc;
    for (size_t i = 0; i < f->tags.n; i++) {
        if (!f->quiet)
            progress_message(p, "=> pushing %s", f->tags.v[i]);
        cleanup_free char *digest = NULL;
        if (registry_push(s, f->tags.v[i], NULL, &ro, &digest, err) < 0)
            return kiln_error_prefix(err, "--push %s", f->tags.v[i]);
        if (!f->quiet)
            progress_message(p, "=> pushed %s %s", f->tags.v[i], digest);
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_build(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&build_spec, argc, argv);
    if (first <= 0)
        return -first;
    struct build_flags f = bf;
    f.context = argv[first];
    const struct cli_strv *lists[] = {&f.tags, &f.args,       &f.labels,  &f.secrets,
                                      &f.ssh,  &f.cache_from, &f.cache_to};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        if (lists[i]->n > MAX_LIST)
            return cli_usage_error("build", "too many values for one option (at most %d)",
                                   MAX_LIST);
    if (f.push && f.tags.n == 0)
        return cli_usage_error("build", "--push needs a name to push to: give -t "
                                        "REGISTRY/NAME[:TAG]");
    double t0 = now_s();
    int from_stdin = strcmp(f.context, "-") == 0;
    cleanup_free char *dockerfile = f.file       ? xstrdup(f.file)
                                    : from_stdin ? NULL
                                                 : path_join(f.context, "Dockerfile");
    if (f.dry_run || f.print_args) {
        if (dockerfile == NULL)
            return cli_usage_error("build", "%s with a context on stdin needs -f",
                                   f.dry_run ? "--dry-run" : "--print-args");
        return dry_run(&f, dockerfile);
    }
    struct kiln_error *err = NULL;
    cleanup_free struct platform *plats = NULL;
    size_t n_plats = 1;
    if (f.platform != NULL) {
        if (platform_parse_list(f.platform, &plats, &n_plats, &err) < 0) {
            err->code = KILN_E_USAGE; /* bad --platform: exit status 2, as other flags */
            return cli_fail(err);
        }
        if (n_plats > 1 && f.output != NULL)
            return cli_usage_error("build", "--output with several platforms is not supported: "
                                            "tag the index and use kiln save or push");
    } else {
        plats = xcalloc(1, sizeof(*plats));
        platform_host(plats);
    }
    int net_none = 0;
    if (f.network != NULL) {
        if (strcmp(f.network, "none") == 0)
            net_none = 1;
        else if (strcmp(f.network, "private") == 0 || strcmp(f.network, "bridge") == 0)
            net_none = 2;
        else if (strcmp(f.network, "host") != 0 && strcmp(f.network, "default") != 0)
            return cli_usage_error("build", "--network=%s: use host, none or private", f.network);
    }
    for (size_t i = 0; i < f.tags.n; i++) {
        struct reference r;
        if (reference_parse(f.tags.v[i], &r, &err) < 0)
            return cli_fail(err);
        reference_release(&r);
    }
    struct build_secret secrets[MAX_LIST];
    __attribute__((cleanup(free_list))) char *secret_buf[MAX_LIST] = {0};
    for (size_t i = 0; i < f.secrets.n; i++) {
        char *s = secret_buf[i] = xstrdup(f.secrets.v[i]);
        secrets[i].id = secrets[i].src = NULL;
        char *save = NULL;
        for (char *kv = strtok_r(s, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
            if (strncmp(kv, "id=", 3) == 0)
                secrets[i].id = kv + 3;
            else if (strncmp(kv, "src=", 4) == 0 || strncmp(kv, "source=", 7) == 0)
                secrets[i].src = strchr(kv, '=') + 1;
        }
        if (secrets[i].id == NULL || secrets[i].src == NULL)
            return cli_usage_error("build", "--secret %s: give id=ID,src=FILE", f.secrets.v[i]);
        if (!path_exists(secrets[i].src))
            return cli_usage_error("build", "--secret %s: %s does not exist", f.secrets.v[i],
                                   secrets[i].src);
    }
    /* --ssh ID (the agent at $SSH_AUTH_SOCK) or ID=SOCKET */
    struct build_ssh ssh[MAX_LIST];
    __attribute__((cleanup(free_list))) char *ssh_buf[MAX_LIST] = {0};
    for (size_t i = 0; i < f.ssh.n; i++) {
        char *s = ssh_buf[i] = xstrdup(f.ssh.v[i]);
        char *eq = strchr(s, '=');
        if (eq)
            *eq++ = '\0';
        ssh[i].id = s;
        ssh[i].socket = eq ? eq : getenv("SSH_AUTH_SOCK");
        if (s[0] == '\0' || ssh[i].socket == NULL || ssh[i].socket[0] == '\0')
            return cli_usage_error("build",
                                   "--ssh %s: give ID=SOCKET, or set SSH_AUTH_SOCK for --ssh %s",
                                   f.ssh.v[i], s[0] ? s : "default");
        if (strchr(ssh[i].socket, ',') != NULL)
            return cli_usage_error("build", "--ssh %s: give one agent socket per id", f.ssh.v[i]);
        struct stat sst;
        if (stat(ssh[i].socket, &sst) < 0 || !S_ISSOCK(sst.st_mode))
            return cli_usage_error("build",
                                   "--ssh %s: %s is not an agent socket (key files are not "
                                   "supported: load them with ssh-add)",
                                   f.ssh.v[i], ssh[i].socket);
    }
    enum progress_mode pm = PROGRESS_PLAIN;
    if (f.quiet)
        pm = PROGRESS_QUIET;
    else if (f.progress == NULL || strcmp(f.progress, "auto") == 0)
        pm = isatty(2) ? PROGRESS_TTY : PROGRESS_PLAIN;
    else if (strcmp(f.progress, "tty") == 0)
        pm = PROGRESS_TTY;
    else if (strcmp(f.progress, "plain") == 0)
        pm = PROGRESS_PLAIN;
    else if (strcmp(f.progress, "json") == 0 || strcmp(f.progress, "rawjson") == 0)
        pm = PROGRESS_JSON;
    else if (strcmp(f.progress, "quiet") == 0)
        pm = PROGRESS_QUIET;
    else
        return cli_usage_error("build", "--progress=%s: use auto, tty, plain, json or quiet",
                               f.progress);

    cleanup_free char *root = cli_store_root(g);
    /* Rootless with a subuid range, the whole build runs as root of one user
     * namespace mapped as its RUN steps' (as buildah does): layers are unpacked
     * with their owners, upper dirs with other users' private directories are
     * readable to commit, cache mounts get their uid=. The store stays the
     * user's (root is known). */
    if (geteuid() != 0) {
        int entered = rt_userns_enter_rootless(&err);
        if (entered < 0)
            return cli_fail(err);
        if (entered == 0)
            rt_rootless_owners_note();
    }
    cleanup_store struct store *store = NULL;
    if (store_open(root, &store, &err) < 0)
        return cli_fail(err);
    cleanup_free char *ctxdir = NULL;
    if (from_stdin) {
        if (unpack_stdin(store, &ctxdir, &err) < 0)
            return cli_fail(err);
        if (dockerfile == NULL)
            dockerfile = path_join(ctxdir, "Dockerfile");
    } else {
        struct stat st;
        if (stat(f.context, &st) < 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "kiln: build context \"%s\" is not a directory\n", f.context);
            return EXIT_FAIL;
        }
        ctxdir = xstrdup(f.context);
    }
    int64_t epoch = 0;
    if (build_epoch(getenv("SOURCE_DATE_EPOCH"), from_stdin ? NULL : ctxdir, &epoch, &err) < 0)
        return cli_fail(err);

    struct progress *p = progress_new(pm, 2);
    struct build_opts o = {.store = store,
                           .context_dir = ctxdir,
                           .dockerfile = dockerfile,
                           .target = f.target,
                           .build_args = f.args.v,
                           .n_build_args = f.args.n,
                           .labels = f.labels.v,
                           .n_labels = f.labels.n,
                           .secrets = secrets,
                           .n_secrets = f.secrets.n,
                           .ssh = ssh,
                           .n_ssh = f.ssh.n,
                           .no_cache = f.no_cache,
                           .cache_from = f.cache_from.v,
                           .n_cache_from = f.cache_from.n,
                           .cache_to = f.cache_to.v,
                           .n_cache_to = f.cache_to.n,
                           .pull = f.pull,
                           .registry = &f.registry,
                           .network_none = net_none,
                           .jobs = f.jobs,
                           .epoch = epoch,
                           .progress = p};
    struct build_result res;
    int rc = build_run_platforms(&o, plats, n_plats, &res, &err);
    if (rc == 0) {
        for (size_t i = 0; i < f.tags.n && rc == 0; i++)
            rc = store_tag(store, f.tags.v[i], &res.manifest, &err);
    }
    char id[DIGEST_STR_LEN + 1];
    if (rc == 0) {
        digest_str(&res.config, id);
        if (f.iidfile != NULL)
            rc = write_output_file(f.iidfile, id, strlen(id), 0644, &err);
    }
    if (rc == 0 && f.output != NULL) {
        char md[DIGEST_STR_LEN + 1];
        rc = do_output(store, root, f.output, digest_str(&res.manifest.digest, md), &err);
    }
    if (rc == 0 && f.sbom != NULL) {
        char md[DIGEST_STR_LEN + 1];
        const char *what = f.tags.n > 0 ? f.tags.v[0] : digest_str(&res.manifest.digest, md);
        const char *formats = f.sbom[0] ? f.sbom : NULL;
        /* an index: one SBOM per platform, each attached to its image */
        for (size_t i = 0; i < n_plats && rc == 0; i++) {
            char pb[PLATFORM_STR_MAX];
            rc = sbom_attach(store, what, n_plats > 1 ? platform_format(&plats[i], pb) : NULL,
                             formats, &err);
        }
    }
    if (rc == 0 && f.push)
        rc = push_tags(store, &f, p, &err);
    if (rc == 0) {
        unsigned run, cached;
        progress_counts(p, &run, &cached);
        struct progress_summary s = {.image_id = id,
                                     .tags = f.tags.v,
                                     .n_tags = f.tags.n,
                                     .size = res.size,
                                     .steps_run = run,
                                     .steps_cached = cached,
                                     .wall_seconds = now_s() - t0};
        progress_summary(p, &s);
    }
    progress_free(p);
    if (rc == 0)
        build_result_release(&res);
    if (from_stdin && ctxdir != NULL) {
        struct kiln_error *e2 = NULL;
        if (rm_rf(ctxdir, &e2) < 0)
            kiln_error_free(e2);
    }
    if (rc < 0)
        return cli_fail(err);
    if (f.quiet)
        printf("%s\n", id);
    return EXIT_OK;
}

const struct cli_command cli_cmd_build = {
    .name = "build",
    .run = cmd_build,
    .spec = &build_spec,
};
