/* dpkg's version order (deb-version(7)): [epoch:]upstream[-revision], each
 * part compared as alternating runs of non-digits (letters before other
 * characters, '~' before anything, even the end) and digit runs (numbers). */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "sbom/version.h"

struct dpkg_parts {
    unsigned long long epoch;
    const char *up, *up_end;   /* upstream version */
    const char *rev, *rev_end; /* revision ("" when absent) */
};

static void dpkg_split(const char *v, struct dpkg_parts *p)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t len = strlen(v);
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t' || v[len - 1] == '\n'))
        len--;
    const char *end = v + len;
    p->epoch = 0;
    const char *colon = memchr(v, ':', len);
    if (colon) {
        for (const char *c = v; c < colon; c++) {
            if (!isdigit((unsigned char)*c))
                break;
            if (p->epoch < 1000000000ULL)
                p->epoch = p->epoch * 10 + (unsigned long long)(*c - '0');
        }
        v = colon + 1;
    }
    const char *dash = NULL;
    for (const char *c = v; c < end; c++)
        if (*c == '-')
            dash = c;
    p->up = v;
    if (dash) {
        p->up_end = dash;
        p->rev = dash + 1;
        p->rev_end = end;
    } else {
        p->up_end = end;
        p->rev = p->rev_end = end;
    }
}

/* The weight of one non-digit character; the end of a run weighs 0. */
static int dpkg_weight(char c)
{
    if (c == '~')
        return -1;
    if (isalpha((unsigned char)c))
        return (unsigned char)c;
    return (unsigned char)c + 256;
}

static int dpkg_part_cmp(const char *a, const char *ae, const char *b, const char *be)
{
    while (a < ae || b < be) {
        /* The non-digit prefix. */
        while ((a < ae && !isdigit((unsigned char)*a)) || (b < be && !isdigit((unsigned char)*b))) {
            int wa = (a < ae && !isdigit((unsigned char)*a)) ? dpkg_weight(*a) : 0;
            int wb = (b < be && !isdigit((unsigned char)*b)) ? dpkg_weight(*b) : 0;
            if (wa != wb)
                return wa < wb ? -1 : 1;
            if (a < ae && !isdigit((unsigned char)*a))
                a++;
            if (b < be && !isdigit((unsigned char)*b))
                b++;
        }
        /* The digit run: leading zeros skipped, then longer is larger. */
        while (a < ae && *a == '0')
            a++;
        while (b < be && *b == '0')
            b++;
        const char *da = a, *db = b;
        while (a < ae && isdigit((unsigned char)*a))
            a++;
        while (b < be && isdigit((unsigned char)*b))
            b++;
        size_t la = (size_t)(a - da), lb = (size_t)(b - db);
        if (la != lb)
            return la < lb ? -1 : 1;
        int c = memcmp(da, db, la);
        if (c != 0)
            return c < 0 ? -1 : 1;
    }
    return 0;
}

int version_cmp_dpkg(const char *a, const char *b)
{
    struct dpkg_parts pa, pb;
    dpkg_split(a, &pa);
    dpkg_split(b, &pb);
    if (pa.epoch != pb.epoch)
        return pa.epoch < pb.epoch ? -1 : 1;
    int c = dpkg_part_cmp(pa.up, pa.up_end, pb.up, pb.up_end);
    if (c != 0)
        return c;
    return dpkg_part_cmp(pa.rev, pa.rev_end, pb.rev, pb.rev_end);
}

bool version_valid_dpkg(const char *v)
{
    struct dpkg_parts p;
    if (!v || !*v)
        return false;
    const char *colon = strchr(v, ':');
    if (colon) {
        if (colon == v)
            return false;
        for (const char *c = v; c < colon; c++)
            if (!isdigit((unsigned char)*c))
                return false;
    }
    dpkg_split(v, &p);
    if (p.up == p.up_end || !isdigit((unsigned char)*p.up))
        return false;
    for (const char *c = p.up; c < p.up_end; c++)
        if (!isalnum((unsigned char)*c) && !strchr(".+-~:", *c))
            return false;
    for (const char *c = p.rev; c < p.rev_end; c++)
        if (!isalnum((unsigned char)*c) && !strchr(".+~", *c))
            return false;
    return true;
}
