/* kiln inspect IMAGE...: what the store knows about images, as JSON: id,
 * digest, tags, size, the manifest and the config. --format prints a Go
 * template (util/gotmpl.h) per object, or one value by a bare path
 * (".config.config.Env"); keys match without regard to case. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/format.h"
#include "cli/store_cmd.h"
#include "cli/opt.h"
#include "runtime/container.h"
#include "store/store.h"
#include "store/reference.h"
#include "util/cleanup.h"
#include "store/referrers.h"
#include "util/json.h"
#include "util/platform.h"
#include "util/strbuf.h"

static json_t *repo_tags(struct store *s, const struct image *img)
{
    json_t *tags = json_array();
    struct store_tag_entry *e = NULL;
    size_t n = 0;
    if (store_list_tags(s, &e, &n, NULL) < 0)
        return tags;
    for (size_t i = 0; i < n; i++) {
        if (e[i].name == NULL)
            continue;
        struct image *other = NULL;
        int same = digest_equal(&e[i].manifest.digest, &img->manifest.digest);
        if (!same && store_image_load_manifest(s, &e[i].manifest.digest, &other, NULL) == 0)
            same = digest_equal(&other->manifest.digest, &img->manifest.digest);
        image_free(other);
        if (same)
            json_array_append_new(tags, json_string(e[i].name));
    }
    store_tag_entries_free(e, n);
    return tags;
}

static json_t *describe(struct store *s, const struct image *img)
{
    char id[DIGEST_STR_LEN + 1], dg[DIGEST_STR_LEN + 1];
    json_t *layers = json_array();
    for (size_t i = 0; i < img->n_layers; i++) {
        char d[DIGEST_STR_LEN + 1];
        json_array_append_new(layers, json_string(digest_str(&img->layers[i].diffid, d)));
    }
    return json_pack(
        "{s:s, s:s, s:s, s:o, s:s?, s:s?, s:s*, s:s?, s:I, s:o, s:O, s:O}", "id",
        digest_str(&img->config.digest, id), "digest", digest_str(&img->manifest.digest, dg),
        "mediaType", img->manifest.media_type, "repoTags", repo_tags(s, img), "created",
        json_string_value(json_object_get(img->config_json, "created")), "architecture",
        json_string_value(json_object_get(img->config_json, "architecture")), "variant",
        json_string_value(json_object_get(img->config_json, "variant")), "os",
        json_string_value(json_object_get(img->config_json, "os")), "size",
        (json_int_t)cli_image_size(img), "diffIds", layers, "manifest", img->manifest_json,
        "config", img->config_json);
}

/* The template --format PATH stands for: a bare path (".config.config.Env",
 * kiln's own spelling) is {{json PATH}}, printed raw when a string; anything
 * else is a template (Go's printing: [a b] for an array). NULL after the
 * usage error. */
static struct gotmpl *parse_format(const char *f, int *bare)
{
    struct kiln_error *err = NULL;
    *bare = strstr(f, "{{") == NULL;
    cleanup_free char *src = *bare ? xasprintf("{{json %s}}", f) : xstrdup(f);
    if (*bare && f[0] != '.') {
        cli_usage_error("inspect",
                        "--format \"%s\": give a path like .config.config.Env or a "
                        "template like '{{.Config.Env}}'",
                        f);
        return NULL;
    }
    struct gotmpl *t = gotmpl_parse(src, GOTMPL_FOLD_CASE, &err);
    if (t == NULL) {
        if (*bare)
            cli_usage_error("inspect", "--format \"%s\": give a path like .config.config.Env", f);
        else
            cli_usage_error("inspect", "%s", err->msg);
        kiln_error_free(err);
    }
    return t;
}

/* Prints d through t: one line; a bare path's string raw, null as
 * <no value>. */
static int print_format(const struct gotmpl *t, int bare, json_t *d)
{
    struct kiln_error *err = NULL;
    struct strbuf sb = STRBUF_INIT;
    strbuf_init(&sb);
    if (gotmpl_exec(t, d, &sb, &err) < 0) {
        strbuf_release(&sb);
        int rc = cli_usage_error("inspect", "%s", err->msg);
        kiln_error_free(err);
        return rc;
    }
    cleanup_json json_t *v = bare ? json_loads(sb.buf, JSON_DECODE_ANY, NULL) : NULL;
    if (bare && json_is_string(v))
        printf("%s\n", json_string_value(v));
    else if (bare && (v == NULL || json_is_null(v)))
        printf("<no value>\n");
    else
        printf("%s\n", sb.buf);
    strbuf_release(&sb);
    return EXIT_OK;
}

