/* report/versions: the parsers, and the layered view over snapshot directories
 * (whiteouts, opaque directories, symlinks, site directory precedence). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "report/versions.h"
#include "tap.h"
#include "util/fs.h"
#include "util/strbuf.h"

static const char *get(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void put(const char *root, const char *rel, const char *text)
{
    char *p = path_join(root, rel);
    char *dir = xstrdup(p);
    *strrchr(dir, '/') = '\0';
    mkdir_p(dir, 0755, NULL);
    write_file_atomic(p, text, strlen(text), 0644, NULL);
    free(dir);
    free(p);
}

static int whiteout(const char *root, const char *rel)
{
    char *p = path_join(root, rel);
    char *dir = xstrdup(p);
    *strrchr(dir, '/') = '\0';
    mkdir_p(dir, 0755, NULL);
    int r = mknod(p, S_IFCHR | 0, makedev(0, 0));
    free(dir);
    free(p);
    return r;
}

static void test_parsers(void)
{
    const char status[] =
        "Package: bash\nStatus: install ok installed\nVersion: 5.2-2\n"
        "Description: shell\n continued line\n\n"
        "Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n"
        "Package: held\nStatus: hold ok installed\nVersion: 2:1.0~rc1\n"
        "\n\nPackage: nover\nStatus: install ok installed\n\n"
        "Package: last\r\nVersion: 3\r\nStatus: install ok installed"; /* no final newline */
    json_t *m = json_object();
    versions_parse_dpkg_status(status, sizeof(status) - 1, m);
    is_str(get(m, "bash"), "5.2-2", "dpkg: installed package with its version");
    ok(json_object_get(m, "gone") == NULL, "dpkg: config-files only is not installed");
    is_str(get(m, "held"), "2:1.0~rc1", "dpkg: held packages count, epoch kept");
    ok(json_object_get(m, "nover") == NULL, "dpkg: a stanza without Version is skipped");
    is_str(get(m, "last"), "3", "dpkg: CRLF and a missing final newline");
    is_int(json_object_size(m), 3, "dpkg: three installed");
    json_decref(m);

    char *name, *ver;
    const char meta[] = "Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0\n"
                        "Summary: x\n\nName: NotAHeader\nVersion: 9\n";
    is_int(versions_parse_metadata(meta, sizeof(meta) - 1, &name, &ver), 0, "metadata parsed");
    is_str(name, "PyYAML", "metadata: Name as written");
    is_str(ver, "6.0", "metadata: Version; the body after the blank line is ignored");
    free(name);
    free(ver);
    const char nover[] = "Name: x\n";
    is_int(versions_parse_metadata(nover, sizeof(nover) - 1, &name, &ver), -1,
           "metadata without Version refused");
    ok(name == NULL && ver == NULL, "nothing returned on refusal");

    const char conf[] = "# comment\n\nAPP_VERSION=0.1.0\n  BASE_IMAGE=debian:x  \n=novalue\nnoeq\n"
                        "EMPTY=\n";
    m = json_object();
    versions_parse_conf(conf, sizeof(conf) - 1, m);
    is_str(get(m, "APP_VERSION"), "0.1.0", "conf: KEY=VALUE");
    is_str(get(m, "BASE_IMAGE"), "debian:x", "conf: blanks trimmed");
    is_str(get(m, "EMPTY"), "", "conf: empty value kept");
    is_int(json_object_size(m), 3, "conf: malformed lines skipped");
    json_decref(m);
}

