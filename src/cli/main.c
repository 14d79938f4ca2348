/* kiln's entry point: global options, the command table and dispatch,
 * after git's table of builtins. `kiln help CMD` reads the same table. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/human.h"
#include "util/strbuf.h"

extern const struct cli_command cli_cmd_build;
extern const struct cli_command cli_cmd_compose;
extern const struct cli_command cli_cmd_export;
extern const struct cli_command cli_cmd_fsck;
extern const struct cli_command cli_cmd_history;
extern const struct cli_command cli_cmd_images;
extern const struct cli_command cli_cmd_import;
extern const struct cli_command cli_cmd_index;
extern const struct cli_command cli_cmd_inspect;
extern const struct cli_command cli_cmd_load;
extern const struct cli_command cli_cmd_login;
extern const struct cli_command cli_cmd_logout;
extern const struct cli_command cli_cmd_prune;
extern const struct cli_command cli_cmd_pull;
extern const struct cli_command cli_cmd_push;
extern const struct cli_command cli_cmd_rmi;
extern const struct cli_command cli_cmd_save;
extern const struct cli_command cli_cmd_tag;
extern const struct cli_command cli_cmd_lint;
extern const struct cli_command cli_cmd_version;
extern const struct cli_command cli_cmd_versions;
extern const struct cli_command cli_cmd_scan;
extern const struct cli_command cli_cmd_sbom;
extern const struct cli_command cli_cmd_run;
extern const struct cli_command cli_cmd_shell;
extern const struct cli_command cli_cmd_exec;
extern const struct cli_command cli_cmd_ps;
extern const struct cli_command cli_cmd_logs;
extern const struct cli_command cli_cmd_stop;
extern const struct cli_command cli_cmd_rm;
extern const struct cli_command cli_cmd_health;
extern const struct cli_command cli_cmd_kube;
extern const struct cli_command cli_cmd_port;
extern const struct cli_command cli_cmd_pod;

/* Keep sorted the way `kiln help` should list them. */
static const struct cli_command *const commands[] = {
    &cli_cmd_build,   &cli_cmd_pull,     &cli_cmd_push,   &cli_cmd_login, &cli_cmd_logout,
    &cli_cmd_import,  &cli_cmd_index,    &cli_cmd_images, &cli_cmd_tag,   &cli_cmd_rmi,
    &cli_cmd_inspect, &cli_cmd_history,  &cli_cmd_export, &cli_cmd_save,  &cli_cmd_load,
    &cli_cmd_run,     &cli_cmd_shell,    &cli_cmd_exec,   &cli_cmd_ps,    &cli_cmd_logs,
    &cli_cmd_stop,    &cli_cmd_rm,       &cli_cmd_health, &cli_cmd_port,  &cli_cmd_pod,
    &cli_cmd_compose, &cli_cmd_kube,     &cli_cmd_prune,  &cli_cmd_fsck,  &cli_cmd_lint,
    &cli_cmd_version, &cli_cmd_versions, &cli_cmd_scan,   &cli_cmd_sbom,
};

static const size_t n_commands = sizeof(commands) / sizeof(commands[0]);

static const struct cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < n_commands; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

int cli_fail(struct kiln_error *err)
{
    int code = EXIT_FAIL;
    if (err != NULL) {
        fprintf(stderr, "kiln: %s\n", err->msg);
        if (err->code == KILN_E_USAGE)
            code = EXIT_USAGE;
        kiln_error_free(err);
    } else {
        fprintf(stderr, "kiln: failed\n");
    }
    return code;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "warning: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

char *cli_store_root(const struct cli_global *g)
{
    if (g->root != NULL && g->root[0] != '\0')
        return xstrdup(g->root);
    const char *env = getenv("KILN_ROOT");
    if (env != NULL && env[0] != '\0')
        return xstrdup(env);
    if (geteuid() == 0)
        return xstrdup("/var/lib/kiln");
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg != NULL && xdg[0] == '/')
        return xasprintf("%s/kiln", xdg);
    const char *home = getenv("HOME");
    return xasprintf("%s/.local/share/kiln", home ? home : "/tmp");
}

const char *cli_human_size(unsigned long long bytes, char *buf, unsigned long bufsz)
{
    return human_size(bytes, buf, bufsz);
}

const char *cli_human_ago(long long t, char *buf, unsigned long bufsz)
{
    long long d = (long long)time(NULL) - t;
    if (d < 0)
        d = 0;
    struct {
        long long secs;
        const char *name;
    } steps[] = {{365LL * 86400, "year"}, {30LL * 86400, "month"}, {7LL * 86400, "week"},
                 {86400, "day"},          {3600, "hour"},          {60, "minute"}};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (d >= steps[i].secs) {
            long long n = d / steps[i].secs;
            snprintf(buf, bufsz, "%lld %s%s ago", n, steps[i].name, n == 1 ? "" : "s");
            return buf;
        }
    }
    snprintf(buf, bufsz, d < 2 ? "Less than a second ago" : "%lld seconds ago", d);
    return buf;
}