/* An image as a template reads it: the JSON plus Docker's Config (the
 * config's config: {{.Config.Env}}); keys match regardless of case. */
static void add_docker_fields(json_t *d)
{
    json_t *cfg = json_object_get(json_object_get(d, "config"), "config");
    if (json_is_object(cfg) && json_object_get(d, "Config") == NULL)
        json_object_set(d, "Config", cfg);
}

/* The artifacts attached to img: [{digest, artifactType, size, created}]. */
static json_t *referrers_of(struct store *s, const struct image *img, struct kiln_error **err)
{
    struct referrer *r = NULL;
    size_t n = 0;
    if (referrers_list(s, &img->manifest.digest, &r, &n, err) < 0)
        return NULL;
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        char d[DIGEST_STR_LEN + 1];
        json_t *o = json_object();
        json_object_set_new(o, "digest", json_string(digest_str(&r[i].manifest.digest, d)));
        json_object_set_new(o, "artifactType", json_string(r[i].artifact_type));
        json_object_set_new(o, "size", json_integer((json_int_t)r[i].manifest.size));
        json_object_set_new(o, "subject", json_string(digest_str(&r[i].subject, d)));
        if (r[i].created)
            json_object_set_new(o, "created", json_string(r[i].created));
        json_array_append_new(out, o);
    }
    referrers_free(r, n);
    return out;
}

/* A container (by name, id or prefix) as Docker shows one, with its network
 * (mode, published ports, pod); NULL when argv names no container. */
static json_t *describe_container(const char *root, const char *what)
{
    cleanup_free char *id = NULL;
    if (root == NULL || ctr_find(root, what, &id, NULL) < 0)
        return NULL;
    json_t *cfg = ctr_load_config(root, id, NULL);
    json_t *st = ctr_load_state(root, id, NULL);
    if (cfg == NULL || st == NULL) {
        json_decref(cfg);
        json_decref(st);
        return NULL;
    }
    json_t *net = json_object();
    json_t *mode = json_object_get(cfg, "NetworkMode");
    json_object_set_new(net, "NetworkMode", mode ? json_incref(mode) : json_string("host"));
    json_t *ports = json_object_get(cfg, "Ports");
    json_object_set_new(net, "Ports", ports ? json_incref(ports) : json_array());
    json_t *pod = json_object_get(cfg, "Pod");
    if (pod)
        json_object_set(net, "Pod", pod);
    json_t *d = json_object();
    json_object_set_new(d, "Id", json_string(id));
    json_object_set(d, "Name", json_object_get(cfg, "Name"));
    json_object_set(d, "Image", json_object_get(cfg, "Image"));
    json_t *rc = json_object_get(st, "RestartCount");
    json_object_set_new(d, "RestartCount", json_integer(rc ? json_integer_value(rc) : 0));
    /* Docker's State.Health: Status, FailingStreak, the last probes' Log */
    json_t *health = ctr_load_health(root, id);
    if (health)
        json_object_set_new(st, "Health", health);
    json_object_set_new(d, "State", st);
    json_object_set_new(d, "NetworkSettings", net);
    json_object_set_new(d, "Config", cfg);
    return d;
}

/* A tag on an index: the index too, and the platforms it lists. */
static void add_index(struct store *s, const char *name, json_t *d)
{
    struct descriptor td;
    if (store_resolve_tag(s, name, &td, NULL) != 0)
        return;
    json_t *doc = store_blob_read_json(s, &td.digest, NULL);
    json_t *entries = json_object_get(doc, "manifests");
    if (json_is_array(entries)) {
        char dg[DIGEST_STR_LEN + 1];
        json_t *pl = json_array();
        size_t k;
        json_t *m;
        json_array_foreach(entries, k, m)
        {
            struct platform p;
            char ps[PLATFORM_STR_MAX];
            if (platform_from_json(json_object_get(m, "platform"), &p) == 0)
                json_array_append_new(pl, json_string(platform_format(&p, ps)));
        }
        json_object_set_new(d, "platforms", pl);
        json_object_set_new(d, "indexDigest", json_string(digest_str(&td.digest, dg)));
        json_object_set(d, "index", doc);
    }
    json_decref(doc);
    descriptor_release(&td);
}

