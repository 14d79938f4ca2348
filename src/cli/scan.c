/* kiln scan TARGET: the offline vulnerability scan (sbom/scan.h) of an SBOM
 * file kiln wrote, or of an image; kiln scan db import|list: the advisory
 * databases indexed under the store. The network is used only for --db-url. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "cli/store_cmd.h"
#include "sbom/sbom.h"
#include "sbom/scan.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strbuf.h"

#define DB_MAX_AGE (7 * 24 * 3600)

static void warn_cb(void *ctx, const char *msg)
{
    (void)ctx;
    cli_warn("%s", msg);
}

/* ---- kiln scan db ---------------------------------------------------------- */

/* URL's last path component ("osv-debian.zip"), for the temp file and index. */
static char *url_basename(const char *url)
{
    const char *end = url + strcspn(url, "?#");
    const char *b = end;
    while (b > url && b[-1] != '/')
        b--;
    return b < end ? xstrndup(b, (size_t)(end - b)) : xstrdup("db.json");
}

/* Downloads url into a temp file of dir; returns its path. */
static char *download_db(const char *url, struct kiln_error **err)
{
    const char *tmpdir = getenv("TMPDIR");
    cleanup_free char *base = url_basename(url);
    cleanup_free char *dir = xasprintf("%s/kiln-scan-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir)) {
        kiln_error_errno(err, errno, "mkdtemp %s", dir);
        return NULL;
    }
    char *path = path_join(dir, base);
    if (scan_db_download(url, path, err) < 0) {
        free(path);
        rmdir(dir);
        return NULL;
    }
    return path;
}

static void remove_download(char *path)
{
    if (!path)
        return;
    unlink(path);
    char *slash = strrchr(path, '/');
    if (slash) {
        *slash = '\0';
        rmdir(path);
    }
    free(path);
}

