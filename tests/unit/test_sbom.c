/* The SBOM parsers and purls (src/sbom/): dpkg status stanzas (good, garbage,
 * status.d), core metadata with megabyte lines, package.json, machine-readable
 * copyright, os-release; purl conventions the scanner relies on; the writers'
 * determinism. */
#include <stdlib.h>
#include <string.h>

#include "sbom/sbom.h"
#include "tap.h"
#include "util/strbuf.h"

static struct sbom *new_sbom(void)
{
    struct sbom *sb = xcalloc(1, sizeof(*sb));
    sb->image = xstrdup("test:1");
    sb->created = xstrdup("2024-01-01T00:00:00Z");
    sb->arch = xstrdup("amd64");
    sb->os.id = xstrdup("debian");
    sb->os.version_id = xstrdup("12");
    return sb;
}

static const struct sbom_package *find(const struct sbom *sb, const char *name)
{
    for (size_t i = 0; i < sb->n_pkgs; i++)
        if (strcmp(sb->pkgs[i].name, name) == 0)
            return &sb->pkgs[i];
    return NULL;
}

static void test_dpkg(void)
{
    struct sbom *sb = new_sbom();
    const char *st = "Package: libc6\n"
                     "Status: install ok installed\n"
                     "Architecture: amd64\n"
                     "Source: glibc\n"
                     "Version: 2.36-9+deb12u4\n"
                     "Description: GNU C Library\n"
                     " continuation: with a colon\n"
                     "\n"
                     "Package: bash\r\n"
                     "Status: install ok installed\r\n"
                     "Architecture: amd64\r\n"
                     "Source: bash (5.2.15-2)\r\n"
                     "Version: 5.2.15-2+b2\r\n"
                     "\n\n\n"
                     "Package: removed\n"
                     "Status: deinstall ok config-files\n"
                     "Version: 1.0\n"
                     "\n"
                     "this line is garbage\n"
                     "Package: junk\n"
                     "Status: install ok installed\n"
                     "Version: 1\n"
                     "\n"
                     "Package: twice\nPackage: again\nStatus: install ok installed\nVersion: 1\n\n"
                     "Package: nover\nStatus: install ok installed\n\n"
                     "Package: zlib1g\n"
                     "Status: hold ok installed\n"
                     "Architecture: amd64\n"
                     "Source: zlib (1:1.2.13.dfsg-1)\n"
                     "Version: 1:1.2.13.dfsg-1";
    sbom_parse_dpkg_status(sb, st, strlen(st), "/var/lib/dpkg/status");
    sbom_finish(sb);
    is_int(sb->n_pkgs, 3, "three installed packages read");
    const struct sbom_package *p = find(sb, "libc6");
    ok(p && strcmp(p->version, "2.36-9+deb12u4") == 0 && strcmp(p->arch, "amd64") == 0,
       "libc6 version and arch");
    is_str(p ? p->purl : NULL,
           "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12&upstream=glibc",
           "purl: upstream=SRC when only the name differs");
    p = find(sb, "bash");
    is_str(p ? p->purl : NULL,
           "pkg:deb/debian/bash@5.2.15-2+b2?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2",
           "purl: upstream=SRC%%40VERSION when the source version differs (CRLF lines too)");
    p = find(sb, "zlib1g");
    is_str(p ? p->purl : NULL,
           "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib",
           "purl: epoch colon escaped; last stanza without a trailing newline");
    ok(p && strcmp(p->source_version, "1:1.2.13.dfsg-1") == 0, "source version kept raw");
    ok(find(sb, "removed") == NULL, "config-files package not listed");
    ok(find(sb, "junk") == NULL && find(sb, "twice") == NULL && find(sb, "nover") == NULL,
       "garbage, doubled and versionless stanzas skipped");
    is_int(sb->n_warnings, 3, "a warning for each skipped installed stanza");
    ok(sb->n_warnings > 0 && strstr(sb->warnings[0], "/var/lib/dpkg/status:") != NULL,
       "warning names the file and line: %s", sb->n_warnings ? sb->warnings[0] : "");
    sbom_free(sb);

    /* status.d (distroless): no Status field */
    sb = new_sbom();
    const char *d = "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n";
    sbom_parse_dpkg_status(sb, d, strlen(d), "/var/lib/dpkg/status.d/tzdata");
    sbom_finish(sb);
    is_int(sb->n_pkgs, 1, "status.d stanza without Status counts as installed");
    sbom_free(sb);

    /* hostile: NUL bytes, a megabyte line, only newlines */
    sb = new_sbom();
    size_t n = 3u << 20;
    char *big = xmalloc(n);
    memset(big, 'A', n);
    memcpy(big, "Package: x\0y\nVersion: 1\n", 24);
    big[n / 2] = '\n';
    sbom_parse_dpkg_status(sb, big, n, "big");
    sbom_parse_dpkg_status(sb, "\n\n\n", 3, "nl");
    sbom_parse_dpkg_status(sb, "", 0, "empty");
    ok(sb->n_pkgs == 0, "hostile status: nothing added, no crash");
    free(big);
    sbom_free(sb);
}

