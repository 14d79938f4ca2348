/* The SBOM readers: walk an image's merged file tree (build/rootview.h over
 * the layer snapshots; nothing is mounted or run) for the OS, Debian packages
 * and their licenses, Python distributions, npm packages and the unowned
 * executables and libraries under /usr/local and /opt. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/rootview.h"
#include "sbom/sbom.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strbuf.h"

#define STATUS_MAX       (64u << 20)
#define META_MAX         (4u << 20)
#define WALK_MAX_DEPTH   24
#define WALK_MAX_ENTRIES 500000

struct reader {
    struct sbom *sb;
    struct rootview *rv;
    json_t *py_seen; /* normalised Python names met so far (first wins) */
    size_t walked;
};

/* Reads path (relative, symlinks resolved inside the image); 1 found. */
static int read_path(struct reader *r, const char *path, size_t max, char **buf, size_t *len)
{
    struct kiln_error *err = NULL;
    int rc = rootview_read(r->rv, path, max, buf, len, &err);
    if (rc < 0 && err && err->code != KILN_E_NOTFOUND)
        sbom_warn(r->sb, "/%s: %s", path, err->msg);
    kiln_error_free(err);
    return rc == 0;
}

/* Names in directory path (after resolving it); NULL names when none. */
static size_t list_dir(struct reader *r, const char *path, char ***names)
{
    struct rootview_entry e;
    size_t n = 0;
    *names = NULL;
    if (rootview_lookup(r->rv, path, 1, &e, NULL) == 1 && S_ISDIR(e.st.st_mode) &&
        rootview_list(r->rv, e.path, names, &n, NULL) < 0) {
        *names = NULL;
        n = 0;
    }
    rootview_entry_release(&e);
    return n;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void read_os(struct reader *r)
{
    char *buf = NULL;
    size_t len = 0;
    if (read_path(r, "etc/os-release", 1u << 16, &buf, &len) ||
        read_path(r, "usr/lib/os-release", 1u << 16, &buf, &len))
        sbom_parse_os_release(&r->sb->os, buf, len);
    free(buf);
}

static void read_dpkg(struct reader *r)
{
    char *buf = NULL;
    size_t len = 0;
    if (read_path(r, "var/lib/dpkg/status", STATUS_MAX, &buf, &len))
        sbom_parse_dpkg_status(r->sb, buf, len, "/var/lib/dpkg/status");
    free(buf);
    char **names;
    size_t n = list_dir(r, "var/lib/dpkg/status.d", &names);
    for (size_t i = 0; i < n; i++) {
        /* distroless: one stanza a file, plus NAME.md5sums beside it */
        if (ends_with(names[i], ".md5sums"))
            continue;
        cleanup_free char *path = xasprintf("var/lib/dpkg/status.d/%s", names[i]);
        buf = NULL;
        if (read_path(r, path, META_MAX, &buf, &len)) {
            cleanup_free char *loc = xasprintf("/%s", path);
            sbom_parse_dpkg_status(r->sb, buf, len, loc);
        }
        free(buf);
    }
    rootview_names_free(names, n);
    /* licenses: /usr/share/doc/NAME/copyright in the machine-readable format */
    for (size_t i = 0; i < r->sb->n_pkgs; i++) {
        struct sbom_package *p = &r->sb->pkgs[i];
        if (p->eco != SBOM_DEB || strchr(p->name, '/'))
            continue;
        cleanup_free char *path = xasprintf("usr/share/doc/%s/copyright", p->name);
        buf = NULL;
        if (read_path(r, path, META_MAX, &buf, &len))
            p->license = sbom_parse_copyright(buf, len);
        free(buf);
    }
}

/* pip's name normalisation (PEP 503): lower case, runs of -_. become one -. */
static char *pep503(const char *name)
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

/* The distributions of one site directory; a name met before wins (the
 * first on sys.path is the one Python imports and pip lists). */
static void read_site(struct reader *r, const char *site)
{
    char **names;
    size_t n = list_dir(r, site, &names);
    for (size_t i = 0; i < n; i++) {
        const char *e = names[i];
        char *paths[2] = {NULL, NULL};
        if (ends_with(e, ".dist-info")) {
            paths[0] = xasprintf("%s/%s/METADATA", site, e);
        } else if (ends_with(e, ".egg-info")) {
            paths[0] = xasprintf("%s/%s/PKG-INFO", site, e);
            paths[1] = xasprintf("%s/%s", site, e); /* a single-file egg-info */
        }
        int found = 0;
        for (int k = 0; k < 2 && paths[k] && !found; k++) {
            char *buf = NULL, *name = NULL, *ver = NULL, *lic = NULL;
            size_t len = 0;
            if (!read_path(r, paths[k], META_MAX, &buf, &len))
                continue;
            found = 1;
            if (sbom_parse_metadata(buf, len, &name, &ver, &lic) < 0) {
                sbom_warn(r->sb, "/%s: no Name and Version headers: skipped", paths[k]);
            } else {
                char *key = pep503(name);
                if (!json_object_get(r->py_seen, key)) {
                    json_object_set_new(r->py_seen, key, json_true());
                    cleanup_free char *loc = xasprintf("/%s/%s", site, e);
                    struct sbom_package *p = sbom_add(r->sb, SBOM_PYPI, name, ver, NULL, loc);
                    p->license = steal_pointer(&lic);
                }
                free(key);
            }
            free(buf);
            free(name);
            free(ver);
            free(lic);
        }
        free(paths[0]);
        free(paths[1]);
    }
    rootview_names_free(names, n);
}

/* Each "<parent>/python3.*<rest>" directory, in name order. */
static void read_sites_under(struct reader *r, const char *parent, const char *rest)
{
    char **names;
    size_t n = list_dir(r, parent, &names);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(names[i], "python3.", 8) != 0)
            continue;
        cleanup_free char *site = xasprintf("%s/%s%s", parent, names[i], rest);
        read_site(r, site);
    }
    rootview_names_free(names, n);
}

