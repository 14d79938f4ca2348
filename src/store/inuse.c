/* Snapshots mounted right now: every overlay mount, in any mount namespace
 * (/proc/<pid>/mountinfo, one process per namespace), whose lowerdir names
 * KILN_ROOT/snapshots/<hex>. Prune keeps them even when no tag or hold does,
 * e.g. under a detached container whose image was removed. */
#include "store/store_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/digest_set.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && isdigit((unsigned char)r[1]) && isdigit((unsigned char)r[2]) &&
            isdigit((unsigned char)r[3])) {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* One lowerdir path: if it is prefix/<hex>[/...], add hex. */
static void add_if_snapshot(const char *path, const char *prefix, size_t plen,
                            struct digest_set *out)
{
    if (strncmp(path, prefix, plen) != 0)
        return;
    char hex[DIGEST_HEX_LEN + 1];
    size_t n = strcspn(path + plen, "/");
    if (n != DIGEST_HEX_LEN)
        return;
    memcpy(hex, path + plen, n);
    hex[n] = '\0';
    struct digest d;
    if (digest_parse_hex(hex, &d) == 0)
        digest_set_add(out, &d);
}

static void scan_line(char *line, const char *prefix, size_t plen, struct digest_set *out)
{
    char *sep = strstr(line, " - overlay ");
    if (sep == NULL)
        return;
    /* " - overlay SOURCE OPTIONS" */
    char *opts = strchr(sep + 11, ' ');
    if (opts == NULL)
        return;
    opts++;
    opts[strcspn(opts, "\n")] = '\0';
    for (char *opt = opts; opt != NULL;) {
        char *next = strchr(opt, ',');
        if (next != NULL)
            *next++ = '\0';
        const char *val = NULL;
        if (strncmp(opt, "lowerdir=", 9) == 0)
            val = opt + 9;
        else if (strncmp(opt, "lowerdir+=", 10) == 0)
            val = opt + 10;
        if (val != NULL) {
            cleanup_free char *copy = xstrdup(val);
            for (char *p = copy, *colon; p != NULL; p = colon) {
                colon = strchr(p, ':');
                if (colon != NULL)
                    *colon++ = '\0';
                unescape(p);
                add_if_snapshot(p, prefix, plen, out);
            }
        }
        opt = next;
    }
}

int store_snapshots_in_use(struct store *s, struct digest_set *out)
{
    cleanup_free char *prefix = xasprintf("%s/snapshots/", s->root);
    size_t plen = strlen(prefix);
    cleanup_dir DIR *proc = opendir("/proc");
    if (proc == NULL)
        return -1;
    size_t n_seen = 0, cap = 0;
    ino_t *seen = NULL;
    struct dirent *de;
    while ((de = readdir(proc)) != NULL) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char path[300];
        struct stat st;
        snprintf(path, sizeof(path), "/proc/%s/ns/mnt", de->d_name);
        if (stat(path, &st) < 0)
            continue;
        int dup = 0;
        for (size_t i = 0; i < n_seen && !dup; i++)
            dup = seen[i] == st.st_ino;
        if (dup)
            continue;
        if (n_seen == cap) {
            cap = cap ? cap * 2 : 32;
            seen = xrealloc(seen, cap * sizeof(*seen));
        }
        seen[n_seen++] = st.st_ino;
        snprintf(path, sizeof(path), "/proc/%s/mountinfo", de->d_name);
        cleanup_fclose FILE *f = fopen(path, "re");
        if (f == NULL)
            continue;
        char *line = NULL;
        size_t len = 0;
        while (getline(&line, &len, f) > 0)
            scan_line(line, prefix, plen, out);
        free(line);
    }
    free(seen);
    return 0;
}
