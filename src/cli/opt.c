/* The option-table parser of opt.h: one hand-written pass over argv (no getopt,
 * so no global state between a command and its subcommand), and the help text
 * generated from the same table. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "util/strbuf.h"

/* The -h/--help every table gets; its short form only when the table has no -h. */
static const struct cli_opt help_opt = {'h', "help", CLI_OPT_FLAG, NULL, NULL, "print this help",
                                        NULL};

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kiln %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'kiln help %s' for usage.\n", cmd);
    return EXIT_USAGE;
}

void cli_strv_free(struct cli_strv *s)
{
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static int is_end(const struct cli_opt *o)
{
    return o->short_name == 0 && o->long_name == NULL;
}

static int has_short(const struct cli_spec *spec, char c)
{
    for (const struct cli_opt *o = spec->opts; o && !is_end(o); o++)
        if (o->short_name == c)
            return 1;
    return 0;
}

static int takes_arg(const struct cli_opt *o)
{
    switch (o->kind) {
    case CLI_OPT_FLAG:
        return 0;
    case CLI_OPT_FUNC:
        return o->arg_name != NULL;
    default:
        return 1;
    }
}

static const struct cli_opt *find_short(const struct cli_spec *spec, char c)
{
    for (const struct cli_opt *o = spec->opts; o && !is_end(o); o++)
        if (o->short_name == c)
            return o;
    return c == 'h' ? &help_opt : NULL;
}

static int long_matches(const struct cli_opt *o, const char *name, size_t len)
{
    return o->long_name != NULL && strncmp(o->long_name, name, len) == 0;
}

/* Exact name first, else a unique prefix (as getopt_long); *ambiguous when more match. */
static const struct cli_opt *find_long(const struct cli_spec *spec, const char *name, size_t len,
                                       int *ambiguous)
{
    const struct cli_opt *prefix = NULL;
    int n_prefix = 0;
    *ambiguous = 0;
    for (const struct cli_opt *o = spec->opts; o && !is_end(o); o++) {
        if (!long_matches(o, name, len))
            continue;
        if (o->long_name[len] == '\0')
            return o;
        /* Two names of one option (same destination, kind and argument) are no ambiguity. */
        if (prefix == NULL || prefix->dest != o->dest || prefix->kind != o->kind ||
            prefix->fn != o->fn || takes_arg(prefix) != takes_arg(o))
            n_prefix++;
        prefix = o;
    }
    if (long_matches(&help_opt, name, len)) {
        if (help_opt.long_name[len] == '\0')
            return &help_opt;
        n_prefix++;
        prefix = &help_opt;
    }
    if (n_prefix > 1) {
        *ambiguous = 1;
        return NULL;
    }
    return prefix;
}

static int apply(const struct cli_spec *spec, const struct cli_opt *o, const char *shown,
                 const char *arg)
{
    switch (o->kind) {
    case CLI_OPT_FLAG:
        if (o->dest != NULL)
            (*(int *)o->dest)++;
        return 0;
    case CLI_OPT_STRING:
        *(const char **)o->dest = arg;
        return 0;
    case CLI_OPT_LONG: {
        char *end = NULL;
        errno = 0;
        long v = strtol(arg, &end, 10);
        if (arg[0] == '\0' || *end != '\0' || errno != 0)
            return cli_usage_error(spec->name, "option %s wants an integer, not \"%s\"", shown,
                                   arg);
        *(long *)o->dest = v;
        return 0;
    }
    case CLI_OPT_LIST: {
        struct cli_strv *s = o->dest;
        s->v = xrealloc(s->v, (s->n + 2) * sizeof(*s->v));
        s->v[s->n++] = arg;
        s->v[s->n] = NULL;
        return 0;
    }
    case CLI_OPT_FUNC:
        return o->fn(o->dest, o, arg) != 0 ? EXIT_USAGE : 0;
    }
    return 0;
}

static int count_error(const struct cli_spec *spec, int n)
{
    const char *args = spec->args ? spec->args : "";
    if (spec->max_args == 0)
        return cli_usage_error(spec->name, "takes no arguments");
    if (n < spec->min_args) {
        if (n == 0)
            return cli_usage_error(spec->name, "missing %s", args);
        return cli_usage_error(spec->name, "needs at least %d argument%s (%s)", spec->min_args,
                               spec->min_args == 1 ? "" : "s", args);
    }
    if (spec->max_args == 1)
        return cli_usage_error(spec->name, "takes one %s, got %d arguments", args, n);
    return cli_usage_error(spec->name, "takes at most %d arguments (%s), got %d", spec->max_args,
                           args, n);
}

/* Parses one argv[i] starting with '-' (not "-" or "--"); advances *i past any
 * separate argument. Returns 0, 1 for help, or EXIT_USAGE (error printed). */
static int parse_option(const struct cli_spec *spec, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (a[1] == '-') {
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int ambiguous;
        const struct cli_opt *o = find_long(spec, name, len, &ambiguous);
        if (o == NULL)
            return cli_usage_error(spec->name, "%s option --%.*s",
                                   ambiguous ? "ambiguous" : "unknown", (int)len, name);
        char shown[128];
        snprintf(shown, sizeof(shown), "--%s", o->long_name);
        if (o == &help_opt)
            return eq ? cli_usage_error(spec->name, "option --help takes no argument") : 1;
        if (!takes_arg(o)) {
            if (eq)
                return cli_usage_error(spec->name, "option %s takes no argument", shown);
            return apply(spec, o, shown, NULL);
        }
        if (eq)
            return apply(spec, o, shown, eq + 1);
        if (*i + 1 >= argc)
            return cli_usage_error(spec->name, "option %s needs %s", shown,
                                   o->arg_name ? o->arg_name : "an argument");
        return apply(spec, o, shown, argv[++*i]);
    }
    for (const char *p = a + 1; *p; p++) {
        const struct cli_opt *o = find_short(spec, *p);
        if (o == NULL)
            return cli_usage_error(spec->name, "unknown option -%c", *p);
        if (o == &help_opt)
            return 1;
        char shown[3] = {'-', *p, '\0'};
        if (!takes_arg(o)) {
            int r = apply(spec, o, shown, NULL);
            if (r != 0)
                return r;
            continue;
        }
        if (p[1] != '\0')
            return apply(spec, o, shown, p + 1);
        if (*i + 1 >= argc)
            return cli_usage_error(spec->name, "option %s needs %s", shown,
                                   o->arg_name ? o->arg_name : "an argument");
        return apply(spec, o, shown, argv[++*i]);
    }
    return 0;
}

int cli_parse(const struct cli_spec *spec, int argc, char **argv)
{
    /* Operands collect here while options stay in argv's front part. */
    char **operands = xmalloc((size_t)(argc > 0 ? argc : 1) * sizeof(*operands));
    int n_ops = 0, out = 1, i = 1, ret = 0;
    for (; i < argc; i++) {
        char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            argv[out++] = a;
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (spec->flags & CLI_SPEC_STOP_AT_OPERAND)
                break;
            operands[n_ops++] = a;
            continue;
        }
        int start = i;
        int r = parse_option(spec, argc, argv, &i);
        if (r == 1) {
            cli_spec_help(spec, stdout);
            ret = -EXIT_OK;
            goto done;
        }
        if (r != 0) {
            ret = -EXIT_USAGE;
            goto done;
        }
        for (int k = start; k <= i; k++)
            argv[out++] = argv[k];
    }
    for (; i < argc; i++)
        operands[n_ops++] = argv[i];
    if (n_ops < spec->min_args || (spec->max_args >= 0 && n_ops > spec->max_args)) {
        count_error(spec, n_ops);
        ret = -EXIT_USAGE;
        goto done;
    }
    ret = out;
    for (int k = 0; k < n_ops; k++)
        argv[out++] = operands[k];
done:
    free(operands);
    return ret;
}

