/* kiln history IMAGE: the image's history entries, newest first, with the
 * size of the layer each one made (docker's IMAGE CREATED CREATED BY SIZE
 * COMMENT table), or JSON with --format json. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/store_cmd.h"
#include "cli/opt.h"
#include "util/cleanup.h"
#include "util/platform.h"
#include "util/json.h"
#include "util/strbuf.h"

struct hrow {
    const char *created;
    const char *created_by;
    const char *comment;
    int empty_layer;
    uint64_t size;
};

/* One row per history entry; non-empty entries take the layers in order.
 * Without history, one anonymous row per layer. */
static struct hrow *collect(const struct image *img, size_t *n)
{
    json_t *hist = json_object_get(img->config_json, "history");
    size_t nh = json_array_size(hist);
    size_t count = nh > 0 ? nh : img->n_layers;
    struct hrow *rows = xcalloc(count + 1, sizeof(*rows));
    size_t layer = 0;
    for (size_t i = 0; i < count; i++) {
        json_t *h = json_array_get(hist, i);
        rows[i].created = json_get_str(h, "created");
        rows[i].created_by = json_get_str(h, "created_by");
        rows[i].comment = json_get_str(h, "comment");
        rows[i].empty_layer = json_is_true(json_object_get(h, "empty_layer"));
        if (!rows[i].empty_layer && layer < img->n_layers)
            rows[i].size = img->layers[layer++].blob.size;
    }
    *n = count;
    return rows;
}

static void print_json(const struct image *img, const struct hrow *rows, size_t n)
{
    cleanup_json json_t *arr = json_array();
    char id[DIGEST_STR_LEN + 1];
    for (size_t i = n; i-- > 0;)
        json_array_append_new(arr,
                              json_pack("{s:s?, s:s?, s:s?, s:I, s:s?, s:b}", "id",
                                        i == n - 1 ? digest_str(&img->config.digest, id) : NULL,
                                        "created", rows[i].created, "createdBy", rows[i].created_by,
                                        "size", (json_int_t)rows[i].size, "comment",
                                        rows[i].comment, "emptyLayer", rows[i].empty_layer));
    cleanup_free char *out = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("%s\n", out);
}

static char *shorten(const char *s, int no_trunc)
{
    if (s == NULL)
        return xstrdup("");
    struct strbuf sb = STRBUF_INIT;
    for (const char *p = s; *p; p++) /* one line per row */
        strbuf_addc(&sb, *p == '\n' || *p == '\t' ? ' ' : *p);
    if (!no_trunc && sb.len > 45) {
        strbuf_setlen(&sb, 42);
        strbuf_adds(&sb, "...");
    }
    return strbuf_detach(&sb);
}

static void print_table(const struct image *img, const struct hrow *rows, size_t n, int no_trunc)
{
    char ***cells = xcalloc(n + 1, sizeof(*cells));
    static char *header[] = {"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"};
    cells[0] = header;
    for (size_t r = 0; r < n; r++) {
        const struct hrow *h = &rows[n - 1 - r];
        char **c = xcalloc(5, sizeof(*c));
        char buf[64];
        c[0] = r == 0 ? (no_trunc ? xasprintf("sha256:%s", img->config.digest.hex)
                                  : xstrdup(cli_short_id(&img->config.digest, buf)))
                      : xstrdup("<missing>");
        long long t = cli_parse_rfc3339(h->created);
        c[1] = xstrdup(t >= 0 ? cli_human_ago(t, buf, sizeof(buf)) : "N/A");
        c[2] = shorten(h->created_by, no_trunc);
        c[3] = xstrdup(cli_human_size(h->size, buf, sizeof(buf)));
        c[4] = shorten(h->comment, 1);
        cells[r + 1] = c;
    }
    cli_print_table(cells, n + 1, 5);
    for (size_t r = 1; r <= n; r++) {
        for (int k = 0; k < 5; k++)
            free(cells[r][k]);
        free(cells[r]);
    }
    free(cells);
}

static const char *format = "table", *platform;
static int no_trunc;

static const struct cli_opt history_opts[] = {
    {'f', "format", CLI_OPT_STRING, &format, "FORMAT", "table (default) or json", NULL},
    {0, "no-trunc", CLI_OPT_FLAG, &no_trunc, NULL, "do not shorten CREATED BY or the image id",
     NULL},
    {0, "platform", CLI_OPT_STRING, &platform, "P",
     "the image of an index (default: this machine's)", NULL},
    CLI_OPT_END,
};

static const struct cli_spec history_spec = {
    .name = "history",
    .args = "IMAGE",
    .summary = "show how an image was made, layer by layer",
    .text = "Lists the image's history entries newest first: IMAGE CREATED CREATED BY\n"
            "SIZE COMMENT, SIZE being the bytes of the layer the step made.\n",
    .opts = history_opts,
    .min_args = 1,
    .max_args = 1,
};

static int cmd_history(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&history_spec, argc, argv);
    if (first <= 0)
        return -first;
    if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
        return cli_usage_error("history", "--format must be table or json, not \"%s\"", format);
    cleanup_store struct store *s = NULL;
    int rc = cli_store_open(g, &s);
    if (rc != 0)
        return rc;
    struct kiln_error *err = NULL;
    cleanup_image struct image *img = NULL;
    struct platform want;
    if (platform != NULL && platform_parse(platform, &want, &err) < 0)
        return cli_fail(err);
    if (store_image_load_platform(s, argv[first], platform ? &want : NULL, &img, &err) < 0)
        return cli_fail(err);
    size_t n = 0;
    cleanup_free struct hrow *rows = collect(img, &n);
    if (strcmp(format, "json") == 0)
        print_json(img, rows, n);
    else
        print_table(img, rows, n, no_trunc);
    return EXIT_OK;
}

const struct cli_command cli_cmd_history = {
    .name = "history",
    .run = cmd_history,
    .spec = &history_spec,
};