static void print_overview(FILE *out)
{
    fprintf(out, "Usage: kiln [--root DIR] COMMAND [ARGS...]\n\n"
                 "Build, store, run and share OCI container images without a daemon.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < n_commands; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name,
                commands[i]->summary ? commands[i]->summary : commands[i]->spec->summary);
    fprintf(out,
            "\nGlobal options:\n"
            "  --root DIR   store location (default: $KILN_ROOT, else /var/lib/kiln for root,\n"
            "               else $XDG_DATA_HOME/kiln)\n"
            "  --version    print kiln's version\n\n"
            "Run 'kiln help COMMAND' for a command's options.\n");
}

static void print_subcommands(const struct cli_command *c, FILE *out)
{
    size_t width = 0, skip = strlen(c->name) + 1;
    for (const struct cli_spec *const *s = c->subcommands; *s; s++)
        if (strlen((*s)->name) > skip && strlen((*s)->name) - skip > width)
            width = strlen((*s)->name) - skip;
    fprintf(out, "\nCommands:\n");
    for (const struct cli_spec *const *s = c->subcommands; *s; s++)
        fprintf(out, "  %-*s  %s\n", (int)width, strlen((*s)->name) > skip ? (*s)->name + skip : "",
                (*s)->summary ? (*s)->summary : "");
    fprintf(out, "\nRun 'kiln help %s COMMAND' for a command's options.\n", c->name);
}

int cli_print_help(const char *name)
{
    size_t len = strcspn(name, " ");
    cleanup_free char *first = xstrndup(name, len);
    const struct cli_command *c = find_command(first);
    if (c == NULL) {
        fprintf(stderr, "kiln: unknown command \"%s\"; run 'kiln help' for the list\n", first);
        return EXIT_USAGE;
    }
    if (name[len] != '\0') {
        for (const struct cli_spec *const *s = c->subcommands; s && *s; s++)
            if (strcmp((*s)->name, name) == 0) {
                cli_spec_help(*s, stdout);
                return EXIT_OK;
            }
        fprintf(stderr, "kiln: \"%s\" has no subcommand \"%s\"; run 'kiln help %s'\n", first,
                name + len + 1, first);
        return EXIT_USAGE;
    }
    if (c->spec != NULL)
        cli_spec_help(c->spec, stdout);
    else
        fputs(c->usage, stdout);
    if (c->subcommands != NULL)
        print_subcommands(c, stdout);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    fd_note_inherited(); /* what a supervisor must not keep (util/fs.h) */
    /* The store, snapshots and containers' upper directories are made with
     * the modes an image needs, not the caller's umask: under umask 077 a
     * container's / (its upper directory) was 0700 and a non-root USER could
     * exec nothing. Files the user names (-o ...) keep the user's umask. */
    output_umask(umask(022));
    struct cli_global g = {0};
    static const struct option opts[] = {
        {"root", required_argument, NULL, 'r'},
        {"debug", no_argument, NULL, 'D'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    /* "+" stops at the command name, so command options are left for it. */
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            g.root = optarg;
            break;
        case 'D':
            g.debug = 1;
            break;
        case 'V':
            printf("kiln version %s\n", KILN_VERSION);
            return EXIT_OK;
        case 'h':
            print_overview(stdout);
            return EXIT_OK;
        default:
            fprintf(stderr, "Run 'kiln help' for usage.\n");
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        print_overview(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[optind];
    if (strcmp(name, "help") == 0) {
        if (optind + 1 < argc) { /* kiln help pod create: the words joined */
            struct strbuf sub = STRBUF_INIT;
            for (int i = optind + 1; i < argc; i++)
                strbuf_addf(&sub, "%s%s", i > optind + 1 ? " " : "", argv[i]);
            int rc = cli_print_help(sub.buf);
            strbuf_release(&sub);
            return rc;
        }
        print_overview(stdout);
        return EXIT_OK;
    }
    const struct cli_command *cmd = find_command(name);
    if (cmd == NULL) {
        fprintf(stderr, "kiln: unknown command \"%s\"; run 'kiln help' for the list\n", name);
        return EXIT_USAGE;
    }
    int first = optind;
    optind = 0; /* reset getopt for the command's own parsing */
    return cmd->run(&g, argc - first, argv + first);
}
