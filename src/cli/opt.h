/* One option table per command: the parser and the help text both read it,
 * so a command's options are declared once (no getopt loop per command).
 *
 *   static long timeout = 10;
 *   static const struct cli_opt opts[] = {
 *       {'t', "time", CLI_OPT_LONG, &timeout, "SECONDS", "grace period before SIGKILL (10)"},
 *       CLI_OPT_END,
 *   };
 *   static const struct cli_spec spec = {
 *       .name = "stop", .args = "NAME|ID...", .summary = "stop running containers",
 *       .text = "Sends the image's STOPSIGNAL, then SIGKILL after -t seconds.\n",
 *       .opts = opts, .min_args = 1, .max_args = -1,
 *   };
 *   int first = cli_parse(&spec, argc, argv);   // argv[0] is the command name
 *   if (first <= 0) return -first;              // help printed (0) or usage error (2)
 *   for (int i = first; i < argc; i++) ...      // the operands
 *
 * Destinations: CLI_OPT_FLAG sets an int to 1 (repeated: counts); CLI_OPT_STRING
 * stores the argument (a pointer into argv, not copied); CLI_OPT_LONG parses a
 * decimal integer, naming the option when it is not one; CLI_OPT_LIST appends to a
 * struct cli_strv (repeatable: -e A -e B); CLI_OPT_FUNC calls fn(ctx, option, arg)
 * and a non-zero return is a usage error it has printed.
 * `-h`/`--help` is added to every table and prints cli_spec_help() (`--help` only
 * when the table has its own -h). Long options may be abbreviated to a unique
 * prefix, as getopt_long allows. The command's `struct cli_command` points .spec
 * at the spec, so `kiln help NAME` prints the same text; a command with
 * subcommands lists their specs in .subcommands (`kiln help pod create`). */
#ifndef KILN_CLI_OPT_H
#define KILN_CLI_OPT_H

#include <stddef.h>
#include <stdio.h>

enum cli_opt_kind {
    CLI_OPT_FLAG,
    CLI_OPT_STRING,
    CLI_OPT_LONG,
    CLI_OPT_LIST,
    CLI_OPT_FUNC,
};

struct cli_strv {
    const char **v; /* NULL-terminated when n > 0; the strings point into argv */
    size_t n;
};

struct cli_opt;
typedef int (*cli_opt_fn)(void *ctx, const struct cli_opt *opt, const char *arg);

struct cli_opt {
    char short_name;       /* 0: long only */
    const char *long_name; /* NULL: short only */
    enum cli_opt_kind kind;
    void *dest;           /* int*, const char**, long*, struct cli_strv*, or ctx for FUNC */
    const char *arg_name; /* "SECONDS"; NULL for a FLAG (FUNC: NULL = takes no argument) */
    const char *help;     /* one line for the help text */
    cli_opt_fn fn;        /* CLI_OPT_FUNC only */
};

#define CLI_OPT_END                                                                                \
    {                                                                                              \
        0, NULL, CLI_OPT_FLAG, NULL, NULL, NULL, NULL                                              \
    }

enum cli_spec_flags {
    /* Options end at the first operand (kiln run IMAGE CMD -x: -x is CMD's). */
    CLI_SPEC_STOP_AT_OPERAND = 1 << 0,
};

struct cli_spec {
    const char *name;           /* "stop", or "compose up" for a subcommand */
    const char *args;           /* operands for the usage line: "NAME|ID...", NULL for none */
    const char *summary;        /* one line for `kiln help` */
    const char *text;           /* paragraphs after the usage line (examples welcome), or NULL */
    const struct cli_opt *opts; /* ends with CLI_OPT_END; NULL for none */
    int min_args;               /* operands required */
    int max_args;               /* -1: no limit */
    int flags;                  /* enum cli_spec_flags */
};

/* Parses argv[1..argc-1] against spec->opts (GNU style: -abc, -tVALUE, -t VALUE,
 * --long=VALUE, --long VALUE, `--` ends options; options may follow operands unless
 * CLI_SPEC_STOP_AT_OPERAND). Operands are moved, in order, to the end of argv.
 * Returns the index of the first operand (>= 1; argc when there is none) on success. On -h/--help
 * prints the help and returns -EXIT_OK (0 is never a valid index, so a return <= 0 means stop and
 * exit with -ret); on an unknown option, a missing or bad argument or a wrong operand
 * count prints one "kiln NAME: ..." line plus the help hint and returns -EXIT_USAGE. */
int cli_parse(const struct cli_spec *spec, int argc, char **argv);

/* Frees what CLI_OPT_LIST appended (not the strings, which are argv's). */
void cli_strv_free(struct cli_strv *s);
#define cleanup_strv __attribute__((cleanup(cli_strv_free)))

/* Writes "Usage: kiln NAME [OPTIONS] ARGS", the text (else the summary), and an
 * aligned option list. */
void cli_spec_help(const struct cli_spec *spec, FILE *out);

#endif
