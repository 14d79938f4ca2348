/* The version report read from an image's layer snapshots: a small read-only
 * union of the layer directories (overlay whiteout form) that finds a file or
 * lists a directory as the merged root file system would show it. Symbolic
 * links are never followed (the layers are hostile input): a path through one
 * counts as absent. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "report/versions.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

#define STATUS_MAX (64u << 20) /* dpkg status of a big image is a few MB */
#define META_MAX   (4u << 20)

enum look { L_ABSENT, L_FOUND, L_GONE };

struct view {
    const char *const *dirs; /* bottom first */
    size_t n;
};

static int is_whiteout(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static int is_opaque(int dfd)
{
    char v[2] = {0};
    /* user.* in a rootless store (snapshots for an overlay mounted userxattr) */
    return (fgetxattr(dfd, "trusted.overlay.opaque", v, sizeof(v)) == 1 ||
            fgetxattr(dfd, "user.overlay.opaque", v, sizeof(v)) == 1) &&
           v[0] == 'y';
}

/* Looks path (relative, '/'-separated) up in one layer. L_FOUND gives an fd
 * opened with `flags` (O_RDONLY for a file, O_DIRECTORY for a directory);
 * *opaque tells that a directory on the way (or the directory found) hides the
 * layers below. L_GONE: a whiteout or a non-directory on the way hides it. */
static enum look look_up(const char *root, const char *path, int flags, int *fd_out, int *opaque)
{
    *opaque = 0;
    int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return L_ABSENT;
    cleanup_free char *copy = xstrdup(path);
    char *save = NULL;
    for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
        int last = save == NULL || *save == '\0';
        struct stat st;
        if (fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            close(dfd);
            return L_ABSENT;
        }
        if (is_whiteout(&st) || S_ISLNK(st.st_mode) || (!last && !S_ISDIR(st.st_mode))) {
            close(dfd);
            return L_GONE;
        }
        int nfd =
            openat(dfd, comp, (last ? flags : O_RDONLY | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);
        close(dfd);
        if (nfd < 0)
            return L_GONE;
        if (S_ISDIR(st.st_mode) && is_opaque(nfd))
            *opaque = 1;
        if (last) {
            *fd_out = nfd;
            return L_FOUND;
        }
        dfd = nfd;
    }
    close(dfd);
    return L_ABSENT;
}

/* Reads a regular file of at most max bytes from fd; 0 on success. */
static int read_fd(int fd, size_t max, char **buf, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return -1;
    struct strbuf sb = STRBUF_INIT;
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || sb.len + (size_t)r > max) {
            strbuf_release(&sb);
            return -1;
        }
        if (r == 0)
            break;
        strbuf_add(&sb, chunk, (size_t)r);
    }
    *len = sb.len;
    strbuf_addc(&sb, '\0');
    *buf = strbuf_detach(&sb);
    return 0;
}

/* Reads the file at path as the merged view shows it; 1 found, 0 not. */
static int view_read(const struct view *v, const char *path, size_t max, char **buf, size_t *len)
{
    for (size_t i = v->n; i-- > 0;) {
        int fd = -1, opaque = 0;
        enum look l = look_up(v->dirs[i], path, O_RDONLY, &fd, &opaque);
        if (l == L_GONE)
            return 0;
        if (l == L_FOUND) {
            int r = read_fd(fd, max, buf, len) == 0;
            close(fd);
            return r;
        }
        if (opaque)
            return 0;
    }
    return 0;
}

/* Names in the merged directory at path, as a JSON array of strings. */
static json_t *view_list(const struct view *v, const char *path)
{
    json_t *seen = json_object(), *names = json_array();
    for (size_t i = v->n; i-- > 0;) {
        int fd = -1, opaque = 0;
        enum look l = look_up(v->dirs[i], path, O_RDONLY | O_DIRECTORY, &fd, &opaque);
        if (l == L_GONE)
            break;
        if (l == L_FOUND) {
            DIR *d = fdopendir(fd);
            if (d == NULL) {
                close(fd);
                break;
            }
            for (struct dirent *e; (e = readdir(d)) != NULL;) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
                    json_object_get(seen, e->d_name))
                    continue;
                json_object_set_new(seen, e->d_name, json_true());
                struct stat st;
                if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    !is_whiteout(&st))
                    json_array_append_new(names, json_string(e->d_name));
            }
            closedir(d);
        }
        if (opaque)
            break;
    }
    json_decref(seen);
    return names;
}