static void test_metadata(void)
{
    char *name, *ver, *lic;
    const char *m = "Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.0.post1\n"
                    "License: MIT\nClassifier: License :: OSI Approved :: BSD License\n\n"
                    "Name: body-is-not-headers\n";
    ok(sbom_parse_metadata(m, strlen(m), &name, &ver, &lic) == 0, "METADATA parsed");
    is_str(name, "Foo_Bar", "name as written");
    is_str(ver, "1.0.post1", "version");
    is_str(lic, "MIT", "short License: header");
    free(name), free(ver), free(lic);

    const char *c = "Name: a\nVersion: 2\nLicense: Copyright (c) a very long license text that\n"
                    "        goes on\nClassifier: License :: OSI Approved :: Apache Software "
                    "License\n";
    ok(sbom_parse_metadata(c, strlen(c), &name, &ver, &lic) == 0, "PKG-INFO parsed");
    is_str(lic, "Apache Software License", "classifier used when License: is a text");
    free(name), free(ver), free(lic);

    /* a megabyte Summary line before Name */
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, "Metadata-Version: 2.1\nSummary: ");
    for (int i = 0; i < (2 << 20); i++)
        strbuf_addc(&sb, 'x');
    strbuf_adds(&sb, "\nName: huge\nVersion: 3\n");
    ok(sbom_parse_metadata(sb.buf, sb.len, &name, &ver, &lic) == 0, "megabyte line skipped");
    is_str(name, "huge", "name after a megabyte line");
    free(name), free(ver), free(lic);
    /* a megabyte Name is not a name */
    strbuf_reset(&sb);
    strbuf_adds(&sb, "Name: ");
    for (int i = 0; i < (1 << 20); i++)
        strbuf_addc(&sb, 'n');
    strbuf_adds(&sb, "\nVersion: 1\n");
    ok(sbom_parse_metadata(sb.buf, sb.len, &name, &ver, &lic) < 0 && name == NULL,
       "megabyte Name refused");
    strbuf_release(&sb);
    ok(sbom_parse_metadata("Name: x\n", 8, &name, &ver, &lic) < 0, "no Version: refused");
    ok(sbom_parse_metadata("Name: x y\nVersion: 1\n", 21, &name, &ver, &lic) < 0,
       "a name with a space refused");
    ok(sbom_parse_metadata("\0\0\0", 3, &name, &ver, &lic) < 0, "binary refused");
}