static int import_one(const char *db_dir, const char *src, const char *name)
{
    struct kiln_error *err = NULL;
    struct scan_import_stats st = {0};
    if (scan_db_import(db_dir, src, name, &st, warn_cb, NULL, &err) < 0)
        return cli_fail(err);
    char when[32];
    struct tm tm;
    gmtime_r(&st.data_time, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d", &tm);
    printf("imported %s: %zu files, %zu advisories, %zu entries, %zu skipped (data of %s)\n", src,
           st.files, st.advisories, st.entries, st.skipped, when);
    return EXIT_OK;
}

static const char *import_name, *import_url;

static const struct cli_opt db_import_opts[] = {
    {'n', "name", CLI_OPT_STRING, &import_name, "NAME",
     "the index's name (default: after the file)", NULL},
    {'u', "url", CLI_OPT_STRING, &import_url, "URL", "download the database first (libcurl)", NULL},
    CLI_OPT_END,
};

static const struct cli_spec db_import_spec = {
    .name = "scan db import",
    .args = "FILE|DIR...",
    .summary = "index an OSV export or Debian's security-tracker JSON",
    .text = "Indexes, once, an OSV export (a directory of *.json or its zip) or Debian's\n"
            "security-tracker JSON into the store's scan database; each source becomes one\n"
            "index (NAME.idx, named after the file unless --name). With --url, the\n"
            "database is downloaded first (then no FILE|DIR).\n",
    .opts = db_import_opts,
    .max_args = -1,
};

static const struct cli_spec db_list_spec = {
    .name = "scan db list",
    .summary = "list the imported vulnerability databases",
    .max_args = 0,
};

static int cmd_db_import(const char *db_dir, int argc, char **argv)
{
    int first = cli_parse(&db_import_spec, argc, argv);
    if (first <= 0)
        return -first;
    const char *name = import_name, *url = import_url;
    if (name && (!*name || strchr(name, '/') || name[0] == '.'))
        return cli_usage_error("scan", "--name must be a plain file name, not \"%s\"", name);
    if (url) {
        if (first != argc)
            return cli_usage_error("scan", "db import takes --url or paths, not both");
        struct kiln_error *err = NULL;
        char *path = download_db(url, &err);
        if (!path)
            return cli_fail(err);
        int rc = import_one(db_dir, path, name);
        remove_download(path);
        return rc;
    }
    if (first >= argc)
        return cli_usage_error("scan", "db import needs FILE|DIR (or --url URL)");
    if (name && argc - first > 1)
        return cli_usage_error("scan", "--name goes with one source");
    for (int i = first; i < argc; i++) {
        int rc = import_one(db_dir, argv[i], name);
        if (rc != EXIT_OK)
            return rc;
    }
    return EXIT_OK;
}

static int cmd_db_list(const char *db_dir)
{
    cleanup_scan_db struct scan_db *db = NULL;
    struct kiln_error *err = NULL;
    if (scan_db_open(db_dir, &db, &err) < 0)
        return cli_fail(err);
    printf("%-24s %-12s %10s %10s\n", "DATABASE", "DATA OF", "ADVISORIES", "ENTRIES");
    for (size_t i = 0; i < scan_db_count(db); i++) {
        struct scan_db_info info;
        scan_db_info(db, i, &info);
        char when[32];
        struct tm tm;
        gmtime_r(&info.data_time, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d", &tm);
        printf("%-24s %-12s %10zu %10zu\n", info.name, when, info.advisories, info.entries);
    }
    return EXIT_OK;
}

/* ---- kiln scan TARGET --------------------------------------------------- */

struct scan_cli {
    const char *db, *db_url, *format, *ignore_file, *output;
    unsigned severities;
    int exit_code;
    int ignore_unfixed, fail_minor;
};

static int parse_severities(void *ctx, const struct cli_opt *opt, const char *list)
{
    (void)opt;
    unsigned *out = ctx;
    *out = 0;
    cleanup_free char *copy = xstrdup(list);
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int s = scan_severity_parse(t);
        if (s < 0)
            return cli_usage_error(
                "scan", "unknown severity \"%s\" (LOW, MEDIUM, HIGH, CRITICAL, UNKNOWN)", t);
        *out |= 1u << s;
    }
    return *out ? 0 : cli_usage_error("scan", "--severity needs at least one severity");
}

/* trivy's .trivyignore shape: an ID per line, '#' comments. */
static int read_ignore_file(const char *path, char ***ids, size_t *n, struct kiln_error **err)
{
    cleanup_free char *data = NULL;
    size_t len;
    if (read_file(path, 16u << 20, &data, &len, err) < 0)
        return -1;
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        line += strspn(line, " \t\r");
        size_t l = strcspn(line, " \t\r");
        if (l == 0)
            continue;
        *ids = xrealloc(*ids, (*n + 1) * sizeof(**ids));
        (*ids)[(*n)++] = xstrndup(line, l);
    }
    return 0;
}

/* Where kiln scan IMAGE gets its packages: the SBOM model of `kiln sbom`,
 * wired in when that lands (see docs/scan.md). */
/* An image's packages: its SBOM (kiln sbom's model, read from the layers without
 * running it) as CycloneDX, read back through the same purl path as an SBOM file,
 * so a scan of IMAGE and of `kiln sbom IMAGE -o F` find the same things. */
static int packages_of_image(struct cli_global *g, const char *ref, const char *platform,
                             struct scan_packages *pkgs, struct kiln_error **err)
{
    cleanup_store struct store *s = NULL;
    int rc = cli_store_open(g, &s);
    if (rc != 0)
        return kiln_error_set(err, KILN_E_FAIL, "%s: cannot open the store", ref);
    cleanup_sbom struct sbom *sb = NULL;
    if (sbom_from_image(s, ref, platform, &sb, err) < 0)
        return kiln_error_prefix(err, "%s (neither an SBOM file nor an image in the store)", ref);
    for (size_t i = 0; i < sb->n_warnings; i++)
        warn_cb(NULL, sb->warnings[i]);
    cleanup_json json_t *doc = sbom_write_cyclonedx(sb);
    return scan_packages_from_sbom(doc, ref, pkgs, warn_cb, NULL, err);
}

