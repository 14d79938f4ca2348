/* kiln images: the tags in the store as docker prints them (REPOSITORY TAG
 * IMAGE ID CREATED SIZE), newest first, or as JSON with --format json. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/format.h"
#include "cli/store_cmd.h"
#include "cli/opt.h"
#include "store/reference.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/platform.h"
#include "util/strbuf.h"

struct row {
    char *repository, *tag;
    struct digest id, digest;
    int have_id;
    char *created; /* as in the config, or NULL */
    long long created_t;
    uint64_t size;
    char *platforms; /* "linux/amd64,linux/arm64": an index's entries, or the image's */
};

static int by_created_desc(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->created_t != y->created_t)
        return x->created_t < y->created_t ? 1 : -1;
    int c = strcmp(x->repository, y->repository);
    return c ? c : strcmp(x->tag, y->tag);
}

/* Does the entry match the user's REPOSITORY[:TAG] filter? */
static int matches(const struct reference *entry, const struct reference *filter, int with_tag)
{
    if (strcmp(entry->domain, filter->domain) != 0 || strcmp(entry->path, filter->path) != 0)
        return 0;
    return !with_tag || (entry->tag && filter->tag && strcmp(entry->tag, filter->tag) == 0);
}

static void fill_row(struct store *s, const struct store_tag_entry *e, struct row *r)
{
    struct reference ref;
    if (e->name != NULL && reference_parse(e->name, &ref, NULL) == 0) {
        r->repository = reference_familiar_name(&ref);
        r->tag = xstrdup(ref.tag ? ref.tag : "<none>");
        reference_release(&ref);
    } else {
        r->repository = xstrdup(e->name ? e->name : "<none>");
        r->tag = xstrdup("<none>");
    }
    r->digest = e->manifest.digest;
    r->created_t = -1;
    struct image *img = NULL;
    /* the platforms: every entry of an index, else the image's own */
    struct strbuf pl = STRBUF_INIT;
    cleanup_json json_t *doc = store_blob_read_json(s, &e->manifest.digest, NULL);
    json_t *entries = json_object_get(doc, "manifests");
    size_t k;
    json_t *m;
    json_array_foreach(entries, k, m)
    {
        struct platform p;
        char ps[PLATFORM_STR_MAX];
        if (platform_from_json(json_object_get(m, "platform"), &p) == 0)
            strbuf_addf(&pl, "%s%s", pl.len ? "," : "", platform_format(&p, ps));
    }
    if (!json_is_array(entries) &&
        store_image_load_manifest(s, &e->manifest.digest, &img, NULL) == 0) {
        struct platform p;
        char ps[PLATFORM_STR_MAX];
        if (platform_from_json(img->config_json, &p) == 0)
            strbuf_adds(&pl, platform_format(&p, ps));
        image_free(img);
        img = NULL;
    }
    r->platforms = strbuf_detach(&pl);
    if (store_image_load_manifest(s, &e->manifest.digest, &img, NULL) == 0) {
        r->id = img->config.digest;
        r->have_id = 1;
        const char *c = json_string_value(json_object_get(img->config_json, "created"));
        r->created = c ? xstrdup(c) : NULL;
        r->created_t = cli_parse_rfc3339(c);
        r->size = cli_image_size(img);
        image_free(img);
    }
}

/* One row as --format json prints it. */
static json_t *row_json(const struct row *r)
{
    char id[DIGEST_STR_LEN + 1], dg[DIGEST_STR_LEN + 1];
    json_t *o =
        json_pack("{s:s, s:s, s:s?, s:s, s:s?, s:I}", "repository", r->repository, "tag", r->tag,
                  "id", r->have_id ? digest_str(&r->id, id) : NULL, "digest",
                  digest_str(&r->digest, dg), "created", r->created, "size", (json_int_t)r->size);
    json_t *pl = json_array();
    for (const char *p = r->platforms; p && *p;) {
        size_t len = strcspn(p, ",");
        json_array_append_new(pl, json_stringn(p, len));
        p += len + (p[len] == ',');
    }
    json_object_set_new(o, "platforms", pl);
    return o;
}

static void print_json(const struct row *rows, size_t n)
{
    cleanup_json json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, row_json(&rows[i]));
    char *out = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("%s\n", out);
    free(out);
}

