/* The option-table parser (src/cli/opt.h): each kind, bundling, `--`, operands
 * permuted or stopping the options, usage errors and the generated help. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "tap.h"

static int all, verbose;
static const char *name, *output;
static long timeout;
static struct cli_strv envs;
static int fn_calls;
static char fn_seen[64];

static int on_port(void *ctx, const struct cli_opt *opt, const char *arg)
{
    fn_calls++;
    snprintf(fn_seen, sizeof(fn_seen), "%s:%s:%s", (const char *)ctx, opt->long_name,
             arg ? arg : "(none)");
    if (arg && strcmp(arg, "bad") == 0) {
        cli_usage_error("t", "bad port");
        return 1;
    }
    return 0;
}

static const struct cli_opt opts[] = {
    {'a', "all", CLI_OPT_FLAG, &all, NULL, "everything", NULL},
    {'v', "verbose", CLI_OPT_FLAG, &verbose, NULL, "say more (repeat for more)", NULL},
    {'n', "name", CLI_OPT_STRING, &name, "NAME", "a name", NULL},
    {'o', NULL, CLI_OPT_STRING, &output, "FILE", "write FILE", NULL},
    {'t', "time", CLI_OPT_LONG, &timeout, "SECONDS", "grace period", NULL},
    {'e', "env", CLI_OPT_LIST, &envs, "KEY=VAL", "set a variable (repeatable)", NULL},
    {'p', "publish", CLI_OPT_FUNC, "ctx", "PORT", "publish a port", on_port},
    {0, "publish-all", CLI_OPT_FUNC, "ctx", NULL, "publish every port", on_port},
    {0, "a-very-long-option-name", CLI_OPT_STRING, &name, "SOMETHING", "a long one", NULL},
    CLI_OPT_END,
};

static const struct cli_spec spec = {
    .name = "t",
    .args = "IMAGE [ARG...]",
    .summary = "a test",
    .text = "Some text.\n",
    .opts = opts,
    .min_args = 0,
    .max_args = -1,
};

static void reset(void)
{
    all = verbose = 0;
    name = output = NULL;
    timeout = -1;
    cli_strv_free(&envs);
    fn_calls = 0;
    fn_seen[0] = '\0';
}

/* argv from a space-separated string (a copy, writable as main's argv is). */
static int mkargv(char *buf, char **argv)
{
    int n = 0;
    char *save = NULL;
    for (char *s = strtok_r(buf, " ", &save); s; s = strtok_r(NULL, " ", &save))
        argv[n++] = s;
    argv[n] = NULL;
    return n;
}

static char errbuf[4096];

/* Runs cli_parse with stderr captured into errbuf. */
static int parse(const struct cli_spec *sp, const char *line, char **argv, int *argc)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf), "%s", line);
    *argc = mkargv(buf, argv);
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    dup2(fileno(tmp), 2);
    int r = cli_parse(sp, *argc, argv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(errbuf, 1, sizeof(errbuf) - 1, tmp);
    errbuf[n] = '\0';
    fclose(tmp);
    return r;
}

static char *join(char **argv, int from, int to)
{
    static char out[1024];
    out[0] = '\0';
    size_t len = 0;
    for (int i = from; i < to; i++)
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i > from ? " " : "", argv[i]);
    return out;
}

