/* The advisory index under the store (scan_internal.h has its format):
 * import reads a source once (directory, zip or JSON file) into sorted
 * lines and writes NAME.idx crash-safely; scans map the files and binary-
 * search them. */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sbom/scan.h"
#include "sbom/scan_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

#define ADV_FILE_MAX (1u << 30) /* one JSON file: the tracker's is ~100 MB */

char *scan_db_default_dir(const char *store_root)
{
    return path_join(store_root, "scan-db");
}

char *scan_normalize_name(const char *eco, const char *name)
{
    if (strcmp(eco, "PyPI") != 0)
        return xstrdup(name);
    /* PEP 503: lowercase, runs of '-', '_', '.' become one '-'. */
    struct strbuf sb = STRBUF_INIT;
    for (const char *c = name; *c; c++) {
        if (*c == '-' || *c == '_' || *c == '.') {
            if (sb.len == 0 || sb.buf[sb.len - 1] != '-')
                strbuf_addc(&sb, '-');
        } else {
            strbuf_addc(&sb, (char)tolower((unsigned char)*c));
        }
    }
    return strbuf_detach(&sb);
}

void adv_sink_warn(struct adv_sink *s, const char *fmt, ...)
{
    if (!s->warn)
        return;
    va_list ap;
    va_start(ap, fmt);
    struct strbuf sb = STRBUF_INIT;
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    s->warn(s->warn_ctx, sb.buf);
    strbuf_release(&sb);
}

static void add_field(struct strbuf *sb, const char *s, size_t max)
{
    size_t n = 0;
    for (const char *c = s ? s : ""; *c && n < max; c++, n++)
        strbuf_addc(sb, (*c == '\t' || *c == '\n' || *c == '\r') ? ' ' : *c);
}

static void push_line(char ***v, size_t *n, size_t *cap, char *line)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        *v = xrealloc(*v, *cap * sizeof(**v));
    }
    (*v)[(*n)++] = line;
}

void adv_sink_advisory(struct adv_sink *s, const char *id, const char *severity, double score,
                       const char *aliases, const char *summary)
{
    struct strbuf sb = STRBUF_INIT;
    add_field(&sb, id, 256);
    strbuf_addc(&sb, '\t');
    add_field(&sb, severity, 32);
    if (score >= 0)
        strbuf_addf(&sb, "\t%.1f\t", score);
    else
        strbuf_adds(&sb, "\t-\t");
    add_field(&sb, aliases, 4096);
    strbuf_addc(&sb, '\t');
    /* Summaries are for the table and SARIF: the first 300 characters. */
    add_field(&sb, summary, 300);
    strbuf_addc(&sb, '\n');
    push_line(&s->alines, &s->na, &s->capa, strbuf_detach(&sb));
}

void adv_sink_entry(struct adv_sink *s, const char *eco, const char *name, const char *id,
                    const char *spec)
{
    struct strbuf sb = STRBUF_INIT;
    add_field(&sb, eco, 64);
    strbuf_addc(&sb, '\t');
    add_field(&sb, name, 512);
    strbuf_addc(&sb, '\t');
    add_field(&sb, id, 256);
    strbuf_addc(&sb, '\t');
    add_field(&sb, spec, 1u << 20);
    strbuf_addc(&sb, '\n');
    push_line(&s->plines, &s->np, &s->capp, strbuf_detach(&sb));
}

void adv_sink_release(struct adv_sink *s)
{
    for (size_t i = 0; i < s->na; i++)
        free(s->alines[i]);
    for (size_t i = 0; i < s->np; i++)
        free(s->plines[i]);
    free(s->alines);
    free(s->plines);
}

/* One JSON document: the tracker's, or OSV. */
int adv_import_json(struct adv_sink *s, const char *data, size_t len, const char *what,
                    struct kiln_error **err)
{
    cleanup_json json_t *doc = json_parse_bytes(data, len, what, err);
    if (!doc)
        return -1;
    if (debtracker_is_document(doc))
        return debtracker_add_document(s, doc, what, err);
    return osv_add_document(s, doc, what, err);
}

/* In a directory or zip, a bad file is skipped with a warning; a single
 * file given by itself is the error. */