/* The row a template reads: the --format json object plus Docker's
 * placeholders (ID, Repository, Tag, Digest, CreatedSince, CreatedAt, Size,
 * VirtualSize, Containers, SharedSize, UniqueSize) as Docker spells them;
 * Platforms the platforms joined by commas. */
static json_t *row_template(const struct row *r, int no_trunc)
{
    json_t *o = row_json(r);
    char buf[64], dg[DIGEST_STR_LEN + 1];
    json_object_set_new(o, "ID",
                        json_string(!r->have_id ? "<missing>"
                                    : no_trunc  ? digest_str(&r->id, dg)
                                                : cli_short_id(&r->id, buf)));
    json_object_set_new(o, "Repository", json_string(r->repository));
    json_object_set_new(o, "Tag", json_string(r->tag));
    json_object_set_new(o, "Digest", json_string(digest_str(&r->digest, dg)));
    json_object_set_new(
        o, "CreatedSince",
        json_string(r->created_t >= 0 ? cli_human_ago(r->created_t, buf, sizeof(buf)) : "N/A"));
    if (r->created_t >= 0)
        cli_docker_time(r->created_t, buf, sizeof(buf));
    json_object_set_new(o, "CreatedAt", json_string(r->created_t >= 0 ? buf : "N/A"));
    cli_human_size(r->size, buf, sizeof(buf));
    json_object_set_new(o, "Size", json_string(buf));
    json_object_set_new(o, "VirtualSize", json_string(buf));
    json_object_set_new(o, "Platforms", json_string(r->platforms ? r->platforms : ""));
    json_object_set_new(o, "Containers", json_string("N/A"));
    json_object_set_new(o, "SharedSize", json_string("N/A"));
    json_object_set_new(o, "UniqueSize", json_string("N/A"));
    /* the fields a row may lack are there for every template */
    if (!json_object_get(o, "id"))
        json_object_set_new(o, "id", json_null());
    if (!json_object_get(o, "created"))
        json_object_set_new(o, "created", json_null());
    return o;
}

/* Docker's column headers (formatter/image.go). */
static const struct gotmpl_header images_headers[] = {
    {"ID", "IMAGE ID"},
    {"CreatedSince", "CREATED"},
    {"CreatedAt", "CREATED AT"},
    {"VirtualSize", "VIRTUAL SIZE"},
    {"SharedSize", "SHARED SIZE"},
    {"UniqueSize", "UNIQUE SIZE"},
    {NULL, NULL},
};

static int print_template(const struct gotmpl *t, const struct row *rows, size_t n, int no_trunc)
{
    cleanup_json json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, row_template(&rows[i], no_trunc));
    return cli_format_print("images", t, arr, images_headers);
}

