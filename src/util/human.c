#include "util/human.h"

#include <stdio.h>

const char *human_size(uint64_t bytes, char *buf, size_t bufsz)
{
    static const char *units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1000.0 && u < 4) {
        v /= 1000.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, bufsz, "%lluB", (unsigned long long)bytes);
    else
        snprintf(buf, bufsz, v < 10 ? "%.2f%s" : v < 100 ? "%.1f%s" : "%.0f%s", v, units[u]);
    return buf;
}

/* ".5" for 5 of a unit of `digits` decimal places, trailing zeros dropped as
 * Go's fmtFrac does; "" for 0. */
static void duration_frac(unsigned long long f, int digits, char out[HUMAN_DURATION_MAX])
{
    out[0] = '\0';
    if (f == 0)
        return;
    while (f % 10 == 0) {
        f /= 10;
        digits--;
    }
    snprintf(out, HUMAN_DURATION_MAX, ".%0*llu", digits, f);
}

const char *human_duration(long long ns, char *buf, size_t bufsz)
{
    static const unsigned long long sec = 1000000000ULL;
    static const struct {
        unsigned long long unit;
        int digits;
        const char *name;
    } small[] = {{1, 0, "ns"}, {1000, 3, "\xC2\xB5s"}, {1000000, 6, "ms"}};
    /* as uint64, as Go does, so that the most negative value has a magnitude */
    unsigned long long u = ns < 0 ? 0ULL - (unsigned long long)ns : (unsigned long long)ns;
    const char *sign = ns < 0 ? "-" : "";
    char frac[HUMAN_DURATION_MAX];
    if (u == 0) {
        snprintf(buf, bufsz, "0s");
    } else if (u < sec) {
        int i = u < 1000 ? 0 : u < 1000000 ? 1 : 2;
        duration_frac(u % small[i].unit, small[i].digits, frac);
        snprintf(buf, bufsz, "%s%llu%s%s", sign, u / small[i].unit, frac, small[i].name);
    } else {
        unsigned long long s = u / sec, m = s / 60, h = m / 60;
        duration_frac(u % sec, 9, frac);
        if (h > 0)
            snprintf(buf, bufsz, "%s%lluh%llum%llu%ss", sign, h, m % 60, s % 60, frac);
        else if (m > 0)
            snprintf(buf, bufsz, "%s%llum%llu%ss", sign, m, s % 60, frac);
        else
            snprintf(buf, bufsz, "%s%llu%ss", sign, s, frac);
    }
    return buf;
}
