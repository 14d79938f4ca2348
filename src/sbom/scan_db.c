/* Reading the advisory index: every NAME.idx of the database directory is
 * mapped read-only; its header gives the two sorted sections, which binary
 * search reads line by line (nothing else of the file is touched). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sbom/scan.h"
#include "sbom/scan_db_internal.h"
#include "sbom/scan_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strbuf.h"

void scan_db_close(struct scan_db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->n; i++) {
        if (db->idx[i].map && db->idx[i].mapped)
            munmap(db->idx[i].map, db->idx[i].size);
        free(db->idx[i].name);
    }
    free(db->idx);
    free(db);
}

void cleanup_scan_dbp(struct scan_db **db)
{
    scan_db_close(*db);
    *db = NULL;
}

time_t scan_db_data_time(const struct scan_db *db)
{
    time_t t = 0;
    for (size_t i = 0; i < db->n; i++)
        if (t == 0 || db->idx[i].data_time < t)
            t = db->idx[i].data_time;
    return t;
}

size_t scan_db_count(const struct scan_db *db)
{
    return db->n;
}

void scan_db_info(const struct scan_db *db, size_t i, struct scan_db_info *out)
{
    const struct scan_index *x = &db->idx[i];
    out->name = x->name;
    out->data_time = x->data_time;
    out->advisories = x->advisories;
    out->entries = x->entries;
}

/* The header: "key\tvalue..." lines up to an empty one. */
static int parse_header(struct scan_index *x, const char *path, struct kiln_error **err)
{
    const char *p = x->map, *end = x->map + x->size;
    size_t ml = strlen(SCAN_INDEX_MAGIC);
    if (x->size < ml + 1 || memcmp(p, SCAN_INDEX_MAGIC, ml) != 0 || p[ml] != '\n')
        return kiln_error_set(err, KILN_E_INVALID, "%s: not a kiln advisory index", path);
    p += ml + 1;
    bool have_a = false, have_p = false;
    while (p < end && *p != '\n') {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        unsigned long long a = 0, b = 0;
        long long t = 0;
        /* A NUL-terminated copy: the map has no NUL, and sscanf's %llu
         * would skip newlines past the end of the line. */
        char line[128];
        size_t ll = (size_t)(nl - p) < sizeof(line) - 1 ? (size_t)(nl - p) : sizeof(line) - 1;
        memcpy(line, p, ll);
        line[ll] = '\0';
        if (sscanf(line, "A\t%llu\t%llu", &a, &b) == 2) {
            x->a_off = a;
            x->a_len = b;
            have_a = true;
        } else if (sscanf(line, "P\t%llu\t%llu", &a, &b) == 2) {
            x->p_off = a;
            x->p_len = b;
            have_p = true;
        } else if (sscanf(line, "advisories\t%llu", &a) == 1) {
            x->advisories = (size_t)a;
        } else if (sscanf(line, "entries\t%llu", &a) == 1) {
            x->entries = (size_t)a;
        } else if (sscanf(line, "data-time\t%lld", &t) == 1) {
            x->data_time = (time_t)t;
        }
        p = nl + 1;
    }
    if (p >= end || !have_a || !have_p)
        return kiln_error_set(err, KILN_E_INVALID, "%s: damaged header", path);
    size_t data = (size_t)(p + 1 - x->map), avail = x->size - data;
    if (x->a_off > avail || x->a_len > avail - x->a_off || x->p_off > avail ||
        x->p_len > avail - x->p_off)
        return kiln_error_set(err, KILN_E_INVALID, "%s: truncated (sections past the end)", path);
    x->a_off += data;
    x->p_off += data;
    if ((x->a_len && x->map[x->a_off + x->a_len - 1] != '\n') ||
        (x->p_len && x->map[x->p_off + x->p_len - 1] != '\n'))
        return kiln_error_set(err, KILN_E_INVALID, "%s: damaged section", path);
    return 0;
}