static void import_member(struct adv_sink *s, const char *data, size_t len, const char *what)
{
    struct kiln_error *e = NULL;
    if (adv_import_json(s, data, len, what, &e) < 0) {
        adv_sink_warn(s, "%s: skipped", e->msg);
        s->skipped++;
    }
    kiln_error_free(e);
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int import_zip(struct adv_sink *s, const char *path, size_t *files, struct kiln_error **err)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_zip(a);
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        int rc = kiln_error_set(err, KILN_E_INVALID, "%s: not a readable zip: %s", path,
                                archive_error_string(a));
        archive_read_free(a);
        return rc;
    }
    struct archive_entry *ent;
    int r, rc = 0;
    while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(ent);
        if (archive_entry_filetype(ent) != AE_IFREG || !name || !has_suffix(name, ".json"))
            continue;
        /* Sizes may be unknown (data descriptors): read to the end, bounded. */
        struct strbuf buf = STRBUF_INIT;
        la_ssize_t n;
        char chunk[65536];
        while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0 && buf.len <= ADV_FILE_MAX)
            strbuf_add(&buf, chunk, (size_t)n);
        cleanup_free char *what = xasprintf("%s:%s", path, name);
        if (n < 0) {
            strbuf_release(&buf);
            rc = kiln_error_set(err, KILN_E_INVALID, "%s: damaged in the zip: %s", what,
                                archive_error_string(a));
            break;
        }
        if (buf.len > ADV_FILE_MAX) {
            strbuf_release(&buf);
            adv_sink_warn(s, "%s: too large: skipped", what);
            s->skipped++;
            continue;
        }
        size_t got = buf.len;
        cleanup_free char *data = strbuf_detach(&buf);
        import_member(s, data, got, what);
        (*files)++;
    }
    if (rc == 0 && r != ARCHIVE_EOF)
        rc = kiln_error_set(err, KILN_E_INVALID, "%s: damaged zip: %s", path,
                            archive_error_string(a));
    archive_read_free(a);
    return rc;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int import_dir(struct adv_sink *s, const char *dir, size_t *files, int depth,
                      struct kiln_error **err)
{
    cleanup_dir DIR *d = opendir(dir);
    if (!d)
        return kiln_error_errno(err, errno, "open %s", dir);
    /* Sorted, so the same directory gives the same index. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        push_line(&names, &n, &cap, xstrdup(de->d_name));
    }
    if (n)
        qsort(names, n, sizeof(*names), cmp_strp);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        cleanup_free char *p = path_join(dir, names[i]);
        struct stat st;
        if (lstat(p, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth < 8)
            rc = import_dir(s, p, files, depth + 1, err);
        else if (S_ISREG(st.st_mode) && has_suffix(p, ".json")) {
            cleanup_free char *data = NULL;
            size_t len;
            if (read_file(p, ADV_FILE_MAX, &data, &len, err) < 0) {
                rc = -1;
                break;
            }
            import_member(s, data, len, p);
            (*files)++;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* Sorted lines, duplicates dropped; for advisories the first line of an ID
 * with a score wins (a tracker CVE and an OSV record of it). */
static void sort_lines(char **v, size_t *n, bool by_id)
{
    if (*n == 0)
        return;
    qsort(v, *n, sizeof(*v), cmp_strp);
    size_t out = 0;
    for (size_t i = 0; i < *n; i++) {
        if (out > 0) {
            char *prev = v[out - 1];
            size_t klen = by_id ? strcspn(prev, "\t") + 1 : strlen(prev) + 1;
            if (strncmp(prev, v[i], klen) == 0) {
                /* Same key: keep the one that has a score (third field). */
                const char *ps = strchr(strchr(prev, '\t') + 1, '\t') + 1;
                const char *vs = strchr(strchr(v[i], '\t') + 1, '\t') + 1;
                if (by_id && *ps == '-' && *vs != '-') {
                    free(prev);
                    v[out - 1] = v[i];
                } else {
                    free(v[i]);
                }
                continue;
            }
        }
        v[out++] = v[i];
    }
    *n = out;
}

static char *index_name(const char *src)
{
    const char *base = strrchr(src, '/');
    base = base ? base + 1 : src;
    struct strbuf sb = STRBUF_INIT;
    for (const char *c = base; *c; c++)
        strbuf_addc(&sb,
                    isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.' ? *c : '_');
    /* Drop the source's extension: osv-pypi.zip -> osv-pypi. */
    char *dot = strrchr(sb.buf, '.');
    if (dot && dot != sb.buf)
        strbuf_setlen(&sb, (size_t)(dot - sb.buf));
    if (sb.len == 0 || sb.buf[0] == '.')
        strbuf_adds(&sb, "db");
    return strbuf_detach(&sb);
}

void adv_sink_finish(struct adv_sink *s)
{
    sort_lines(s->alines, &s->na, true);
    sort_lines(s->plines, &s->np, false);
}

bool adv_sink_write(const struct adv_sink *s, FILE *f, const char *src)
{
    size_t alen = 0, plen = 0;
    for (size_t i = 0; i < s->na; i++)
        alen += strlen(s->alines[i]);
    for (size_t i = 0; i < s->np; i++)
        plen += strlen(s->plines[i]);
    struct strbuf hdr = STRBUF_INIT;
    strbuf_addf(&hdr, "%s\ndata-time\t%lld\nimported\t%lld\nsource\t", SCAN_INDEX_MAGIC,
                (long long)s->data_time, (long long)time(NULL));
    add_field(&hdr, src, 4096);
    strbuf_addf(&hdr, "\nadvisories\t%zu\nentries\t%zu\nA\t0\t%zu\nP\t%zu\t%zu\n\n", s->na, s->np,
                alen, alen, plen);
    bool ok = fwrite(hdr.buf, 1, hdr.len, f) == hdr.len;
    strbuf_release(&hdr);
    for (size_t i = 0; ok && i < s->na; i++)
        ok = fputs(s->alines[i], f) >= 0;
    for (size_t i = 0; ok && i < s->np; i++)
        ok = fputs(s->plines[i], f) >= 0;
    return ok;
}

/* Temp file in the same directory, fsync, rename, fsync of the directory:
 * a reader sees the old index or the new one, never half of one. */
static int write_index(const char *db_dir, const char *name, const char *src, struct adv_sink *s,
                       struct kiln_error **err)
{
    cleanup_free char *path = xasprintf("%s/%s.idx", db_dir, name);
    cleanup_free char *tmp = xasprintf("%s/.%s.idx.XXXXXX", db_dir, name);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return kiln_error_errno(err, errno, "create %s", tmp);
    /* Buffered: the lines are many and small. */
    FILE *f = fdopen(fd, "w");
    bool ok = f && adv_sink_write(s, f, src);
    ok = ok && fflush(f) == 0 && fsync(fd) == 0 && fchmod(fd, 0644) == 0;
    int saved = errno;
    if (f)
        fclose(f);
    else
        close(fd);
    if (!ok || rename(tmp, path) < 0) {
        saved = ok ? errno : saved;
        unlink(tmp);
        return kiln_error_errno(err, saved, "write %s", path);
    }
    return fsync_dir(db_dir, err);
}

int scan_db_import(const char *db_dir, const char *src, const char *name,
                   struct scan_import_stats *stats, scan_warn_fn warn, void *warn_ctx,
                   struct kiln_error **err)
{
    struct stat st;
    if (stat(src, &st) < 0)
        return kiln_error_errno(err, errno, "%s", src);
    struct adv_sink s = {.warn = warn, .warn_ctx = warn_ctx};
    size_t files = 0;
    int rc;
    if (S_ISDIR(st.st_mode)) {
        rc = import_dir(&s, src, &files, 0, err);
    } else if (has_suffix(src, ".zip")) {
        rc = import_zip(&s, src, &files, err);
    } else {
        cleanup_free char *data = NULL;
        size_t len;
        rc = read_file(src, ADV_FILE_MAX, &data, &len, err);
        if (rc == 0)
            rc = adv_import_json(&s, data, len, src, err);
        files = 1;
    }
    if (rc == 0 && s.na == 0 && s.np == 0)
        rc = kiln_error_set(err, KILN_E_INVALID, "%s: no advisories found (%zu files read)", src,
                            files);
    if (rc == 0) {
        if (s.data_time == 0)
            s.data_time = st.st_mtime;
        adv_sink_finish(&s);
        cleanup_free char *nm = name ? xstrdup(name) : index_name(src);
        rc = mkdir_p(db_dir, 0755, err);
        if (rc == 0)
            rc = write_index(db_dir, nm, src, &s, err);
    }
    if (stats) {
        stats->files = files;
        stats->advisories = s.na;
        stats->entries = s.np;
        stats->skipped = s.skipped;
        stats->data_time = s.data_time;
    }
    adv_sink_release(&s);
    return rc;
}