static void opt_left(const struct cli_spec *spec, const struct cli_opt *o, char *buf, size_t n)
{
    int with_short = o->short_name != 0 && (o != &help_opt || !has_short(spec, 'h'));
    const char *arg = takes_arg(o) ? (o->arg_name ? o->arg_name : "VALUE") : NULL;
    if (with_short && o->long_name)
        snprintf(buf, n, "-%c, --%s%s%s", o->short_name, o->long_name, arg ? " " : "",
                 arg ? arg : "");
    else if (with_short)
        snprintf(buf, n, "-%c%s%s", o->short_name, arg ? " " : "", arg ? arg : "");
    else
        snprintf(buf, n, "    --%s%s%s", o->long_name, arg ? " " : "", arg ? arg : "");
}

enum { HELP_COL_MAX = 28 };

void cli_spec_help(const struct cli_spec *spec, FILE *out)
{
    fprintf(out, "Usage: kiln %s [OPTIONS]%s%s\n", spec->name, spec->args ? " " : "",
            spec->args ? spec->args : "");
    if (spec->text != NULL)
        fprintf(out, "\n%s", spec->text);
    else if (spec->summary != NULL)
        fprintf(out, "\n%s\n", spec->summary);
    if (spec->text != NULL && spec->text[0] != '\0' && spec->text[strlen(spec->text) - 1] != '\n')
        fputc('\n', out);
    char left[160];
    size_t width = 0;
    const struct cli_opt *o;
    for (int pass = 0; pass < 2; pass++) {
        for (o = spec->opts; o && !is_end(o); o++) {
            opt_left(spec, o, left, sizeof(left));
            size_t l = strlen(left);
            if (pass == 0 && l <= HELP_COL_MAX && l > width)
                width = l;
            if (pass == 1 && l <= width)
                fprintf(out, "  %-*s  %s\n", (int)width, left, o->help ? o->help : "");
            else if (pass == 1)
                fprintf(out, "  %s\n  %*s  %s\n", left, (int)width, "", o->help ? o->help : "");
        }
        opt_left(spec, &help_opt, left, sizeof(left));
        if (pass == 0) {
            if (strlen(left) > width)
                width = strlen(left);
            fprintf(out, "\nOptions:\n");
        } else {
            fprintf(out, "  %-*s  %s\n", (int)width, left, help_opt.help);
        }
    }
}
