/* kiln import: a directory, a tar (plain, gzip, zstd) or stdin becomes a
 * one-layer image. A directory is written straight into a blob in one pass
 * (walk, tar, sha256); an archive is first extracted under the hostile-
 * archive rules into scratch space, then written the same way, so both give
 * the same deterministic layer. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opt.h"
#include "cli/config_change.h"
#include "cli/store_cmd.h"
#include "runtime/runtime.h"
#include "store/layer.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/platform.h"
#include "util/json.h"
#include "util/strbuf.h"

static int blob_sink_write(void *ctx, const void *buf, size_t len, struct kiln_error **err)
{
    return blob_writer_write(ctx, buf, len, err);
}

/* SOURCE_DATE_EPOCH, else 0. */
static int epoch_from_env(int64_t *out, struct kiln_error **err)
{
    const char *s = getenv("SOURCE_DATE_EPOCH");
    *out = 0;
    if (s == NULL || s[0] == '\0')
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0)
        return kiln_error_set(err, KILN_E_USAGE,
                              "SOURCE_DATE_EPOCH=\"%s\" is not a number of seconds", s);
    *out = v;
    return 0;
}

static void rfc3339(int64_t t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void warn_cb(void *ctx, const char *msg)
{
    (void)ctx;
    cli_warn("%s", msg);
}

/* Writes the layer of dirfd into a new blob. */
static int layer_from_dir(struct store *s, int dirfd, int64_t epoch, struct image_layer *out,
                          struct kiln_error **err)
{
    cleanup_blob_writer struct blob_writer *bw = NULL;
    if (blob_writer_new(s, &bw, err) < 0)
        return -1;
    struct layer_write_opts o = {.epoch = epoch};
    uint64_t size;
    if (layer_write_from_dir(dirfd, &o, (struct byte_sink){blob_sink_write, bw}, &out->diffid,
                             &size, err) < 0)
        return -1;
    if (blob_writer_commit(bw, &out->diffid, (int64_t)size, &out->blob.digest, err) < 0)
        return -1;
    out->blob.media_type = xstrdup(MT_OCI_LAYER);
    out->blob.size = size;
    return 0;
}

/* Extracts the archive on fd into scratch space, then writes it as a layer. */
static int layer_from_archive(struct store *s, int fd, const char *source, int64_t epoch,
                              bool allow_devices, struct image_layer *out, struct kiln_error **err)
{
    cleanup_free char *tmpl = xasprintf("%s/import.XXXXXX", store_scratch_dir(s));
    if (mkdtemp(tmpl) == NULL)
        return kiln_error_errno(err, errno, "create scratch directory in %s", store_scratch_dir(s));
    int rc = -1;
    cleanup_close int dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct layer_extract_opts xo = {
        .whiteouts = LAYER_WHITEOUT_FLATTEN, .allow_devices = allow_devices, .warn = warn_cb};
    if (dfd < 0) {
        kiln_error_errno(err, errno, "open %s", tmpl);
    } else if (layer_extract(fd, dfd, &xo, NULL, err) < 0) {
        int devices = !allow_devices && *err && strstr((*err)->msg, "device node refused");
        kiln_error_prefix(err, "import %s%s", source,
                          devices ? " (pass --allow-devices to keep device nodes)" : "");
    } else {
        rc = layer_from_dir(s, dfd, epoch, out, err);
    }
    rm_rf(tmpl, NULL);
    return rc;
}

static int make_config(const char *const *changes, size_t n_changes, const char *message,
                       int64_t epoch, json_t **out, struct kiln_error **err)
{
    char created[32];
    rfc3339(epoch, created, sizeof(created));
    cleanup_json json_t *inner = json_object();
    for (size_t i = 0; i < n_changes; i++)
        if (config_apply_change(inner, changes[i], err) < 0)
            return -1;
    json_t *hist = json_pack("{s:s, s:s}", "created", created, "created_by", "kiln import");
    if (message != NULL)
        json_object_set_new(hist, "comment", json_string(message));
    *out = json_pack("{s:s, s:O, s:[o]}", "created", created, "config", inner, "history", hist);
    return 0;
}

static const char *platform, *tag, *message;
static int allow_devices;
static struct cli_strv changes;

static const struct cli_opt import_opts[] = {
    {'t', "tag", CLI_OPT_STRING, &tag, "NAME", "tag the image (NAME may also follow SOURCE)", NULL},
    {'c', "change", CLI_OPT_LIST, &changes, "INSTR",
     "apply a Dockerfile config instruction: CMD, ENTRYPOINT,\n"
     "ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL",
     NULL},
    {'m', "message", CLI_OPT_STRING, &message, "M", "history comment", NULL},
    {0, "platform", CLI_OPT_STRING, &platform, "P",
     "the image's platform (default: this machine's), e.g.\n"
     "linux/arm64 for a foreign root file system",
     NULL},
    {0, "allow-devices", CLI_OPT_FLAG, &allow_devices, NULL,
     "keep device nodes found in an archive (refused by\n"
     "default, as the archive is untrusted input)",
     NULL},
    CLI_OPT_END,
};

static const struct cli_spec import_spec = {
    .name = "import",
    .args = "SOURCE [NAME]",
    .summary = "make a one-layer image from a directory or tar archive",
    .text = "Makes a one-layer image from SOURCE: a directory, a tar archive (plain, gzip\n"
            "or zstd), or - for a tar on stdin. Archives are checked as hostile input.\n"
            "The layer is deterministic: mtimes are clamped to SOURCE_DATE_EPOCH (else 0),\n"
            "which is also the image's creation time. Prints the image id.\n",
    .opts = import_opts,
    .min_args = 1,
    .max_args = 2,
};

static int cmd_import(struct cli_global *g, int argc, char **argv)
{
    int first = cli_parse(&import_spec, argc, argv);
    if (first <= 0)
        return -first;
    const char *source = argv[first];
    if (first + 1 < argc && tag != NULL)
        return cli_usage_error("import", "unexpected argument \"%s\"", argv[first + 1]);
    if (first + 1 < argc)
        tag = argv[first + 1];

    struct kiln_error *err = NULL;
    int64_t epoch;
    cleanup_json json_t *config = NULL;
    struct platform plat;
    if (platform == NULL)
        platform_host(&plat);
    else if (platform_parse(platform, &plat, &err) < 0 || platform_check_buildable(&plat, &err) < 0)
        return cli_fail(err);
    if (epoch_from_env(&epoch, &err) < 0 ||
        make_config(changes.v, changes.n, message, epoch, &config, &err) < 0)
        return cli_fail(err);
    json_object_set_new(config, "architecture", json_string(plat.arch));
    json_object_set_new(config, "os", json_string(plat.os));
    if (plat.variant[0] != '\0')
        json_object_set_new(config, "variant", json_string(plat.variant));

    cleanup_close int fd = -1;
    int is_dir = 0;
    if (strcmp(source, "-") == 0) {
        fd = fcntl(0, F_DUPFD_CLOEXEC, 0);
    } else {
        fd = open(source, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            kiln_error_errno(&err, errno, "import: cannot open %s", source);
            return cli_fail(err);
        }
        struct stat st;
        is_dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    }
    /* Rootless, an archive is extracted in the user namespace, where its
     * owners can be given (and read back). A directory is read as it is. */
    cleanup_free char *root = NULL;
    if (!is_dir) {
        int rc = cli_rootless_enter(g, &root);
        if (rc != 0)
            return rc;
        rt_rootless_owners_note();
    }
    if (root == NULL)
        root = cli_store_root(g);
    cleanup_store struct store *s = NULL;
    if (store_open(root, &s, &err) < 0)
        return cli_fail(err);
    struct image_layer layer = {0};
    int rc = is_dir ? layer_from_dir(s, fd, epoch, &layer, &err)
                    : layer_from_archive(s, fd, source, epoch, allow_devices, &layer, &err);
    if (rc < 0) {
        descriptor_release(&layer.blob);
        return cli_fail(err);
    }
    struct descriptor manifest = {0};
    rc = store_image_write(s, config, &layer, 1, NULL, &manifest, &err);
    descriptor_release(&layer.blob);
    if (rc == 0 && tag != NULL)
        rc = store_tag(s, tag, &manifest, &err);
    cleanup_image struct image *img = NULL;
    if (rc == 0)
        rc = store_image_load_manifest(s, &manifest.digest, &img, &err);
    descriptor_release(&manifest);
    if (rc < 0)
        return cli_fail(err);
    printf("sha256:%s\n", img->config.digest.hex);
    return EXIT_OK;
}

const struct cli_command cli_cmd_import = {
    .name = "import",
    .run = cmd_import,
    .spec = &import_spec,
};
