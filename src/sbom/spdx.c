/* SPDX 2.3 JSON: the image as the described package (purpose CONTAINER), the
 * OS (OPERATING-SYSTEM), every package with its purl, Debian source packages
 * (binary GENERATED_FROM source), unowned files as packages with a SHA256
 * checksum (purpose FILE; SPDX file entries would require SHA1). Keys in a
 * fixed order; ids and the namespace derive from the image digest. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sbom/internal.h"
#include "util/strbuf.h"

static json_t *relationship(const char *a, const char *type, const char *b)
{
    json_t *r = json_object();
    json_object_set_new(r, "spdxElementId", json_string(a));
    json_object_set_new(r, "relationshipType", json_string(type));
    json_object_set_new(r, "relatedSpdxElement", json_string(b));
    return r;
}

static json_t *purl_ref(const char *purl)
{
    json_t *ref = json_object();
    json_object_set_new(ref, "referenceCategory", json_string("PACKAGE-MANAGER"));
    json_object_set_new(ref, "referenceType", json_string("purl"));
    json_object_set_new(ref, "referenceLocator", json_string(purl));
    return json_pack("[o]", ref);
}

/* A package object with the fields every package has, in order. */
static json_t *package(const char *name, const char *id, const char *version)
{
    json_t *p = json_object();
    json_object_set_new(p, "name", json_string(name));
    json_object_set_new(p, "SPDXID", json_string(id));
    if (version)
        json_object_set_new(p, "versionInfo", json_string(version));
    json_object_set_new(p, "downloadLocation", json_string("NOASSERTION"));
    json_object_set_new(p, "filesAnalyzed", json_false());
    return p;
}

static void set_licenses(json_t *p, const char *stated)
{
    char *expr = sbom_spdx_license(stated);
    json_object_set_new(p, "licenseConcluded", json_string("NOASSERTION"));
    json_object_set_new(p, "licenseDeclared", json_string(expr ? expr : "NOASSERTION"));
    if (stated && expr == NULL)
        json_object_set_new(p, "licenseComments", json_sprintf("stated: %s", stated));
    json_object_set_new(p, "copyrightText", json_string("NOASSERTION"));
    free(expr);
}

static const char *supplier_of(enum sbom_ecosystem eco)
{
    return eco == SBOM_DEB ? "Organization: Debian" : NULL;
}

/* Debian source packages as their own SPDX packages, one per name@version. */
static void add_sources(const struct sbom *sb, json_t *pkgs, json_t *rels, json_t *seen)
{
    const char *vendor = sb->os.id ? sb->os.id : "debian";
    for (size_t i = 0; i < sb->n_pkgs; i++) {
        const struct sbom_package *p = &sb->pkgs[i];
        if (p->eco != SBOM_DEB || p->source_name == NULL)
            continue;
        struct strbuf k = STRBUF_INIT;
        strbuf_addf(&k, "%s\n%s", p->source_name, p->source_version);
        struct digest d;
        digest_bytes(k.buf, k.len, &d);
        strbuf_release(&k);
        char *id = xasprintf("SPDXRef-Source-%.16s", d.hex);
        if (!json_object_get(seen, id)) {
            json_object_set_new(seen, id, json_true());
            json_t *sp = package(p->source_name, id, p->source_version);
            json_object_set_new(sp, "supplier", json_string("Organization: Debian"));
            json_object_set_new(sp, "primaryPackagePurpose", json_string("SOURCE"));
            set_licenses(sp, NULL);
            char *purl = sb->os.version_id ? xasprintf("pkg:deb/%s/%s@%s?arch=source&distro=%s-%s",
                                                       vendor, p->source_name, p->source_version,
                                                       vendor, sb->os.version_id)
                                           : xasprintf("pkg:deb/%s/%s@%s?arch=source", vendor,
                                                       p->source_name, p->source_version);
            json_object_set_new(sp, "externalRefs", purl_ref(purl));
            free(purl);
            json_array_append_new(pkgs, sp);
        }
        char key[17];
        sbom_package_key(p, key);
        char *bin = xasprintf("SPDXRef-Package-%s", key);
        json_array_append_new(rels, relationship(bin, "GENERATED_FROM", id));
        free(bin);
        free(id);
    }
}

