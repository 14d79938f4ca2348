/* kiln index NAME IMAGE...: tags an OCI image index listing the images
 * given, each under the platform its config names (an index given adds each
 * of its entries; a later image replaces an earlier one of the same
 * platform). How `make ml-base` puts its amd64 and arm64 bases under one tag. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/store_cmd.h"
#include "cli/opt.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/platform.h"
#include "util/strbuf.h"

struct entries {
    struct descriptor *m;
    struct platform *p;
    size_t n;
};

static void put(struct entries *e, const struct descriptor *d, const struct platform *p)
{
    for (size_t i = 0; i < e->n; i++) {
        if (platform_equal(&e->p[i], p)) {
            descriptor_release(&e->m[i]);
            descriptor_copy(&e->m[i], d);
            return;
        }
    }
    e->m = xrealloc(e->m, (e->n + 1) * sizeof(*e->m));
    e->p = xrealloc(e->p, (e->n + 1) * sizeof(*e->p));
    descriptor_copy(&e->m[e->n], d);
    e->p[e->n++] = *p;
}

/* The entries one IMAGE argument gives. */
static int add_image(struct store *s, const char *what, struct entries *e, struct kiln_error **err)
{
    struct descriptor td;
    if (store_resolve_tag(s, what, &td, NULL) == 0) {
        cleanup_json json_t *doc = store_blob_read_json(s, &td.digest, err);
        descriptor_release(&td);
        if (doc == NULL)
            return -1;
        json_t *entries = json_object_get(doc, "manifests");
        size_t i;
        json_t *m;
        json_array_foreach(entries, i, m)
        {
            struct descriptor d;
            struct platform p;
            uint64_t size;
            if (platform_from_json(json_object_get(m, "platform"), &p) < 0 ||
                descriptor_from_json(m, &d, what, NULL) < 0)
                continue;
            if (store_blob_size(s, &d.digest, &size, NULL) == 0) /* present ones only */
                put(e, &d, &p);
            descriptor_release(&d);
        }
        if (json_is_array(entries))
            return 0;
    }
    cleanup_image struct image *img = NULL;
    if (store_image_load(s, what, &img, err) < 0)
        return -1;
    struct platform p;
    if (platform_from_json(img->config_json, &p) < 0)
        return kiln_error_set(err, KILN_E_INVALID, "image %s: its config names no os/architecture",
                              what);
    put(e, &img->manifest, &p);
    return 0;
}

static const struct cli_spec index_spec = {
    .name = "index",
    .args = "NAME IMAGE...",
    .summary = "tag an image index (a multi-platform image) made of images",
    .text = "Tags NAME at a new OCI image index listing each IMAGE under the platform its\n"
            "config names. An IMAGE that is an index adds each of its images in the store;\n"
            "a later IMAGE replaces an earlier one of the same platform. Prints the index\n"
            "digest. Example:\n"
            "  kiln import --platform linux/arm64 rootfs-arm64.tar -t base:arm64\n"
            "  kiln import rootfs-amd64.tar -t base:amd64\n"
            "  kiln index base:latest base:amd64 base:arm64\n",
    .min_args = 2,
    .max_args = -1,
};

static int cmd_index(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&index_spec, argc, argv);
    if (first <= 0)
        return -first;
    cleanup_store struct store *s = NULL;
    int rc = cli_store_open(g, &s);
    if (rc != 0)
        return rc;
    struct kiln_error *err = NULL;
    struct entries e = {0};
    for (int i = first + 1; i < argc && rc == 0; i++)
        if (add_image(s, argv[i], &e, &err) < 0)
            rc = -1;
    struct descriptor idx = {0};
    if (rc == 0)
        rc = store_image_index_write(s, e.m, e.p, e.n, &idx, &err);
    if (rc == 0)
        rc = store_tag(s, argv[first], &idx, &err);
    if (rc == 0) {
        char dg[DIGEST_STR_LEN + 1];
        printf("%s\n", digest_str(&idx.digest, dg));
    }
    descriptor_release(&idx);
    for (size_t i = 0; i < e.n; i++)
        descriptor_release(&e.m[i]);
    free(e.m);
    free(e.p);
    return rc < 0 ? cli_fail(err) : EXIT_OK;
}

const struct cli_command cli_cmd_index = {
    .name = "index",
    .run = cmd_index,
    .spec = &index_spec,
};