static void test_package_json(void)
{
    char *name, *ver, *lic;
    const char *j = "{\"name\":\"@duckdb/node-bindings-linux-x64\",\"version\":\"1.5.6-r.1\","
                    "\"license\":{\"type\":\"MIT\"}}";
    ok(sbom_parse_package_json(j, strlen(j), &name, &ver, &lic) == 0, "package.json parsed");
    is_str(lic, "MIT", "license object");
    struct sbom *sb = new_sbom();
    sbom_add(sb, SBOM_NPM, name, ver, NULL, "/x/package.json");
    sbom_add(sb, SBOM_PYPI, "Typing_Extensions", "4.4.0", NULL, "/y");
    sbom_finish(sb);
    is_str(find(sb, name)->purl, "pkg:npm/%40duckdb/node-bindings-linux-x64@1.5.6-r.1",
           "scoped npm purl");
    is_str(find(sb, "Typing_Extensions")->purl, "pkg:pypi/typing-extensions@4.4.0",
           "pypi purl name normalised");
    free(name), free(ver), free(lic);
    sbom_free(sb);
    ok(sbom_parse_package_json("{\"name\":1,\"version\":\"1\"}", 25, &name, &ver, &lic) < 0,
       "non-string name refused");
    ok(sbom_parse_package_json("{\"name\":\"a\",", 12, &name, &ver, &lic) < 0,
       "truncated JSON refused");
    ok(sbom_parse_package_json("[1,2]", 5, &name, &ver, &lic) < 0, "array refused");
}

static void test_copyright_os(void)
{
    const char *c = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
                    "Upstream-Name: x\nLicense: GPL-2+\n\n"
                    "Files: *\nCopyright: 2000 A\nLicense: GPL-2+\n with text\n\n"
                    "Files: lib/*\nLicense: BSD-3-clause\nCopyright: B\n\n"
                    "Files: more/*\nLicense: GPL-2+\n\n"
                    "License: GPL-2+\n full text\n";
    char *l = sbom_parse_copyright(c, strlen(c));
    is_str(l, "GPL-2+ AND BSD-3-clause", "Files paragraphs' licenses, each once");
    free(l);
    l = sbom_parse_copyright("This is free software\n", 22);
    ok(l == NULL, "free-form copyright has no machine-readable license");
    free(l);

    struct sbom_os os = {0};
    const char *r = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
                    "VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n";
    sbom_parse_os_release(&os, r, strlen(r));
    is_str(os.id, "debian", "ID");
    is_str(os.version_id, "12", "VERSION_ID unquoted");
    is_str(os.codename, "bookworm", "codename");
    is_str(os.pretty_name, "Debian GNU/Linux 12 (bookworm)", "pretty name");
    free(os.id), free(os.version_id), free(os.codename), free(os.pretty_name);
}

static void test_writers(void)
{
    struct sbom *sb = new_sbom();
    const char *st = "Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n";
    sbom_parse_dpkg_status(sb, st, strlen(st), "/s");
    struct sbom_package *f = sbom_add(sb, SBOM_FILE, "/usr/local/bin/x", NULL, NULL, "/x");
    f->sha256 = xstrdup("00");
    sbom_finish(sb);
    json_t *a = sbom_write_cyclonedx(sb), *b = sbom_write_cyclonedx(sb);
    char *da = sbom_dump(a), *db = sbom_dump(b);
    is_str(da, db, "CycloneDX: same model, same bytes");
    ok(strstr(da, "\"serialNumber\": \"urn:uuid:") != NULL, "serial number present");
    json_t *s = sbom_write_spdx(sb);
    char *ds = sbom_dump(s);
    ok(strstr(ds, "\"created\": \"2024-01-01T00:00:00Z\"") != NULL, "SPDX created from the image");
    ok(strncmp(ds, "{\n  \"spdxVersion\": \"SPDX-2.3\"", 29) == 0, "fixed key order");
    free(da), free(db), free(ds);
    json_decref(a), json_decref(b), json_decref(s);
    sbom_free(sb);
}

int main(void)
{
    test_dpkg();
    test_metadata();
    test_package_json();
    test_copyright_os();
    test_writers();
    return done_testing();
}
