/* A tiny TAP producer for kiln's unit tests: ok()/is_str()/is_int(), then
 * done_testing() prints the plan and returns the exit status. */
#ifndef KILN_TESTS_TAP_H
#define KILN_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...)                                                                              \
    do {                                                                                           \
        int ok_c_ = !!(cond);                                                                      \
        printf("%sok %d - ", ok_c_ ? "" : "not ", ++tap_n);                                        \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        if (!ok_c_) {                                                                              \
            tap_failed++;                                                                          \
            printf("#   failed at %s:%d\n", __FILE__, __LINE__);                                   \
        }                                                                                          \
    } while (0)

#define is_str(got, want, ...)                                                                     \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        int same_ = (g_ == NULL && w_ == NULL) || (g_ && w_ && strcmp(g_, w_) == 0);               \
        ok(same_, __VA_ARGS__);                                                                    \
        if (!same_)                                                                                \
            printf("#   got:  \"%s\"\n#   want: \"%s\"\n", g_ ? g_ : "(null)",                     \
                   w_ ? w_ : "(null)");                                                            \
    } while (0)

#define is_int(got, want, ...)                                                                     \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        ok(g_ == w_, __VA_ARGS__);                                                                 \
        if (g_ != w_)                                                                              \
            printf("#   got:  %lld\n#   want: %lld\n", g_, w_);                                    \
    } while (0)

/* Runs a shell command made from fmt (a fixture step); a failure is a TAP
 * comment, and the tests that depend on it fail on their own. */
static inline void tap_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(cmd))
        printf("# command too long: %.60s...\n", cmd);
    else if (system(cmd) != 0)
        printf("# command failed: %s\n", cmd);
}

static inline int done_testing(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
