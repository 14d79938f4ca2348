/* COPY source patterns with "**": component by component, fnmatch(3) for
 * each component, "**" trying every split (bounded by the path's depth, so
 * the work stays polynomial). */
#include "build/pathglob.h"

#include <fnmatch.h>
#include <stddef.h>
#include <string.h>

/* Length of the component starting at s. */
static size_t comp_len(const char *s)
{
    return strcspn(s, "/");
}

static int comp_match(const char *pat, size_t plen, const char *name, size_t nlen)
{
    char p[256], n[256];
    if (plen >= sizeof(p) || nlen >= sizeof(n))
        return 0;
    memcpy(p, pat, plen);
    p[plen] = '\0';
    memcpy(n, name, nlen);
    n[nlen] = '\0';
    return fnmatch(p, n, FNM_PERIOD) == 0;
}

static int match_at(const char *pat, const char *path, int depth)
{
    if (depth > 64)
        return 0;
    for (;;) {
        if (*pat == '\0')
            return *path == '\0';
        size_t pl = comp_len(pat);
        const char *pnext = pat[pl] == '/' ? pat + pl + 1 : pat + pl;
        if (pl == 2 && pat[0] == '*' && pat[1] == '*') {
            /* zero components, or one more and try again */
            if (match_at(pnext, path, depth + 1))
                return 1;
            if (*path == '\0')
                return 0;
            size_t nl = comp_len(path);
            path = path[nl] == '/' ? path + nl + 1 : path + nl;
            continue;
        }
        if (*path == '\0')
            return 0;
        size_t nl = comp_len(path);
        if (!comp_match(pat, pl, path, nl))
            return 0;
        pat = pnext;
        path = path[nl] == '/' ? path + nl + 1 : path + nl;
    }
}

int pathglob_match(const char *pattern, const char *path)
{
    return match_at(pattern, path, 0);
}