json_t *sbom_write_spdx(const struct sbom *sb)
{
    char mdigest[DIGEST_STR_LEN + 1];
    digest_str(&sb->config, mdigest);
    json_t *doc = json_object();
    json_object_set_new(doc, "spdxVersion", json_string("SPDX-2.3"));
    json_object_set_new(doc, "dataLicense", json_string("CC0-1.0"));
    json_object_set_new(doc, "SPDXID", json_string("SPDXRef-DOCUMENT"));
    json_object_set_new(doc, "name", json_string(sb->image));
    json_object_set_new(doc, "documentNamespace",
                        json_sprintf("https://kiln.invalid/spdx/image/sha256-%s", sb->config.hex));
    json_t *ci = json_object();
    json_object_set_new(ci, "creators", json_pack("[s]", "Tool: kiln-" KILN_VERSION));
    json_object_set_new(ci, "created", json_string(sb->created));
    json_object_set_new(doc, "creationInfo", ci);

    json_t *pkgs = json_array(), *rels = json_array(), *seen = json_object();
    json_array_append_new(rels, relationship("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"));
    json_t *img = package(sb->image, "SPDXRef-Image", mdigest);
    json_object_set_new(img, "primaryPackagePurpose", json_string("CONTAINER"));
    set_licenses(img, NULL);
    json_array_append_new(pkgs, img);
    if (sb->os.id) {
        json_t *os = package(sb->os.id, "SPDXRef-OperatingSystem", sb->os.version_id);
        json_object_set_new(os, "primaryPackagePurpose", json_string("OPERATING-SYSTEM"));
        if (sb->os.pretty_name)
            json_object_set_new(os, "description", json_string(sb->os.pretty_name));
        set_licenses(os, NULL);
        json_array_append_new(pkgs, os);
        json_array_append_new(rels,
                              relationship("SPDXRef-Image", "CONTAINS", "SPDXRef-OperatingSystem"));
    }
    for (size_t i = 0; i < sb->n_pkgs; i++) {
        const struct sbom_package *p = &sb->pkgs[i];
        char key[17];
        sbom_package_key(p, key);
        char *id = xasprintf("SPDXRef-Package-%s", key);
        json_t *o = package(p->name, id, p->version);
        if (supplier_of(p->eco))
            json_object_set_new(o, "supplier", json_string(supplier_of(p->eco)));
        if (p->eco == SBOM_FILE) {
            json_object_set_new(o, "packageFileName", json_string(p->location));
            json_object_set_new(o, "primaryPackagePurpose", json_string("FILE"));
            json_t *ck = json_object();
            json_object_set_new(ck, "algorithm", json_string("SHA256"));
            json_object_set_new(ck, "checksumValue", json_string(p->sha256));
            json_object_set_new(o, "checksums", json_pack("[o]", ck));
        } else {
            json_object_set_new(
                o, "sourceInfo",
                json_sprintf("%s package read from %s", sbom_ecosystem_name(p->eco), p->location));
            json_object_set_new(o, "primaryPackagePurpose", json_string("LIBRARY"));
        }
        set_licenses(o, p->license);
        if (p->purl)
            json_object_set_new(o, "externalRefs", purl_ref(p->purl));
        json_array_append_new(pkgs, o);
        json_array_append_new(rels, relationship("SPDXRef-Image", "CONTAINS", id));
        free(id);
    }
    add_sources(sb, pkgs, rels, seen);
    json_decref(seen);
    json_object_set_new(doc, "packages", pkgs);
    json_object_set_new(doc, "relationships", rels);
    return doc;
}

char *sbom_dump(const json_t *doc)
{
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s == NULL)
        abort();
    char *out = xasprintf("%s\n", s);
    free(s);
    return out;
}