static void print_table(const struct scan_result *r, const char *target)
{
    size_t wp = 7, wi = 9, wf = 5, wid = 2;
    for (size_t i = 0; i < r->n; i++) {
        const struct scan_finding *f = &r->v[i];
        size_t l;
        if ((l = strlen(f->pkg->name)) > wp)
            wp = l;
        if ((l = strlen(f->pkg->version)) > wi)
            wi = l;
        if (f->fixed_version && (l = strlen(f->fixed_version)) > wf)
            wf = l;
        if ((l = strlen(f->id)) > wid)
            wid = l;
    }
    size_t count[5] = {0};
    for (size_t i = 0; i < r->n; i++)
        count[r->v[i].severity]++;
    printf("%s: %zu packages, %zu vulnerabilities (CRITICAL %zu, HIGH %zu, MEDIUM %zu, LOW %zu, "
           "UNKNOWN %zu)\n",
           target, r->packages, r->n, count[SEV_CRITICAL], count[SEV_HIGH], count[SEV_MEDIUM],
           count[SEV_LOW], count[SEV_UNKNOWN]);
    for (int s = SEV_CRITICAL; s >= SEV_UNKNOWN; s--) {
        if (count[s] == 0)
            continue;
        printf("\n%s (%zu)\n", scan_severity_name((enum scan_severity)s), count[s]);
        printf("  %-*s  %-*s  %-*s  %-*s  %-4s  %s\n", (int)wp, "PACKAGE", (int)wi, "INSTALLED",
               (int)wf, "FIXED", (int)wid, "ID", "CVSS", "TITLE");
        for (size_t i = 0; i < r->n; i++) {
            const struct scan_finding *f = &r->v[i];
            if ((int)f->severity != s)
                continue;
            char score[16] = "-";
            if (f->score >= 0)
                snprintf(score, sizeof(score), "%.1f", f->score);
            printf("  %-*s  %-*s  %-*s  %-*s  %-4s  %s%s%s%.70s\n", (int)wp, f->pkg->name, (int)wi,
                   f->pkg->version, (int)wf, f->fixed_version ? f->fixed_version : "-", (int)wid,
                   f->id, score, f->minor_reason ? "[" : "", f->minor_reason ? f->minor_reason : "",
                   f->minor_reason ? "] " : "", f->summary ? f->summary : "");
        }
    }
}

