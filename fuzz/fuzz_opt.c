/* libFuzzer target for the option-table parser (src/cli/opt.h): the input is
 * split at NULs into argv, parsed against a table with every kind of option,
 * once permuting and once stopping at the first operand. Beyond not crashing:
 * the return is <= 0 or a valid operand index, and argv after parsing holds the
 * same strings as before (a permutation, nothing lost or duplicated). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/opt.h"
#include "util/strbuf.h"

static int flag;
static const char *str;
static long num;
static struct cli_strv list;

static int fn(void *ctx, const struct cli_opt *opt, const char *arg)
{
    (void)ctx;
    (void)opt;
    return arg != NULL && arg[0] == 'x';
}

static const struct cli_opt opts[] = {
    {'a', "all", CLI_OPT_FLAG, &flag, NULL, "a flag", NULL},
    {'n', "name", CLI_OPT_STRING, &str, "NAME", "a string", NULL},
    {'t', "time", CLI_OPT_LONG, &num, "N", "a number", NULL},
    {'e', "env", CLI_OPT_LIST, &list, "K=V", "a list", NULL},
    {'p', "publish", CLI_OPT_FUNC, NULL, "PORT", "a function", fn},
    {0, "publish-all", CLI_OPT_FUNC, NULL, NULL, "a function without argument", fn},
    CLI_OPT_END,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Usage errors and help go nowhere (the invariants are checked here); fd 2 and
     * libFuzzer's own stream stay as they are, only stdio's stderr/stdout move. */
    FILE *null = fopen("/dev/null", "w");
    if (null == NULL)
        abort();
    stderr = null;
    stdout = null;
    return 0;
}

static int cmp_ptr(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return (x > y) - (x < y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *buf = xmalloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    size_t n = 2;
    for (size_t i = 0; i < size; i++)
        n += buf[i] == '\0';
    char **argv = xmalloc((n + 1) * sizeof(*argv));
    char **before = xmalloc((n + 1) * sizeof(*argv));
    for (int pass = 0; pass < 2; pass++) {
        int argc = 0;
        argv[argc++] = "cmd";
        for (char *p = buf; p <= buf + size; p += strlen(p) + 1)
            argv[argc++] = p;
        argv[argc] = NULL;
        memcpy(before, argv, (size_t)argc * sizeof(*argv));
        struct cli_spec spec = {.name = "cmd",
                                .args = "ARG...",
                                .opts = opts,
                                .min_args = pass,
                                .max_args = 3,
                                .flags = pass ? CLI_SPEC_STOP_AT_OPERAND : 0};
        int r = cli_parse(&spec, argc, argv);
        if (r > argc || (r > 0 && (argc - r < spec.min_args || argc - r > spec.max_args)))
            abort();
        if (r > 0) {
            qsort(before, (size_t)argc, sizeof(*before), cmp_ptr);
            qsort(argv, (size_t)argc, sizeof(*argv), cmp_ptr);
            if (memcmp(before, argv, (size_t)argc * sizeof(*argv)) != 0)
                abort();
        }
        cli_strv_free(&list);
    }
    free(before);
    free(argv);
    free(buf);
    return 0;
}