static int open_index(struct scan_index *x, const char *path, struct kiln_error **err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kiln_error_errno(err, errno, "open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return kiln_error_errno(err, errno, "stat %s", path);
    x->size = (size_t)st.st_size;
    if (x->size == 0)
        return kiln_error_set(err, KILN_E_INVALID, "%s: empty", path);
    void *m = mmap(NULL, x->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return kiln_error_errno(err, errno, "mmap %s", path);
    x->map = m;
    x->mapped = true;
    return parse_header(x, path, err);
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int scan_db_open(const char *db_dir, struct scan_db **out, struct kiln_error **err)
{
    cleanup_dir DIR *d = opendir(db_dir);
    if (!d) {
        if (errno == ENOENT)
            return kiln_error_set(err, KILN_E_NOTFOUND,
                                  "no vulnerability database in %s (kiln scan db import FILE|DIR)",
                                  db_dir);
        return kiln_error_errno(err, errno, "open %s", db_dir);
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 5 || strcmp(de->d_name + l - 4, ".idx") != 0)
            continue;
        names = xrealloc(names, (n + 1) * sizeof(*names));
        names[n++] = xstrdup(de->d_name);
    }
    if (n == 0) {
        free(names);
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "no vulnerability database in %s (kiln scan db import FILE|DIR)",
                              db_dir);
    }
    qsort(names, n, sizeof(*names), cmp_strp);
    struct scan_db *db = xcalloc(1, sizeof(*db));
    db->idx = xcalloc(n, sizeof(*db->idx));
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        cleanup_free char *path = path_join(db_dir, names[i]);
        struct scan_index *x = &db->idx[db->n++];
        x->name = xstrndup(names[i], strlen(names[i]) - 4);
        if (rc == 0)
            rc = open_index(x, path, err);
        free(names[i]);
    }
    free(names);
    if (rc < 0) {
        scan_db_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

int scan_db_from_memory(char *buf, size_t len, const char *name, struct scan_db **out,
                        struct kiln_error **err)
{
    struct scan_db *db = xcalloc(1, sizeof(*db));
    db->idx = xcalloc(1, sizeof(*db->idx));
    db->n = 1;
    db->idx[0].name = xstrdup(name);
    db->idx[0].map = buf;
    db->idx[0].size = len;
    if (len == 0 || parse_header(&db->idx[0], name, err) < 0) {
        if (len == 0)
            kiln_error_set(err, KILN_E_INVALID, "%s: empty", name);
        scan_db_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

/* The first line of [lo, hi) (both line starts) that is >= key in its first
 * strlen(key) bytes. */
static size_t lower_bound(const char *m, size_t lo, size_t hi, const char *key, size_t klen)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, ls = mid;
        while (ls > lo && m[ls - 1] != '\n')
            ls--;
        const char *nl = memchr(m + ls, '\n', hi - ls);
        size_t le = nl ? (size_t)(nl - m) + 1 : hi;
        size_t ll = le - ls, n = ll < klen ? ll : klen;
        int c = memcmp(m + ls, key, n);
        if (c < 0 || (c == 0 && ll < klen))
            lo = le;
        else
            hi = ls;
    }
    return lo;
}

size_t scan_index_find(const struct scan_index *x, bool entries, const char *key,
                       struct scan_line *lines, size_t max)
{
    size_t lo = entries ? x->p_off : x->a_off;
    size_t hi = lo + (entries ? x->p_len : x->a_len);
    size_t klen = strlen(key), n = 0;
    size_t at = lower_bound(x->map, lo, hi, key, klen);
    while (at < hi) {
        const char *nl = memchr(x->map + at, '\n', hi - at);
        size_t len = (size_t)(nl - (x->map + at));
        if (len < klen || memcmp(x->map + at, key, klen) != 0)
            break;
        if (n < max) {
            lines[n].s = x->map + at;
            lines[n].len = len;
        }
        n++;
        at += len + 1;
    }
    return n;
}