static int open_db(struct cli_global *g, const struct scan_cli *o, struct scan_db **db,
                   char **tmp_dir)
{
    struct kiln_error *err = NULL;
    cleanup_free char *root = cli_store_root(g);
    cleanup_free char *store_db = scan_db_default_dir(root);
    if (o->db_url) {
        char *path = download_db(o->db_url, &err);
        if (!path)
            return cli_fail(err);
        int rc = import_one(store_db, path, NULL);
        remove_download(path);
        if (rc != EXIT_OK)
            return rc;
    }
    const char *dir = store_db;
    if (o->db) {
        /* An index directory is used as is; a raw database (OSV files, a
         * zip, the tracker's JSON) is indexed into a temporary one. */
        struct scan_db *t = NULL;
        struct kiln_error *e2 = NULL;
        if (scan_db_open(o->db, &t, &e2) == 0) {
            *db = t;
            return EXIT_OK;
        }
        kiln_error_free(e2);
        const char *tmpdir = getenv("TMPDIR");
        *tmp_dir = xasprintf("%s/kiln-scan-db-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
        if (!mkdtemp(*tmp_dir))
            return cli_fail((kiln_error_errno(&err, errno, "mkdtemp %s", *tmp_dir), err));
        if (scan_db_import(*tmp_dir, o->db, "db", NULL, warn_cb, NULL, &err) < 0)
            return cli_fail(err);
        dir = *tmp_dir;
    }
    if (scan_db_open(dir, db, &err) < 0)
        return cli_fail(err);
    return EXIT_OK;
}

static int run_scan(struct cli_global *g, const struct scan_cli *o, const char *target)
{
    struct kiln_error *err = NULL;
    struct scan_packages pkgs = {0};
    struct stat st;
    int rc;
    cleanup_free char *root = NULL;
    if (stat(target, &st) == 0 && S_ISREG(st.st_mode)) {
        rc = scan_packages_from_file(target, &pkgs, warn_cb, NULL, &err);
    } else {
        /* rootless, the image's snapshots unpack in the user namespace */
        int erc = cli_rootless_enter(g, &root);
        if (erc != 0)
            return erc;
        rc = packages_of_image(g, target, NULL, &pkgs, &err);
    }
    if (rc < 0) {
        scan_packages_release(&pkgs);
        return cli_fail(err);
    }
    char **ids = NULL;
    size_t nids = 0;
    if (o->ignore_file && read_ignore_file(o->ignore_file, &ids, &nids, &err) < 0) {
        scan_packages_release(&pkgs);
        return cli_fail(err);
    }
    cleanup_scan_db struct scan_db *db = NULL;
    cleanup_free char *tmp_dir = NULL;
    rc = open_db(g, o, &db, &tmp_dir);
    if (rc == EXIT_OK) {
        time_t age = time(NULL) - scan_db_data_time(db);
        if (age > DB_MAX_AGE)
            cli_warn("the vulnerability database is %lld days old: import a fresh one "
                     "(kiln scan db import, docs/scan.md)",
                     (long long)(age / 86400));
        struct scan_options opt = {
            .severities = o->severities,
            .ignore_unfixed = o->ignore_unfixed,
            .ignore_ids = (const char *const *)ids,
            .nignore = nids,
            .warn = warn_cb,
        };
        struct scan_result res;
        if (scan_run(db, &pkgs, &opt, &res, &err) < 0) {
            rc = cli_fail(err);
        } else {
            if (strcmp(o->format, "table") == 0 && !o->output) {
                print_table(&res, target);
            } else if (strcmp(o->format, "table") == 0) {
                rc = cli_usage_error("scan", "-o writes json or sarif, not the table");
            } else {
                cleanup_json json_t *doc = strcmp(o->format, "json") == 0
                                               ? scan_result_json(&res, target)
                                               : scan_result_sarif(&res, target, KILN_VERSION);
                cleanup_free char *s = json_dumps(doc, JSON_INDENT(2));
                if (!o->output)
                    printf("%s\n", s);
                else if (write_output_file(o->output, s, strlen(s), 0644, &err) < 0)
                    rc = cli_fail(err);
            }
            size_t failing = o->fail_minor ? res.n : scan_result_failing(&res);
            if (rc == EXIT_OK && o->exit_code && failing > 0)
                rc = o->exit_code;
            scan_result_release(&res);
        }
    }
    if (tmp_dir) {
        struct kiln_error *e = NULL;
        rm_rf(tmp_dir, &e);
        kiln_error_free(e);
    }
    for (size_t i = 0; i < nids; i++)
        free(ids[i]);
    free(ids);
    scan_packages_release(&pkgs);
    return rc;
}

static struct scan_cli scan_o = {.format = "table"};

static int parse_exit_code(void *ctx, const struct cli_opt *opt, const char *arg)
{
    (void)opt;
    char *end;
    long v = strtol(arg, &end, 10);
    if (*end || end == arg || v < 0 || v > 255)
        return cli_usage_error("scan", "--exit-code needs 0..255, not \"%s\"", arg);
    *(int *)ctx = (int)v;
    return 0;
}

static const struct cli_opt scan_opts[] = {
    {0, "db", CLI_OPT_STRING, &scan_o.db, "DIR",
     "use this database instead of the store's: an index\n"
     "directory, or an OSV/tracker file, dir or zip\n"
     "(indexed for this scan only)",
     NULL},
    {0, "db-url", CLI_OPT_STRING, &scan_o.db_url, "URL",
     "download a database (libcurl) into the store first", NULL},
    {'s', "severity", CLI_OPT_FUNC, &scan_o.severities, "LIST",
     "report only these: LOW,MEDIUM,HIGH,CRITICAL,UNKNOWN", parse_severities},
    {'e', "exit-code", CLI_OPT_FUNC, &scan_o.exit_code, "N",
     "exit N when a reported vulnerability remains (Debian's\n"
     "unimportant / no-dsa / end-of-life ones are shown but\n"
     "do not count unless --fail-on-minor)",
     parse_exit_code},
    {'i', "ignore-file", CLI_OPT_STRING, &scan_o.ignore_file, "FILE",
     "IDs (CVE, GHSA, ...) to leave out, one per line, # comments", NULL},
    {'f', "format", CLI_OPT_STRING, &scan_o.format, "FORMAT",
     "table (default), json or sarif (SARIF 2.1.0)", NULL},
    {'o', "output", CLI_OPT_STRING, &scan_o.output, "FILE",
     "write the json or sarif report to FILE", NULL},
    {0, "ignore-unfixed", CLI_OPT_FLAG, &scan_o.ignore_unfixed, NULL,
     "leave out vulnerabilities without a fixed version", NULL},
    {0, "fail-on-minor", CLI_OPT_FLAG, &scan_o.fail_minor, NULL,
     "count minor Debian issues for --exit-code too", NULL},
    CLI_OPT_END,
};

static const struct cli_spec scan_spec = {
    .name = "scan",
    .args = "IMAGE|SBOM-FILE",
    .summary = "scan an image or SBOM for known vulnerabilities, offline",
    .text = "Matches every package of an image (or of a CycloneDX / SPDX JSON SBOM that\n"
            "kiln wrote: Debian, PyPI and npm package URLs) against the vulnerability\n"
            "databases imported under the store (KILN_ROOT/scan-db). Versions compare by\n"
            "each ecosystem's rules (dpkg, PEP 440, semver); Debian binary packages are\n"
            "looked up by their source package. No network is used unless --db-url or\n"
            "db import --url names one.\n\n"
            "db import indexes, once, an OSV export (a directory of *.json or its zip,\n"
            "e.g. osv.dev's Debian:12, PyPI and npm all.zip) or Debian's security-tracker\n"
            "JSON; each source becomes one index (NAME.idx, named after the file unless\n"
            "--name). A scan warns when a database is more than 7 days old.\n\n"
            "Example (CI: fail on HIGH and CRITICAL):\n"
            "  kiln scan db import debian-12.zip pypi.zip npm.zip tracker.json\n"
            "  kiln scan --severity HIGH,CRITICAL --exit-code 1 dataenv:latest-prod\n",
    .opts = scan_opts,
    .min_args = 1,
    .max_args = 1,
};

static const struct cli_spec *const scan_subcommands[] = {&db_import_spec, &db_list_spec, NULL};

static int cmd_scan(struct cli_global *g, int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return cli_print_help("scan"); /* with the db subcommands */
    if (argc >= 2 && strcmp(argv[1], "db") == 0) {
        cleanup_free char *root = cli_store_root(g);
        cleanup_free char *db_dir = scan_db_default_dir(root);
        if (argc >= 3 && strcmp(argv[2], "import") == 0)
            return cmd_db_import(db_dir, argc - 2, argv + 2);
        if (argc >= 3 && strcmp(argv[2], "list") == 0) {
            int first = cli_parse(&db_list_spec, argc - 2, argv + 2);
            return first <= 0 ? -first : cmd_db_list(db_dir);
        }
        return cli_usage_error("scan", "db needs import or list");
    }
    int first = cli_parse(&scan_spec, argc, argv);
    if (first <= 0)
        return -first;
    struct scan_cli o = scan_o;
    if (strcmp(o.format, "table") != 0 && strcmp(o.format, "json") != 0 &&
        strcmp(o.format, "sarif") != 0)
        return cli_usage_error("scan", "--format must be table, json or sarif, not \"%s\"",
                               o.format);
    return run_scan(g, &o, argv[first]);
}

const struct cli_command cli_cmd_scan = {
    .name = "scan",
    .run = cmd_scan,
    .spec = &scan_spec,
    .subcommands = scan_subcommands,
};
