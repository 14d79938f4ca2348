/* CycloneDX 1.5 JSON: metadata.component is the image (type container), the
 * OS and every package are components (files: type file with a SHA-256
 * hash), a Debian package's source package is its pedigree ancestor, and one
 * dependency entry says the image holds them all. Also the table. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sbom/internal.h"
#include "util/strbuf.h"

static json_t *property(const char *name, const char *value)
{
    json_t *p = json_object();
    json_object_set_new(p, "name", json_string(name));
    json_object_set_new(p, "value", json_string(value));
    return p;
}

static json_t *licenses(const char *stated)
{
    if (stated == NULL)
        return NULL;
    char *expr = sbom_spdx_license(stated);
    json_t *l = json_object();
    if (expr) {
        json_object_set_new(l, "expression", json_string(expr));
        free(expr);
        return json_pack("[o]", l);
    }
    json_t *lic = json_object();
    json_object_set_new(lic, "name", json_string(stated));
    json_object_set_new(l, "license", lic);
    return json_pack("[o]", l);
}

static json_t *component(const struct sbom *sb, const struct sbom_package *p, const char *ref)
{
    json_t *c = json_object();
    json_object_set_new(c, "bom-ref", json_string(ref));
    json_object_set_new(c, "type", json_string(p->eco == SBOM_FILE ? "file" : "library"));
    if (p->eco == SBOM_DEB)
        json_object_set_new(c, "publisher", json_string("Debian"));
    json_object_set_new(c, "name", json_string(p->name));
    if (p->version)
        json_object_set_new(c, "version", json_string(p->version));
    if (p->sha256) {
        json_t *h = json_object();
        json_object_set_new(h, "alg", json_string("SHA-256"));
        json_object_set_new(h, "content", json_string(p->sha256));
        json_object_set_new(c, "hashes", json_pack("[o]", h));
    }
    json_t *l = licenses(p->license);
    if (l)
        json_object_set_new(c, "licenses", l);
    if (p->purl)
        json_object_set_new(c, "purl", json_string(p->purl));
    if (p->eco == SBOM_DEB && p->source_name) {
        const char *vendor = sb->os.id ? sb->os.id : "debian";
        json_t *anc = json_object();
        json_object_set_new(anc, "type", json_string("library"));
        json_object_set_new(anc, "name", json_string(p->source_name));
        json_object_set_new(anc, "version", json_string(p->source_version));
        json_object_set_new(anc, "purl",
                            sb->os.version_id
                                ? json_sprintf("pkg:deb/%s/%s@%s?arch=source&distro=%s-%s", vendor,
                                               p->source_name, p->source_version, vendor,
                                               sb->os.version_id)
                                : json_sprintf("pkg:deb/%s/%s@%s?arch=source", vendor,
                                               p->source_name, p->source_version));
        json_t *ped = json_object();
        json_object_set_new(ped, "ancestors", json_pack("[o]", anc));
        json_object_set_new(c, "pedigree", ped);
    }
    json_t *props = json_array();
    json_array_append_new(props, property("kiln:package:type", sbom_ecosystem_name(p->eco)));
    if (p->arch)
        json_array_append_new(props, property("kiln:package:arch", p->arch));
    if (p->location)
        json_array_append_new(props, property("kiln:location", p->location));
    json_object_set_new(c, "properties", props);
    return c;
}

json_t *sbom_write_cyclonedx(const struct sbom *sb)
{
    char mdigest[DIGEST_STR_LEN + 1];
    digest_str(&sb->config, mdigest);
    json_t *doc = json_object();
    json_object_set_new(doc, "$schema",
                        json_string("http://cyclonedx.org/schema/bom-1.5.schema.json"));
    json_object_set_new(doc, "bomFormat", json_string("CycloneDX"));
    json_object_set_new(doc, "specVersion", json_string("1.5"));
    char *serial = sbom_uuid(sb, "cyclonedx");
    json_object_set_new(doc, "serialNumber", json_string(serial));
    free(serial);
    json_object_set_new(doc, "version", json_integer(1));

    json_t *meta = json_object();
    json_object_set_new(meta, "timestamp", json_string(sb->created));
    json_t *tool = json_object();
    json_object_set_new(tool, "type", json_string("application"));
    json_object_set_new(tool, "name", json_string("kiln"));
    json_object_set_new(tool, "version", json_string(KILN_VERSION));
    json_t *tools = json_object();
    json_object_set_new(tools, "components", json_pack("[o]", tool));
    json_object_set_new(meta, "tools", tools);
    json_t *img = json_object();
    json_object_set_new(img, "bom-ref", json_string("image"));
    json_object_set_new(img, "type", json_string("container"));
    json_object_set_new(img, "name", json_string(sb->image));
    json_object_set_new(img, "version", json_string(mdigest));
    json_t *iprops = json_array();
    char cdigest[DIGEST_STR_LEN + 1];
    json_array_append_new(iprops, property("kiln:image:id", digest_str(&sb->config, cdigest)));
    json_array_append_new(iprops, property("kiln:image:architecture", sb->arch));
    json_object_set_new(img, "properties", iprops);
    json_object_set_new(meta, "component", img);
    json_object_set_new(doc, "metadata", meta);

    json_t *comps = json_array(), *deps = json_array();
    if (sb->os.id) {
        json_t *os = json_object();
        json_object_set_new(os, "bom-ref", json_string("os"));
        json_object_set_new(os, "type", json_string("operating-system"));
        json_object_set_new(os, "name", json_string(sb->os.id));
        if (sb->os.version_id)
            json_object_set_new(os, "version", json_string(sb->os.version_id));
        if (sb->os.pretty_name)
            json_object_set_new(os, "description", json_string(sb->os.pretty_name));
        json_array_append_new(comps, os);
        json_array_append_new(deps, json_string("os"));
    }
    for (size_t i = 0; i < sb->n_pkgs; i++) {
        char key[17];
        sbom_package_key(&sb->pkgs[i], key);
        char *ref = xasprintf("%s-%s", sbom_ecosystem_name(sb->pkgs[i].eco), key);
        json_array_append_new(comps, component(sb, &sb->pkgs[i], ref));
        json_array_append_new(deps, json_string(ref));
        free(ref);
    }
    json_object_set_new(doc, "components", comps);
    json_t *d = json_object();
    json_object_set_new(d, "ref", json_string("image"));
    json_object_set_new(d, "dependsOn", deps);
    json_object_set_new(doc, "dependencies", json_pack("[o]", d));
    return doc;
}

void sbom_write_table(const struct sbom *sb, FILE *out)
{
    char mdigest[DIGEST_STR_LEN + 1];
    fprintf(out, "image %s (%s)\n", sb->image, digest_str(&sb->manifest, mdigest));
    fprintf(out, "os    %s\n", sb->os.pretty_name ? sb->os.pretty_name : "unknown");
    int wname = 4, wver = 7;
    for (size_t i = 0; i < sb->n_pkgs; i++) {
        int n = (int)strlen(sb->pkgs[i].name);
        int v = sb->pkgs[i].version ? (int)strlen(sb->pkgs[i].version) : 1;
        if (n > wname && n <= 60)
            wname = n;
        if (v > wver && v <= 40)
            wver = v;
    }
    fprintf(out, "%-5s %-*s %-*s %-6s %s\n", "TYPE", wname, "NAME", wver, "VERSION", "ARCH",
            "SOURCE / SHA256");
    for (size_t i = 0; i < sb->n_pkgs; i++) {
        const struct sbom_package *p = &sb->pkgs[i];
        const char *extra = "";
        char *src = NULL;
        if (p->eco == SBOM_FILE)
            extra = p->sha256;
        else if (p->eco == SBOM_DEB && p->source_name &&
                 (strcmp(p->source_name, p->name) != 0 ||
                  strcmp(p->source_version, p->version) != 0))
            extra = src = xasprintf("%s %s", p->source_name, p->source_version);
        fprintf(out, "%-5s %-*s %-*s %-6s %s\n", sbom_ecosystem_name(p->eco), wname, p->name, wver,
                p->version ? p->version : "-", p->arch ? p->arch : "-", extra);
        free(src);
    }
    fprintf(out, "%zu packages\n", sb->n_pkgs);
}