static void test_layers(const char *tmp)
{
    char *l0 = path_join(tmp, "l0"), *l1 = path_join(tmp, "l1"), *l2 = path_join(tmp, "l2");
    put(l0, "var/lib/dpkg/status", "Package: a\nStatus: install ok installed\nVersion: 1\n");
    put(l0, "usr/lib/python3/dist-packages/Foo-1.0.dist-info/METADATA",
        "Name: Foo\nVersion: 1.0\n");
    put(l0, "usr/lib/python3/dist-packages/bar.egg-info/PKG-INFO", "Name: bar\nVersion: 2.0\n");
    put(l0, "usr/lib/python3/dist-packages/single.egg-info", "Name: single\nVersion: 0.5\n");
    put(l0, "usr/lib/python3/dist-packages/gone-1.dist-info/METADATA", "Name: gone\nVersion: 1\n");
    put(l0, "etc/dataenv/versions.conf", "APP_VERSION=old\n");
    put(l0, "usr/local/lib/python3.11/dist-packages/hidden-1.dist-info/METADATA",
        "Name: hidden\nVersion: 1\n");
    /* layer 1: newer dpkg status, venv shadowing Foo (normalised name), a whiteout */
    put(l1, "var/lib/dpkg/status",
        "Package: a\nStatus: install ok installed\nVersion: 2\n\n"
        "Package: b\nStatus: install ok installed\nVersion: 1\n\n"
        "Package: rustc\nStatus: install ok installed\nVersion: 1.63.0+dfsg1-2\n\n"
        "Package: cargo\nStatus: deinstall ok config-files\nVersion: 0.66.0+ds1-1\n");
    put(l1, "opt/venv/lib/python3.11/site-packages/foo-9.dist-info/METADATA",
        "Name: foo\nVersion: 9\n");
    int wh = whiteout(l1, "usr/lib/python3/dist-packages/gone-1.dist-info");
    /* layer 2: versions.conf replaced, /usr/local/lib/python3.11 made opaque and emptied */
    put(l2, "etc/dataenv/versions.conf", "APP_VERSION=new\n");
    char *opq = path_join(l2, "usr/local/lib/python3.11");
    mkdir_p(opq, 0755, NULL);
    int xa = setxattr(opq, "trusted.overlay.opaque", "y", 1, 0);
    /* a symlink in the top layer that points out of the image is not followed */
    char *esc = path_join(l2, "usr/lib/python3/dist-packages/evil.dist-info");
    symlink(tmp, esc);
    put(tmp, "METADATA", "Name: evil\nVersion: 6.6.6\n");

    const char *dirs[] = {l0, l1, l2};
    json_t *r = json_object();
    is_int(versions_from_layers(dirs, 3, r, NULL), 0, "layers read");
    json_t *deb = json_object_get(r, "debian"), *py = json_object_get(r, "python");
    is_str(get(deb, "a"), "2", "the top layer's dpkg status wins");
    is_str(get(deb, "b"), "1", "packages of the top status file");
    json_t *tc = json_object_get(r, "toolchains");
    is_str(get(tc, "rustc"), "1.63.0+dfsg1-2", "toolchains: rustc's Debian version");
    ok(json_object_get(tc, "cargo") == NULL, "toolchains: a removed package is not listed");
    is_int((int)json_object_size(tc), 1, "toolchains: only the installed ones");
    is_str(get(json_object_get(r, "config"), "APP_VERSION"), "new", "versions.conf from the top");
    is_str(get(py, "foo"), "9", "the venv comes first on sys.path");
    ok(json_object_get(py, "Foo") == NULL, "same normalised name listed once");
    is_str(get(py, "bar"), "2.0", "egg-info directory");
    is_str(get(py, "single"), "0.5", "single-file egg-info");
    ok(json_object_get(py, "evil") == NULL, "symlinks are not followed");
    if (wh == 0)
        ok(json_object_get(py, "gone") == NULL, "a whiteout deletes a lower dist-info");
    else
        ok(1, "# SKIP mknod of a whiteout not permitted here");
    if (xa == 0)
        ok(json_object_get(py, "hidden") == NULL, "an opaque directory hides the layers below");
    else
        ok(1, "# SKIP trusted xattrs not permitted here");
    /* a rootless store's snapshots mark it user.overlay.opaque */
    removexattr(opq, "trusted.overlay.opaque");
    if (setxattr(opq, "user.overlay.opaque", "y", 1, 0) == 0) {
        json_t *ru = json_object();
        versions_from_layers(dirs, 3, ru, NULL);
        ok(json_object_get(json_object_get(ru, "python"), "hidden") == NULL,
           "user.overlay.opaque (a rootless store) hides them as well");
        json_decref(ru);
    } else {
        ok(1, "# SKIP user xattrs not permitted here");
    }

    /* only l0: everything of the bottom layer */
    json_t *r0 = json_object();
    versions_from_layers(dirs, 1, r0, NULL);
    is_str(get(json_object_get(r0, "debian"), "a"), "1", "bottom layer alone");
    is_str(get(json_object_get(r0, "python"), "gone"), "1", "not yet deleted below the whiteout");
    is_str(get(json_object_get(r0, "python"), "Foo"), "1.0", "Debian's Foo without the venv");
    json_decref(r0);
    json_decref(r);
    free(esc);
    free(opq);
    free(l0);
    free(l1);
    free(l2);
}

int main(void)
{
    char tmpl[] = "/tmp/kiln-test-versions-XXXXXX";
    char *tmp = mkdtemp(tmpl);
    test_parsers();
    test_layers(tmp);
    rm_rf(tmp, NULL);
    return done_testing();
}