static const char *format, *platform;
static int want_referrers;

static const struct cli_opt inspect_opts[] = {
    {'f', "format", CLI_OPT_STRING, &format, "FORMAT",
     "one line per image or container instead: a Go template\n"
     "('{{.Config.Env}}', '{{json .Config}}', '{{index\n"
     ".Config.Labels \"k\"}}'; keys ignore case) or a bare path\n"
     "(.digest: strings raw, anything else as JSON)",
     NULL},
    {0, "referrers", CLI_OPT_FLAG, &want_referrers, NULL,
     "list the artifacts attached to the image instead (kiln\n"
     "build --sbom, kiln pull): digest, artifactType, size,\n"
     "subject, created",
     NULL},
    {0, "platform", CLI_OPT_STRING, &platform, "P",
     "the image of an index to describe (e.g. linux/arm64)", NULL},
    CLI_OPT_END,
};

static const struct cli_spec inspect_spec = {
    .name = "inspect",
    .args = "IMAGE|CONTAINER...",
    .summary = "show an image's id, digest, tags, manifest and config as JSON",
    .text = "A container (name or id) is shown with Id, Name, Image, State (with Health:\n"
            "Status, FailingStreak, Log, for one with a health check), Config and\n"
            "NetworkSettings (NetworkMode, Ports, Pod); anything else is taken as an image.\n"
            "Prints a JSON array with one object per IMAGE (a name, an image id or prefix,\n"
            "or a manifest digest): id (config digest), digest (manifest digest),\n"
            "mediaType, repoTags, created, architecture, variant (where the config has\n"
            "one: v7 of linux/arm/v7), os, size (bytes of its blobs),\n"
            "diffIds, manifest and config (the documents as stored). For a name tagged\n"
            "on an index (a multi-platform image): also index, indexDigest and platforms;\n"
            "the image described is this machine's, or --platform's.\n"
            "A --format template (Go's text/template: fields, json, join, upper, lower,\n"
            "index, if, range, with) also reads an image's Config as Docker's (the\n"
            "config's config: '{{.Config.Env}}'); see docs/run.md.\n",
    .opts = inspect_opts,
    .min_args = 1,
    .max_args = -1,
};

static int cmd_inspect(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&inspect_spec, argc, argv);
    if (first <= 0)
        return -first;
    struct platform want;
    struct kiln_error *perr = NULL;
    if (platform != NULL && platform_parse(platform, &want, &perr) < 0)
        return cli_fail(perr);
    cleanup_store struct store *s = NULL;
    int rc = cli_store_open(g, &s);
    if (rc != 0)
        return rc;
    cleanup_gotmpl struct gotmpl *tmpl = NULL;
    int bare = 0;
    if (format != NULL && (tmpl = parse_format(format, &bare)) == NULL)
        return EXIT_USAGE;
    cleanup_json json_t *all = json_array();
    int failed = 0;
    for (int i = first; i < argc; i++) {
        struct kiln_error *err = NULL;
        cleanup_image struct image *img = NULL;
        json_t *d = want_referrers || platform ? NULL : describe_container(store_root(s), argv[i]);
        if (d == NULL) {
            if (store_image_load_platform(s, argv[i], platform ? &want : NULL, &img, &err) < 0) {
                cli_fail(err);
                failed = 1;
                continue;
            }
            d = want_referrers ? referrers_of(s, img, &err) : describe(s, img);
            if (d == NULL)
                return cli_fail(err);
            if (!want_referrers)
                add_index(s, argv[i], d);
        }
        if (format == NULL) {
            json_array_append_new(all, d);
            continue;
        }
        if (img != NULL && !want_referrers)
            add_docker_fields(d);
        rc = print_format(tmpl, bare, d);
        json_decref(d);
        if (rc != EXIT_OK)
            return rc;
    }
    if (format == NULL) {
        cleanup_free char *out = json_dumps(all, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", out);
    }
    return failed ? EXIT_FAIL : EXIT_OK;
}

const struct cli_command cli_cmd_inspect = {
    .name = "inspect",
    .run = cmd_inspect,
    .spec = &inspect_spec,
};
