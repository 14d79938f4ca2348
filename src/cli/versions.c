/* kiln versions IMAGE: what is installed in an image, read from its layers
 * without starting it: the baked /etc/dataenv/versions.conf, the labels, Python
 * distributions and Debian packages (report/versions.h). Text or JSON. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/store_cmd.h"
#include "cli/opt.h"
#include "report/versions.h"
#include "util/platform.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "== title (n)" then "  name  version" lines, names sorted. */
static void print_section(const char *title, json_t *map, int width)
{
    size_t n = json_object_size(map), i = 0;
    const char **keys = xcalloc(n + 1, sizeof(*keys));
    const char *k;
    json_t *v;
    json_object_foreach(map, k, v) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), cmp_str);
    printf("== %s (%zu)\n", title, n);
    for (i = 0; i < n; i++)
        printf("  %-*s %s\n", width, keys[i], json_string_value(json_object_get(map, keys[i])));
    free(keys);
}

static const char *format = "text", *platform;

static const struct cli_opt versions_opts[] = {
    {'f', "format", CLI_OPT_STRING, &format, "FORMAT", "text (default) or json", NULL},
    {0, "platform", CLI_OPT_STRING, &platform, "P",
     "the image of an index (default: this machine's)", NULL},
    CLI_OPT_END,
};

static const struct cli_spec versions_spec = {
    .name = "versions",
    .args = "IMAGE",
    .summary = "list the versions installed in an image, without running it",
    .text = "Reads the image's layers (no container is started) and lists: the baked\n"
            "/etc/dataenv/versions.conf, the toolchains (the Debian versions of python3,\n"
            "rustc, cargo, rustfmt, rust-clippy, when installed), the image's labels, the\n"
            "Python distributions (dist-info METADATA / egg-info PKG-INFO in\n"
            "/opt/*/lib/python3.*/site-packages, /usr/local/lib/python3.*,\n"
            "/usr/lib/python3/dist-packages; the first of a name wins, as for pip list in\n"
            "the image's venv) and the Debian packages installed according to\n"
            "/var/lib/dpkg/status.\n",
    .opts = versions_opts,
    .min_args = 1,
    .max_args = 1,
};

static int cmd_versions(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&versions_spec, argc, argv);
    if (first <= 0)
        return -first;
    if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0)
        return cli_usage_error("versions", "--format must be text or json, not \"%s\"", format);

    /* rootless, the image's snapshots unpack in the user namespace */
    cleanup_free char *root = NULL;
    int rc = cli_rootless_enter(g, &root);
    if (rc != 0)
        return rc;
    cleanup_store struct store *s = NULL;
    rc = cli_store_open(g, &s);
    if (rc != 0)
        return rc;
    struct kiln_error *err = NULL;
    cleanup_json json_t *r = NULL;
    struct platform want;
    if (platform != NULL && platform_parse(platform, &want, &err) < 0)
        return cli_fail(err);
    if (versions_of_image(s, argv[first], platform ? &want : NULL, &r, &err) < 0)
        return cli_fail(err);

    if (strcmp(format, "json") == 0) {
        cleanup_free char *out = json_dumps(r, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", out);
        return EXIT_OK;
    }
    printf("image %s (%s)\n", json_string_value(json_object_get(r, "image")),
           json_string_value(json_object_get(r, "id")));
    print_section("config (/etc/dataenv/versions.conf)", json_object_get(r, "config"), 24);
    print_section("toolchains (Debian packages)", json_object_get(r, "toolchains"), 24);
    print_section("labels", json_object_get(r, "labels"), 36);
    print_section("python packages", json_object_get(r, "python"), 32);
    print_section("debian packages", json_object_get(r, "debian"), 32);
    return EXIT_OK;
}

const struct cli_command cli_cmd_versions = {
    .name = "versions",
    .run = cmd_versions,
    .spec = &versions_spec,
};