int main(void)
{
    char *argv[64];
    int argc, r;

    reset();
    r = parse(&spec, "t -a --name web -t 5 img cmd", argv, &argc);
    is_int(r, 6, "first operand index after five option words");
    is_str(join(argv, r, argc), "img cmd", "operands in order");
    ok(all == 1 && timeout == 5 && name && strcmp(name, "web") == 0, "flag, long, string set");

    reset();
    r = parse(&spec, "t img -a cmd --time=7 -n x", argv, &argc);
    is_str(join(argv, r, argc), "img cmd", "options after operands are permuted out");
    is_str(join(argv, 1, r), "-a --time=7 -n x", "options keep their order before the operands");
    ok(all == 1 && timeout == 7 && strcmp(name, "x") == 0, "options after operands applied");

    reset();
    r = parse(&spec, "t -avv -t12 -nfoo -e A=1 --env B=2 -eC=3", argv, &argc);
    is_int(r, argc, "no operands: returns argc");
    ok(all == 1 && verbose == 2, "bundled -avv: flag set, repeated flag counts (%d)", verbose);
    is_int(timeout, 12, "-t12 attached value");
    is_str(name, "foo", "-nfoo attached value");
    is_int(envs.n, 3, "list collects three values");
    ok(envs.n == 3 && strcmp(envs.v[0], "A=1") == 0 && strcmp(envs.v[1], "B=2") == 0 &&
           strcmp(envs.v[2], "C=3") == 0 && envs.v[3] == NULL,
       "list in order and NULL-terminated");

    reset();
    r = parse(&spec, "t -avn web img", argv, &argc);
    ok(all && verbose == 1 && name && strcmp(name, "web") == 0,
       "-avn web: bundle ends in option taking next word");
    is_str(join(argv, r, argc), "img", "operand after bundle");

    reset();
    r = parse(&spec, "t -p 80 --publish=81 --publish-all", argv, &argc);
    is_int(fn_calls, 3, "func called per occurrence");
    is_str(fn_seen, "ctx:publish-all:(none)",
           "func gets ctx, the option and NULL when it takes no argument");
    r = parse(&spec, "t -p bad", argv, &argc);
    is_int(r, -EXIT_USAGE, "func's non-zero return is a usage error");

    reset();
    r = parse(&spec, "t -a -- -v --name x", argv, &argc);
    is_str(join(argv, r, argc), "-v --name x", "after -- everything is an operand");
    ok(all == 1 && verbose == 0 && name == NULL, "nothing after -- parsed as an option");

    reset();
    r = parse(&spec, "t -e - -", argv, &argc);
    ok(envs.n == 1 && strcmp(envs.v[0], "-") == 0, "lone - is a value");
    is_str(join(argv, r, argc), "-", "lone - is an operand");

    reset();
    r = parse(&spec, "t --pub 80", argv, &argc);
    is_int(r, -EXIT_USAGE, "ambiguous prefix (--publish, --publish-all) is an error");
    ok(strstr(errbuf, "ambiguous option --pub") != NULL, "names the ambiguous option");
    r = parse(&spec, "t --verb --ti 3", argv, &argc);
    ok(r == argc && verbose == 1 && timeout == 3, "unique prefixes accepted as getopt_long does");

    /* stop at operand */
    static const struct cli_spec stop = {
        .name = "run",
        .args = "IMAGE [CMD...]",
        .opts = opts,
        .min_args = 1,
        .max_args = -1,
        .flags = CLI_SPEC_STOP_AT_OPERAND,
    };
    reset();
    r = parse(&stop, "run -a img sh -c -v --name x", argv, &argc);
    is_int(r, 2, "stop-at-operand: first operand is the image");
    is_str(join(argv, r, argc), "img sh -c -v --name x", "the command's options stay its own");
    ok(all == 1 && verbose == 0 && name == NULL, "only options before the image parsed");
    reset();
    r = parse(&stop, "run -- img -a", argv, &argc);
    is_str(join(argv, r, argc), "img -a", "-- then image");

    /* errors */
    reset();
    r = parse(&spec, "t -x", argv, &argc);
    is_int(r, -EXIT_USAGE, "unknown short option");
    is_str(errbuf, "kiln t: unknown option -x\nRun 'kiln help t' for usage.\n",
           "one line naming the option plus the help hint");
    r = parse(&spec, "t --bogus=1", argv, &argc);
    ok(r == -EXIT_USAGE && strstr(errbuf, "unknown option --bogus\n"), "unknown long option");
    r = parse(&spec, "t -t", argv, &argc);
    ok(r == -EXIT_USAGE && strstr(errbuf, "kiln t: option -t needs SECONDS"), "missing argument");
    r = parse(&spec, "t --name", argv, &argc);
    ok(r == -EXIT_USAGE && strstr(errbuf, "option --name needs NAME"), "missing long argument");
    r = parse(&spec, "t -t 5x", argv, &argc);
    ok(r == -EXIT_USAGE && strstr(errbuf, "option -t wants an integer, not \"5x\""),
       "bad integer names the option");
    r = parse(&spec, "t --time=", argv, &argc);
    ok(r == -EXIT_USAGE && strstr(errbuf, "option --time wants an integer"), "empty integer");
    r = parse(&spec, "t -t 99999999999999999999999", argv, &argc);
    is_int(r, -EXIT_USAGE, "integer overflow refused");
    r = parse(&spec, "t --all=1", argv, &argc);
    ok(r == -EXIT_USAGE && strstr(errbuf, "option --all takes no argument"), "flag with =value");
    reset();
    r = parse(&spec, "t -t -5", argv, &argc);
    ok(r == argc && timeout == -5, "negative integer as separate argument");

    static const struct cli_spec one = {
        .name = "one", .args = "IMAGE", .opts = opts, .min_args = 1, .max_args = 1};
    r = parse(&one, "one", argv, &argc);
    ok(r == -EXIT_USAGE && strstr(errbuf, "kiln one: missing IMAGE"), "too few operands");
    r = parse(&one, "one a b", argv, &argc);
    ok(r == -EXIT_USAGE && strstr(errbuf, "kiln one: takes one IMAGE, got 2"), "too many operands");
    r = parse(&one, "one -a a", argv, &argc);
    is_int(r, 2, "exactly one operand accepted");
    static const struct cli_spec none = {.name = "none", .opts = NULL, .max_args = 0};
    r = parse(&none, "none x", argv, &argc);
    ok(r == -EXIT_USAGE && strstr(errbuf, "kiln none: takes no arguments"), "no operands wanted");
    r = parse(&none, "none -a", argv, &argc);
    ok(r == -EXIT_USAGE && strstr(errbuf, "unknown option -a"), "NULL table: only -h");
    is_int(parse(&none, "none", argv, &argc), 1, "NULL table, no arguments: returns argc (1)");

    /* help: -h, --help, bundled, and the text */
    fflush(stdout);
    int saved = dup(1);
    FILE *tmp = tmpfile();
    dup2(fileno(tmp), 1);
    int h1 = parse(&spec, "t -h", argv, &argc);
    int h2 = parse(&spec, "t img --help", argv, &argc);
    int h3 = parse(&none, "none -h x y", argv, &argc);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(tmp);
    ok(h1 == 0 && h2 == 0 && h3 == 0, "-h/--help return 0 (even with wrong operand count)");

    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    cli_spec_help(&spec, m);
    fclose(m);
    is_str(text,
           "Usage: kiln t [OPTIONS] IMAGE [ARG...]\n"
           "\n"
           "Some text.\n"
           "\n"
           "Options:\n"
           "  -a, --all           everything\n"
           "  -v, --verbose       say more (repeat for more)\n"
           "  -n, --name NAME     a name\n"
           "  -o FILE             write FILE\n"
           "  -t, --time SECONDS  grace period\n"
           "  -e, --env KEY=VAL   set a variable (repeatable)\n"
           "  -p, --publish PORT  publish a port\n"
           "      --publish-all   publish every port\n"
           "      --a-very-long-option-name SOMETHING\n"
           "                      a long one\n"
           "  -h, --help          print this help\n",
           "help: usage line, text, aligned options, long ones wrap");
    free(text);

    static const struct cli_opt hopts[] = {
        {'h', "hostname", CLI_OPT_STRING, &name, "NAME", "host name", NULL},
        CLI_OPT_END,
    };
    static const struct cli_spec hs = {
        .name = "hs", .summary = "summary only", .opts = hopts, .max_args = 0};
    reset();
    r = parse(&hs, "hs -h box", argv, &argc);
    ok(r == argc && name && strcmp(name, "box") == 0, "a table's own -h wins over help");
    text = NULL;
    m = open_memstream(&text, &len);
    cli_spec_help(&hs, m);
    fclose(m);
    is_str(text,
           "Usage: kiln hs [OPTIONS]\n\nsummary only\n\nOptions:\n"
           "  -h, --hostname NAME  host name\n"
           "      --help           print this help\n",
           "no text: the summary; --help without -h when the table has -h");
    free(text);
    reset();
    return done_testing();
}
