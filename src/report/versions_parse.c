/* Parsers of the version report: dpkg's status database, Python core metadata
 * (METADATA / PKG-INFO headers) and KEY=VALUE configuration. Pure functions over
 * a buffer; the input comes from image layers and is treated as hostile (no
 * assumption of NUL termination, long lines or missing fields are fine). */
#include <string.h>

#include "report/versions.h"
#include "util/strbuf.h"

/* Next line of buf[*pos..len) without its newline; 0 at the end. */
static int next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *n)
{
    if (*pos >= len)
        return 0;
    const char *start = buf + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    size_t l = nl ? (size_t)(nl - start) : len - *pos;
    *line = start;
    *n = l > 0 && start[l - 1] == '\r' ? l - 1 : l;
    *pos += l + (nl ? 1 : 0);
    return 1;
}

/* If line starts with "Key:", returns the trimmed value (allocated). */
static char *header_value(const char *line, size_t n, const char *key)
{
    size_t k = strlen(key);
    if (n <= k || memcmp(line, key, k) != 0 || line[k] != ':')
        return NULL;
    const char *v = line + k + 1;
    size_t vl = n - k - 1;
    while (vl > 0 && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    return xstrndup(v, vl);
}

static int installed(const char *status)
{
    /* "want flag state": only the state matters ("install ok installed",
     * "hold ok installed"); config-files, half-installed etc. are not listed by
     * dpkg-query -W's default ${db:Status-Abbrev}=ii either. */
    const char *last = strrchr(status, ' ');
    return last != NULL && strcmp(last + 1, "installed") == 0;
}

void versions_parse_dpkg_status(const char *buf, size_t len, json_t *into)
{
    size_t pos = 0, n;
    const char *line;
    char *pkg = NULL, *ver = NULL, *status = NULL;
    for (int more = 1; more;) {
        more = next_line(buf, len, &pos, &line, &n);
        if (more && n > 0) {
            char *v;
            if ((v = header_value(line, n, "Package"))) {
                free(pkg);
                pkg = v;
            } else if ((v = header_value(line, n, "Version"))) {
                free(ver);
                ver = v;
            } else if ((v = header_value(line, n, "Status"))) {
                free(status);
                status = v;
            }
            continue;
        }
        /* end of a stanza (blank line or end of the file) */
        if (pkg && ver && status && installed(status) && pkg[0])
            json_object_set_new(into, pkg, json_string(ver));
        free(pkg);
        free(ver);
        free(status);
        pkg = ver = status = NULL;
    }
}

int versions_parse_metadata(const char *buf, size_t len, char **name, char **version)
{
    size_t pos = 0, n;
    const char *line;
    *name = *version = NULL;
    while (next_line(buf, len, &pos, &line, &n) && n > 0) {
        char *v;
        if (!*name && (v = header_value(line, n, "Name")))
            *name = v;
        else if (!*version && (v = header_value(line, n, "Version")))
            *version = v;
    }
    if (*name && *version && **name && **version)
        return 0;
    free(*name);
    free(*version);
    *name = *version = NULL;
    return -1;
}

void versions_parse_conf(const char *buf, size_t len, json_t *into)
{
    size_t pos = 0, n;
    const char *line;
    while (next_line(buf, len, &pos, &line, &n)) {
        while (n > 0 && (*line == ' ' || *line == '\t'))
            line++, n--;
        if (n == 0 || *line == '#')
            continue;
        const char *eq = memchr(line, '=', n);
        if (eq == NULL || eq == line)
            continue;
        char *key = xstrndup(line, (size_t)(eq - line));
        const char *v = eq + 1;
        size_t vl = n - (size_t)(eq - line) - 1;
        while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        char *val = xstrndup(v, vl);
        json_object_set_new(into, key, json_string(val));
        free(key);
        free(val);
    }
}
