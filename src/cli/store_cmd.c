/* Shared code of the store commands. */
#include "cli/store_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build/build.h"
#include "registry/records.h"
#include "runtime/runtime.h"
#include "util/cleanup.h"

int cli_store_open(const struct cli_global *g, struct store **out)
{
    cleanup_free char *root = cli_store_root(g);
    struct kiln_error *err = NULL;
    if (store_open(root, out, &err) < 0)
        return cli_fail(err);
    return 0;
}

int cli_rootless_enter(struct cli_global *g, char **root_keep)
{
    *root_keep = NULL;
    if (geteuid() == 0)
        return 0;
    *root_keep = cli_store_root(g);
    g->root = *root_keep;
    struct kiln_error *err = NULL;
    if (rt_userns_enter_rootless(&err) < 0)
        return cli_fail(err);
    return 0;
}

long long cli_parse_rfc3339(const char *s)
{
    if (s == NULL)
        return -1;
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return -1;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    long long t = (long long)timegm(&tm);
    if (*p == 'Z' || *p == 'z')
        return p[1] == '\0' ? t : -1;
    int hh = 0, mm = 0;
    if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &hh, &mm) == 2 && strlen(p) == 6)
        return *p == '+' ? t - (hh * 3600 + mm * 60) : t + (hh * 3600 + mm * 60);
    return -1;
}

uint64_t cli_image_size(const struct image *img)
{
    uint64_t total = img->manifest.size + img->config.size;
    for (size_t i = 0; i < img->n_layers; i++)
        total += img->layers[i].blob.size;
    return total;
}

const char *cli_short_id(const struct digest *d, char *buf)
{
    memcpy(buf, d->hex, 12);
    buf[12] = '\0';
    return buf;
}

void cli_print_table(char ***rows, size_t n_rows, size_t n_cols)
{
    size_t *width = calloc(n_cols, sizeof(*width));
    if (width == NULL)
        abort();
    for (size_t r = 0; r < n_rows; r++)
        for (size_t c = 0; c < n_cols; c++) {
            size_t w = strlen(rows[r][c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < n_rows; r++) {
        size_t last = n_cols; /* no padding after the last non-empty cell */
        while (last > 1 && rows[r][last - 1][0] == '\0')
            last--;
        for (size_t c = 0; c < last; c++) {
            if (c + 1 == last)
                printf("%s\n", rows[r][c]);
            else
                printf("%-*s   ", (int)width[c], rows[r][c]);
        }
    }
    free(width);
}

int cli_gc_roots(void *ctx, struct store *s, struct digest_set *roots, struct kiln_error **err)
{
    if (build_cache_add_roots(ctx, s, roots, err) < 0)
        return -1;
    return records_add_roots(ctx, s, roots, err);
}