/* sys.path order: virtual environments under /opt first (as when one is
 * active), then /usr/local, then Debian's dist-packages. */
static void read_python(struct reader *r)
{
    char **opt;
    size_t n = list_dir(r, "opt", &opt);
    for (size_t i = 0; i < n; i++) {
        cleanup_free char *lib = xasprintf("opt/%s/lib", opt[i]);
        read_sites_under(r, lib, "/site-packages");
    }
    rootview_names_free(opt, n);
    read_sites_under(r, "usr/local/lib", "/dist-packages");
    read_sites_under(r, "usr/local/lib", "/site-packages");
    read_site(r, "usr/lib/python3/dist-packages");
    read_sites_under(r, "usr/lib", "/dist-packages");
}

static void add_file(struct reader *r, const struct rootview_entry *e)
{
    int lfd = rootview_layer_fd(r->rv, e->layer);
    cleanup_close int fd = openat(lfd, e->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct digest d;
    struct kiln_error *err = NULL;
    if (fd < 0 || digest_file_fd(fd, &d, NULL, &err) < 0) {
        sbom_warn(r->sb, "/%s: could not be read: skipped", e->path);
        kiln_error_free(err);
        return;
    }
    cleanup_free char *name = xasprintf("/%s", e->path);
    struct sbom_package *p = sbom_add(r->sb, SBOM_FILE, name, NULL, NULL, name);
    p->sha256 = xstrdup(d.hex);
}

static void read_npm_package(struct reader *r, const char *dir)
{
    cleanup_free char *path = xasprintf("%s/package.json", dir);
    char *buf = NULL, *name = NULL, *ver = NULL, *lic = NULL;
    size_t len = 0;
    if (read_path(r, path, META_MAX, &buf, &len)) {
        if (sbom_parse_package_json(buf, len, &name, &ver, &lic) < 0) {
            sbom_warn(r->sb, "/%s: not a package.json with a name and a version: skipped", path);
        } else {
            cleanup_free char *loc = xasprintf("/%s", path);
            struct sbom_package *p = sbom_add(r->sb, SBOM_NPM, name, ver, NULL, loc);
            p->license = steal_pointer(&lic);
        }
    }
    free(buf);
    free(name);
    free(ver);
    free(lic);
}

static int skipped_dir(const char *name)
{
    return strcmp(name, "site-packages") == 0 || strcmp(name, "dist-packages") == 0 ||
           strcmp(name, "__pycache__") == 0 || strcmp(name, ".git") == 0;
}

static int is_library_name(const char *name)
{
    return ends_with(name, ".so") || strstr(name, ".so.") != NULL;
}

/* Walks dir (canonical, relative): npm packages in node_modules
 * directories anywhere, and (files = 1) unowned executables and shared
 * libraries. A virtual environment's bin/ belongs to its distributions. */
static void walk(struct reader *r, const char *dir, int depth, int files, int in_node_modules)
{
    if (depth > WALK_MAX_DEPTH) {
        sbom_warn(r->sb, "/%s: deeper than %d directories: not read", dir, WALK_MAX_DEPTH);
        return;
    }
    char **names = NULL;
    size_t n = 0;
    if (rootview_list(r->rv, dir, &names, &n, NULL) < 0)
        return;
    int venv = 0;
    for (size_t i = 0; i < n; i++)
        venv |= strcmp(names[i], "pyvenv.cfg") == 0;
    for (size_t i = 0; i < n; i++) {
        if (++r->walked > WALK_MAX_ENTRIES) {
            if (r->walked == WALK_MAX_ENTRIES + 1)
                sbom_warn(r->sb,
                          "more than %d files under /opt and /usr/local: the rest "
                          "not read",
                          WALK_MAX_ENTRIES);
            break;
        }
        cleanup_free char *path = dir[0] ? xasprintf("%s/%s", dir, names[i]) : xstrdup(names[i]);
        struct rootview_entry e;
        if (rootview_lookup(r->rv, path, 0, &e, NULL) != 1) {
            rootview_entry_release(&e);
            continue;
        }
        if (S_ISDIR(e.st.st_mode)) {
            if (in_node_modules && names[i][0] != '@') {
                read_npm_package(r, path);
            }
            if (strcmp(names[i], "node_modules") == 0)
                walk(r, path, depth + 1, 0, 1);
            else if (in_node_modules && names[i][0] == '@')
                walk(r, path, depth + 1, 0, 1); /* @scope/name */
            else if (!skipped_dir(names[i]) && !(venv && strcmp(names[i], "bin") == 0))
                walk(r, path, depth + 1, files && !in_node_modules, 0);
        } else if (files && S_ISREG(e.st.st_mode) &&
                   ((e.st.st_mode & 0111) || is_library_name(names[i]))) {
            add_file(r, &e);
        }
        rootview_entry_release(&e);
    }
    rootview_names_free(names, n);
}

int sbom_read_layers(struct sbom *sb, const char *const *dirs, size_t n, struct kiln_error **err)
{
    struct reader r = {.sb = sb, .py_seen = json_object()};
    if (rootview_open(dirs, n, &r.rv, err) < 0) {
        json_decref(r.py_seen);
        return -1;
    }
    read_os(&r);
    read_dpkg(&r);
    read_python(&r);
    static const char *const roots[] = {"opt", "usr/local"};
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        struct rootview_entry e;
        if (rootview_lookup(r.rv, roots[i], 0, &e, NULL) == 1 && S_ISDIR(e.st.st_mode))
            walk(&r, roots[i], 0, 1, 0);
        rootview_entry_release(&e);
    }
    /* npm packages installed globally or in an application directory */
    static const char *const npm_roots[] = {"usr/lib/node_modules", "app", "srv", "home"};
    for (size_t i = 0; i < sizeof(npm_roots) / sizeof(npm_roots[0]); i++) {
        struct rootview_entry e;
        if (rootview_lookup(r.rv, npm_roots[i], 0, &e, NULL) == 1 && S_ISDIR(e.st.st_mode))
            walk(&r, npm_roots[i], 0, 0, strcmp(npm_roots[i], "usr/lib/node_modules") == 0);
        rootview_entry_release(&e);
    }
    rootview_free(r.rv);
    json_decref(r.py_seen);
    sbom_finish(sb);
    return 0;
}
