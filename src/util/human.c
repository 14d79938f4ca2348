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
