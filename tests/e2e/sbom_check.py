#!/usr/bin/python3
"""Checks of kiln's SBOMs for tests/e2e/sbom.bats (Debian's python3 and
python3-jsonschema).

  sbom_check.py cyclonedx SCHEMA_DIR FILE   validate against bom-1.5 from
                                            @cyclonedx/cyclonedx-library's res/schema
  sbom_check.py spdx FILE                   SPDX 2.3 required fields and relationships
  sbom_check.py list FILE deb|pypi          "name version arch" / "name==version" lines
"""
import json
import os
import re
import sys
import warnings


def fail(msg):
    print("sbom_check: " + msg, file=sys.stderr)
    sys.exit(1)


def cyclonedx(schema_dir, path):
    import jsonschema

    def load(name):
        with open(os.path.join(schema_dir, name)) as f:
            return json.load(f)

    bom = load("bom-1.5.SNAPSHOT.schema.json")
    store = {}
    for name in ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json"):
        doc = load(name)
        store[doc["$id"]] = doc
        store["http://cyclonedx.org/schema/" + name] = doc
    with open(path) as f:
        doc = json.load(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        resolver = jsonschema.RefResolver.from_schema(bom, store=store)
        v = jsonschema.Draft7Validator(
            bom, resolver=resolver, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
        )
        errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    for e in errors[:10]:
        print("%s: %s" % ("/".join(map(str, e.path)), e.message), file=sys.stderr)
    if errors:
        fail("%s: %d schema errors" % (path, len(errors)))
    if doc.get("specVersion") != "1.5" or not doc.get("components"):
        fail("not a CycloneDX 1.5 document with components")
    refs = [c["bom-ref"] for c in doc["components"]]
    if len(refs) != len(set(refs)):
        fail("bom-refs are not unique")
    known = set(refs) | {doc["metadata"]["component"]["bom-ref"]}
    for d in doc.get("dependencies", []):
        for r in [d["ref"]] + d.get("dependsOn", []):
            if r not in known:
                fail("dependency on unknown bom-ref " + r)
    print("cyclonedx ok: %d components" % len(refs))


SPDX_ID = re.compile(r"^SPDXRef-[A-Za-z0-9.\-]+$")
CREATED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
PURL = re.compile(r"^pkg:[a-z.+\-]+/[^@\s]+@[^?\s]+(\?[^\s#]+)?$")
RELATIONSHIPS = {
    "DESCRIBES", "DESCRIBED_BY", "CONTAINS", "CONTAINED_BY", "DEPENDS_ON", "DEPENDENCY_OF",
    "GENERATED_FROM", "GENERATES", "ANCESTOR_OF", "DESCENDANT_OF", "VARIANT_OF", "OTHER",
    "DISTRIBUTION_ARTIFACT", "PATCH_FOR", "PATCH_APPLIED", "COPY_OF", "FILE_ADDED",
    "FILE_DELETED", "FILE_MODIFIED", "EXPANDED_FROM_ARCHIVE", "DYNAMIC_LINK", "STATIC_LINK",
    "DATA_FILE_OF", "TEST_CASE_OF", "BUILD_TOOL_OF", "DEV_TOOL_OF", "TEST_OF", "TEST_TOOL_OF",
    "DOCUMENTATION_OF", "OPTIONAL_COMPONENT_OF", "METAFILE_OF", "PACKAGE_OF", "AMENDS",
    "PREREQUISITE_FOR", "HAS_PREREQUISITE", "REQUIREMENT_DESCRIPTION_FOR",
    "SPECIFICATION_FOR", "DEPENDENCY_MANIFEST_OF", "BUILD_DEPENDENCY_OF",
    "DEV_DEPENDENCY_OF", "OPTIONAL_DEPENDENCY_OF", "PROVIDED_DEPENDENCY_OF",
    "TEST_DEPENDENCY_OF", "RUNTIME_DEPENDENCY_OF", "EXAMPLE_OF", "GENERATES",
}
PURPOSES = {"APPLICATION", "FRAMEWORK", "LIBRARY", "CONTAINER", "OPERATING-SYSTEM", "DEVICE",
            "FIRMWARE", "SOURCE", "ARCHIVE", "FILE", "INSTALL", "OTHER"}
ALGORITHMS = {"SHA1", "SHA224", "SHA256", "SHA384", "SHA512", "MD2", "MD4", "MD5", "MD6",
              "SHA3-256", "SHA3-384", "SHA3-512", "BLAKE2b-256", "BLAKE2b-384",
              "BLAKE2b-512", "BLAKE3", "ADLER32"}


def spdx(path):
    with open(path) as f:
        doc = json.load(f)
    want = {"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT"}
    for k, v in want.items():
        if doc.get(k) != v:
            fail("%s must be %s, is %r" % (k, v, doc.get(k)))
    if not doc.get("name"):
        fail("document name missing")
    ns = doc.get("documentNamespace", "")
    if not re.match(r"^[a-z]+://[^#\s]+$", ns):
        fail("documentNamespace %r is not a URI without '#'" % ns)
    ci = doc.get("creationInfo", {})
    if not CREATED.match(ci.get("created", "")):
        fail("creationInfo.created %r" % ci.get("created"))
    if not ci.get("creators") or not all(
        re.match(r"^(Tool|Organization|Person): \S", c) for c in ci["creators"]
    ):
        fail("creationInfo.creators %r" % ci.get("creators"))
    ids = {"SPDXRef-DOCUMENT"}
    for p in doc.get("packages", []):
        for k in ("name", "SPDXID", "downloadLocation"):
            if not p.get(k):
                fail("package %r lacks %s" % (p.get("name"), k))
        if not SPDX_ID.match(p["SPDXID"]) or p["SPDXID"] in ids:
            fail("bad or duplicate SPDXID " + p["SPDXID"])
        ids.add(p["SPDXID"])
        if p.get("filesAnalyzed", True) and "packageVerificationCode" not in p:
            fail(p["SPDXID"] + ": filesAnalyzed without packageVerificationCode")
        if "primaryPackagePurpose" in p and p["primaryPackagePurpose"] not in PURPOSES:
            fail(p["SPDXID"] + ": primaryPackagePurpose " + p["primaryPackagePurpose"])
        for c in p.get("checksums", []):
            if c["algorithm"] not in ALGORITHMS or not re.match(r"^[0-9a-f]+$", c["checksumValue"]):
                fail(p["SPDXID"] + ": bad checksum")
        for r in p.get("externalRefs", []):
            if r["referenceType"] == "purl" and (
                r["referenceCategory"] != "PACKAGE-MANAGER" or not PURL.match(r["referenceLocator"])
            ):
                fail(p["SPDXID"] + ": bad purl " + r["referenceLocator"])
        for k in ("licenseConcluded", "licenseDeclared", "copyrightText"):
            if k in p and not p[k]:
                fail(p["SPDXID"] + ": empty " + k)
    described = False
    related = set()
    for r in doc.get("relationships", []):
        a, t, b = r.get("spdxElementId"), r.get("relationshipType"), r.get("relatedSpdxElement")
        if t not in RELATIONSHIPS:
            fail("relationship type %r" % t)
        for x in (a, b):
            if x not in ids:
                fail("relationship names unknown element %r" % x)
        if a == "SPDXRef-DOCUMENT" and t == "DESCRIBES":
            described = True
        related.update((a, b))
    if not described:
        fail("no DOCUMENT DESCRIBES relationship")
    orphans = ids - related
    if orphans:
        fail("elements in no relationship: %s" % sorted(orphans)[:5])
    print("spdx ok: %d packages, %d relationships" % (len(ids) - 1, len(doc["relationships"])))


def listing(path, eco):
    with open(path) as f:
        doc = json.load(f)
    for c in doc["components"]:
        props = {p["name"]: p["value"] for p in c.get("properties", [])}
        if props.get("kiln:package:type") != eco:
            continue
        if eco == "deb":
            print(c["name"], c["version"], props["kiln:package:arch"])
        else:
            print("%s==%s" % (c["name"], c["version"]))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "cyclonedx":
        cyclonedx(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "spdx":
        spdx(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "list":
        listing(sys.argv[2], sys.argv[3])
    else:
        fail(__doc__)