/* pip's name normalisation (PEP 503): lower case, runs of -_. become one -. */
static char *normalize(const char *name)
{
    struct strbuf sb = STRBUF_INIT;
    for (const char *p = name; *p; p++) {
        if (*p == '-' || *p == '_' || *p == '.') {
            if (sb.len == 0 || sb.buf[sb.len - 1] != '-')
                strbuf_addc(&sb, '-');
        } else {
            strbuf_addc(&sb, (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p));
        }
    }
    return strbuf_detach(&sb);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Adds the distributions of one site directory; names met before win. */
static void scan_site(const struct view *v, const char *site, json_t *python, json_t *norm)
{
    json_t *names = view_list(v, site);
    size_t i;
    json_t *jn;
    json_array_foreach(names, i, jn)
    {
        const char *e = json_string_value(jn);
        char *paths[2] = {NULL, NULL};
        if (ends_with(e, ".dist-info")) {
            paths[0] = xasprintf("%s/%s/METADATA", site, e);
        } else if (ends_with(e, ".egg-info")) {
            paths[0] = xasprintf("%s/%s/PKG-INFO", site, e);
            paths[1] = xasprintf("%s/%s", site, e); /* a single-file egg-info */
        }
        for (int k = 0; k < 2 && paths[k]; k++) {
            char *buf = NULL, *name = NULL, *ver = NULL;
            size_t len = 0;
            if (view_read(v, paths[k], META_MAX, &buf, &len) &&
                versions_parse_metadata(buf, len, &name, &ver) == 0) {
                char *key = normalize(name);
                if (!json_object_get(norm, key)) {
                    json_object_set_new(norm, key, json_true());
                    json_object_set_new(python, name, json_string(ver));
                }
                free(key);
                k = 2;
            }
            free(buf);
            free(name);
            free(ver);
        }
        free(paths[0]);
        free(paths[1]);
    }
    json_decref(names);
}

/* Each "<parent>/python3.*<rest>" directory, in name order. */
static void scan_versions_dirs(const struct view *v, const char *parent, const char *rest,
                               json_t *python, json_t *norm)
{
    json_t *names = view_list(v, parent);
    size_t n = json_array_size(names);
    const char **sorted = xcalloc(n + 1, sizeof(*sorted));
    for (size_t i = 0; i < n; i++)
        sorted[i] = json_string_value(json_array_get(names, i));
    qsort(sorted, n, sizeof(*sorted), (int (*)(const void *, const void *))strcmp);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(sorted[i], "python3.", 8) != 0)
            continue;
        char *site = xasprintf("%s/%s%s", parent, sorted[i], rest);
        scan_site(v, site, python, norm);
        free(site);
    }
    free(sorted);
    json_decref(names);
}

static int cmp_ptr_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Python distributions in sys.path order: venvs under /opt first (as when the
 * venv is active), then /usr/local, then Debian's dist-packages. */
static void scan_python(const struct view *v, json_t *python)
{
    json_t *norm = json_object();
    json_t *opt = view_list(v, "opt");
    size_t n = json_array_size(opt);
    const char **sorted = xcalloc(n + 1, sizeof(*sorted));
    for (size_t i = 0; i < n; i++)
        sorted[i] = json_string_value(json_array_get(opt, i));
    qsort(sorted, n, sizeof(*sorted), cmp_ptr_str);
    for (size_t i = 0; i < n; i++) {
        char *lib = xasprintf("opt/%s/lib", sorted[i]);
        scan_versions_dirs(v, lib, "/site-packages", python, norm);
        free(lib);
    }
    free(sorted);
    json_decref(opt);
    scan_versions_dirs(v, "usr/local/lib", "/dist-packages", python, norm);
    scan_versions_dirs(v, "usr/local/lib", "/site-packages", python, norm);
    scan_site(v, "usr/lib/python3/dist-packages", python, norm);
    scan_versions_dirs(v, "usr/lib", "/dist-packages", python, norm);
    json_decref(norm);
}

/* The Debian packages of the language toolchains, listed again on their own. */
static const char *const toolchain_packages[] = {"python3", "rustc", "cargo", "rustfmt",
                                                 "rust-clippy"};

static json_t *toolchains_of(json_t *debian)
{
    json_t *tools = json_object();
    for (size_t i = 0; i < sizeof(toolchain_packages) / sizeof(toolchain_packages[0]); i++) {
        json_t *v = json_object_get(debian, toolchain_packages[i]);
        if (v)
            json_object_set(tools, toolchain_packages[i], v);
    }
    return tools;
}

int versions_from_layers(const char *const *dirs, size_t n, json_t *report, struct kiln_error **err)
{
    (void)err;
    struct view v = {dirs, n};
    json_t *debian = json_object(), *python = json_object(), *config = json_object();
    char *buf = NULL;
    size_t len = 0;
    if (view_read(&v, "var/lib/dpkg/status", STATUS_MAX, &buf, &len))
        versions_parse_dpkg_status(buf, len, debian);
    free(buf);
    buf = NULL;
    if (view_read(&v, "etc/dataenv/versions.conf", META_MAX, &buf, &len))
        versions_parse_conf(buf, len, config);
    free(buf);
    scan_python(&v, python);
    json_object_set_new(report, "config", config);
    json_object_set_new(report, "toolchains", toolchains_of(debian));
    json_object_set_new(report, "debian", debian);
    json_object_set_new(report, "python", python);
    return 0;
}

int versions_of_image(struct store *s, const char *what, const struct platform *want, json_t **out,
                      struct kiln_error **err)
{
    cleanup_image struct image *img = NULL;
    if (store_image_load_platform(s, what, want, &img, err) < 0)
        return -1;
    char **dirs = xcalloc(img->n_layers + 1, sizeof(*dirs));
    int rc = 0;
    for (size_t i = 0; i < img->n_layers && rc == 0; i++)
        if (store_snapshot_ensure(s, &img->layers[i], &dirs[i], err) < 0)
            rc = kiln_error_prefix(err, "versions of %s", what);
    json_t *report = NULL;
    if (rc == 0) {
        char id[DIGEST_STR_LEN + 1];
        json_t *labels = json_object_get(json_object_get(img->config_json, "config"), "Labels");
        labels = json_is_object(labels) ? json_deep_copy(labels) : json_object();
        report = json_pack("{s:s, s:s, s:o}", "image", what, "id",
                           digest_str(&img->config.digest, id), "labels", labels);
        rc = versions_from_layers((const char *const *)dirs, img->n_layers, report, err);
    }
    for (size_t i = 0; i < img->n_layers; i++)
        free(dirs[i]);
    free(dirs);
    if (rc < 0) {
        json_decref(report);
        return -1;
    }
    *out = report;
    return 0;
}
