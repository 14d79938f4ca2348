/* The command-line layer: one file per subcommand (src/cli/<name>.c), each
 * exporting a `const struct cli_command cli_cmd_<name>` that main.c lists.
 * Only cli/ parses argv, prints for the user and chooses exit codes. */
#ifndef KILN_CLI_CLI_H
#define KILN_CLI_CLI_H

#include "util/error.h"

#define KILN_VERSION "0.1.0"

/* Exit codes: 0 ok, 1 failure, 2 usage. (kiln run adds 125/126/127.) */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct cli_global {
    const char *root; /* --root or KILN_ROOT; NULL means the default */
    int debug;        /* --debug */
};

struct cli_spec;

struct cli_command {
    const char *name;
    int (*run)(struct cli_global *g, int argc, char **argv); /* argv[0] is the command name */
    const char *summary;                                     /* one line for `kiln help` */
    const char *usage; /* full help text for `kiln help NAME` when there is no spec */
    /* The option table and help (cli/opt.h): `kiln help NAME` prints cli_spec_help(). */
    const struct cli_spec *spec;
    /* A command with subcommands: their specs (names "pod create", ...), NULL-terminated.
     * `kiln help NAME` lists them after the spec's help; `kiln help NAME SUB` prints one. */
    const struct cli_spec *const *subcommands;
};

/* Prints "kiln: <msg>" and returns the exit code for err (2 for usage). Frees err. */
int cli_fail(struct kiln_error *err);
/* Prints "kiln <cmd>: <formatted message>" plus a hint to run help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "warning: ..." to stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the usage text of the named command ("pod", or "pod create" for a
 * subcommand) to stdout. */
int cli_print_help(const char *name);
/* The store root in effect: --root, else KILN_ROOT, else the default of DESIGN.md. Allocated. */
char *cli_store_root(const struct cli_global *g);
/* Human-readable size ("77.6MB", decimal units like docker). buf >= 16 bytes. */
const char *cli_human_size(unsigned long long bytes, char *buf, unsigned long bufsz);
/* "3 minutes ago" style, relative to now. buf >= 32 bytes. */
const char *cli_human_ago(long long unix_time, char *buf, unsigned long bufsz);
/* A container's STATUS as docker ps prints it, appended to sb: "Up 5 minutes
 * (healthy)", "Exited (0) 3 seconds ago", "Restarting (1) 2 seconds ago",
 * "Created". st is its state.json, health its ctr_load_health or NULL. */
struct json_t;
struct strbuf;
void cli_ctr_status(const struct json_t *st, const struct json_t *health, struct strbuf *sb);

#endif