static void print_table(const struct row *rows, size_t n, int quiet, int no_trunc)
{
    if (quiet) {
        for (size_t i = 0; i < n; i++) {
            char b[16];
            if (rows[i].have_id)
                printf("%s%s\n", no_trunc ? "sha256:" : "",
                       no_trunc ? rows[i].id.hex : cli_short_id(&rows[i].id, b));
        }
        return;
    }
    char ***cells = xcalloc(n + 1, sizeof(*cells));
    static char *header[] = {"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "PLATFORMS"};
    cells[0] = header;
    for (size_t i = 0; i < n; i++) {
        char **c = xcalloc(6, sizeof(*c));
        char buf[64];
        c[0] = rows[i].repository;
        c[1] = rows[i].tag;
        c[2] = !rows[i].have_id ? xstrdup("<missing>")
               : no_trunc       ? xasprintf("sha256:%s", rows[i].id.hex)
                                : xstrdup(cli_short_id(&rows[i].id, buf));
        c[3] = xstrdup(rows[i].created_t >= 0 ? cli_human_ago(rows[i].created_t, buf, sizeof(buf))
                                              : "N/A");
        c[4] = xstrdup(cli_human_size(rows[i].size, buf, sizeof(buf)));
        c[5] = rows[i].platforms;
        cells[i + 1] = c;
    }
    cli_print_table(cells, n + 1, 6);
    for (size_t i = 1; i <= n; i++) {
        free(cells[i][2]);
        free(cells[i][3]);
        free(cells[i][4]);
        free(cells[i]);
    }
    free(cells);
}

static const char *format = "table";
static int quiet, no_trunc;

static const struct cli_opt images_opts[] = {
    {'f', "format", CLI_OPT_STRING, &format, "FORMAT",
     "table (default), json (an array of objects with\n"
     "repository, tag, id, digest, created, size (bytes) and\n"
     "platforms: array of os/arch[/variant]) or a Go template:\n"
     "'{{.Repository}}:{{.Tag}} {{.ID}}',\n"
     "'table {{.ID}}\\t{{.Size}}'",
     NULL},
    {'q', "quiet", CLI_OPT_FLAG, &quiet, NULL, "print image ids only", NULL},
    {0, "no-trunc", CLI_OPT_FLAG, &no_trunc, NULL, "print full image ids", NULL},
    CLI_OPT_END,
};

static const struct cli_spec images_spec = {
    .name = "images",
    .args = "[REPOSITORY[:TAG]]",
    .summary = "list the images in the store",
    .text = "Lists tagged images: REPOSITORY TAG IMAGE ID CREATED SIZE PLATFORMS, newest\n"
            "first. A multi-platform image (an index) is one row; PLATFORMS lists its images'\n"
            "platforms, IMAGE ID is this machine's image (or <missing>).\n"
            "SIZE counts the image's blobs in the store (manifest, config, layers).\n"
            "A template (Go's text/template: fields, json, join, upper, lower, index, if,\n"
            "range, with; Docker's \\t, \\n and table prefix) reads the json fields and\n"
            "Docker's placeholders: .ID .Repository .Tag .Digest .CreatedSince .CreatedAt\n"
            ".Size .VirtualSize .Platforms; see docs/run.md.\n",
    .opts = images_opts,
    .max_args = 1,
};

static int cmd_images(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&images_spec, argc, argv);
    if (first <= 0)
        return -first;
    cleanup_gotmpl struct gotmpl *tmpl = NULL;
    if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0 && !quiet &&
        (tmpl = cli_format_parse("images", format)) == NULL)
        return EXIT_USAGE;
    struct kiln_error *err = NULL;
    struct reference filter = {0};
    int filter_tag = 0, have_filter = argc - first == 1;
    if (have_filter) {
        const char *f = argv[first];
        if (reference_parse(f, &filter, &err) < 0)
            return cli_fail(err);
        const char *slash = strrchr(f, '/');
        filter_tag = strchr(slash ? slash : f, ':') != NULL;
    }
    cleanup_store struct store *s = NULL;
    int rc = cli_store_open(g, &s);
    if (rc != 0) {
        reference_release(&filter);
        return rc;
    }
    struct store_tag_entry *e = NULL;
    size_t n = 0;
    if (store_list_tags(s, &e, &n, &err) < 0) {
        reference_release(&filter);
        return cli_fail(err);
    }
    struct row *rows = xcalloc(n + 1, sizeof(*rows));
    size_t nr = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].referrer) /* an SBOM or other artifact: kiln inspect --referrers */
            continue;
        if (have_filter) {
            struct reference er;
            if (e[i].name == NULL || reference_parse(e[i].name, &er, NULL) < 0)
                continue;
            int m = matches(&er, &filter, filter_tag);
            reference_release(&er);
            if (!m)
                continue;
        }
        fill_row(s, &e[i], &rows[nr++]);
    }
    qsort(rows, nr, sizeof(*rows), by_created_desc);
    if (tmpl != NULL)
        rc = print_template(tmpl, rows, nr, no_trunc);
    else if (strcmp(format, "json") == 0)
        print_json(rows, nr);
    else
        print_table(rows, nr, quiet, no_trunc);
    for (size_t i = 0; i < nr; i++) {
        free(rows[i].repository);
        free(rows[i].tag);
        free(rows[i].created);
        free(rows[i].platforms);
    }
    free(rows);
    store_tag_entries_free(e, n);
    reference_release(&filter);
    return rc;
}

const struct cli_command cli_cmd_images = {
    .name = "images",
    .run = cmd_images,
    .spec = &images_spec,
};
