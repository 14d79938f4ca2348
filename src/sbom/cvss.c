/* Severities: names, the CVSS v3.x base score computed from a vector string
 * (FIRST's CVSS v3.1 specification, section 7.1 and Appendix A's Roundup),
 * and the qualitative rating of a score. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "sbom/scan.h"

const char *scan_severity_name(enum scan_severity s)
{
    static const char *const names[] = {"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
    return (unsigned)s < 5 ? names[s] : "UNKNOWN";
}

int scan_severity_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcasecmp(s, "UNKNOWN") == 0 || strcasecmp(s, "NONE") == 0)
        return SEV_UNKNOWN;
    if (strcasecmp(s, "LOW") == 0 || strcasecmp(s, "NEGLIGIBLE") == 0)
        return SEV_LOW;
    if (strcasecmp(s, "MEDIUM") == 0 || strcasecmp(s, "MODERATE") == 0)
        return SEV_MEDIUM;
    if (strcasecmp(s, "HIGH") == 0 || strcasecmp(s, "IMPORTANT") == 0)
        return SEV_HIGH;
    if (strcasecmp(s, "CRITICAL") == 0)
        return SEV_CRITICAL;
    return -1;
}

enum scan_severity scan_severity_of_score(double score)
{
    if (score >= 9.0)
        return SEV_CRITICAL;
    if (score >= 7.0)
        return SEV_HIGH;
    if (score >= 4.0)
        return SEV_MEDIUM;
    if (score > 0.0)
        return SEV_LOW;
    return SEV_UNKNOWN;
}

/* v3.1's Roundup: the smallest one-decimal number >= x, computed on
 * integers so 4.000001 does not become 4.1 through floating error. */
static double roundup31(double x)
{
    int64_t i = (int64_t)llround(x * 100000.0);
    if (i % 10000 == 0)
        return (double)i / 100000.0;
    return (double)(i / 10000 + 1) / 10.0;
}

static double roundup30(double x)
{
    return ceil(x * 10.0) / 10.0;
}

/* The value of metric m's letter c, or -1. */
static double metric_value(const char *m, char c, bool scope_changed)
{
    if (strcmp(m, "AV") == 0)
        return c == 'N' ? 0.85 : c == 'A' ? 0.62 : c == 'L' ? 0.55 : c == 'P' ? 0.2 : -1;
    if (strcmp(m, "AC") == 0)
        return c == 'L' ? 0.77 : c == 'H' ? 0.44 : -1;
    if (strcmp(m, "PR") == 0)
        return c == 'N'   ? 0.85
               : c == 'L' ? (scope_changed ? 0.68 : 0.62)
               : c == 'H' ? (scope_changed ? 0.5 : 0.27)
                          : -1;
    if (strcmp(m, "UI") == 0)
        return c == 'N' ? 0.85 : c == 'R' ? 0.62 : -1;
    if (strcmp(m, "C") == 0 || strcmp(m, "I") == 0 || strcmp(m, "A") == 0)
        return c == 'H' ? 0.56 : c == 'L' ? 0.22 : c == 'N' ? 0 : -1;
    return -1;
}

double cvss3_base_score(const char *vector)
{
    if (!vector)
        return -1;
    bool v31;
    if (strncmp(vector, "CVSS:3.1/", 9) == 0)
        v31 = true;
    else if (strncmp(vector, "CVSS:3.0/", 9) == 0)
        v31 = false;
    else
        return -1;
    /* Base metrics in any order; temporal/environmental ones ignored. */
    static const char *const base[] = {"AV", "AC", "PR", "UI", "S", "C", "I", "A"};
    char letters[8] = {0};
    const char *p = vector + 9;
    while (*p) {
        const char *colon = strchr(p, ':');
        if (!colon || colon - p > 4 || !colon[1])
            return -1;
        char key[5] = {0};
        memcpy(key, p, (size_t)(colon - p));
        char val = colon[1];
        if (colon[2] != '/' && colon[2] != '\0')
            return -1;
        for (int i = 0; i < 8; i++)
            if (strcmp(key, base[i]) == 0) {
                if (letters[i])
                    return -1;
                letters[i] = val;
            }
        p = colon[2] ? colon + 3 : colon + 2;
    }
    for (int i = 0; i < 8; i++)
        if (!letters[i])
            return -1;
    if (letters[4] != 'U' && letters[4] != 'C')
        return -1;
    bool changed = letters[4] == 'C';
    double v[8];
    for (int i = 0; i < 8; i++) {
        if (i == 4)
            continue;
        v[i] = metric_value(base[i], letters[i], changed);
        if (v[i] < 0)
            return -1;
    }
    double iss = 1 - (1 - v[5]) * (1 - v[6]) * (1 - v[7]);
    double impact = changed ? 7.52 * (iss - 0.029) - 3.25 * pow(iss - 0.02, 15) : 6.42 * iss;
    double expl = 8.22 * v[0] * v[1] * v[2] * v[3];
    if (impact <= 0)
        return 0;
    double raw = changed ? fmin(1.08 * (impact + expl), 10) : fmin(impact + expl, 10);
    return v31 ? roundup31(raw) : roundup30(raw);
}
