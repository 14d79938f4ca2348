#!/bin/bash
# bench/scan.sh: kiln scan's figures against the issue's goals (no peer is
# installable here: trivy and grype are not in Debian 12).
#   db-import  `kiln scan db import` of a GENERATED database: 100,000 advisories in
#              OSV's format (osv.dev's zip export shape: one JSON record per file;
#              Debian:12, PyPI and npm records with ranges, fixes and CVSS vectors),
#              written by this script; 2 runs (each ~tens of seconds).
#   scan IMAGE `kiln scan --format json IMAGE` of the data environment's development
#              and production images (copied from the shared test store into a
#              scratch one, unpacked once, untimed): the SBOM read from the layers,
#              then the match; 5 runs.
#   scan SBOM  `kiln scan --format json FILE` of `kiln sbom -f cyclonedx-json` of the
#              same images (the match alone); 5 runs. Without the images, SBOMs made
#              from this host's dpkg status stand in (and the IMAGE rows are skipped).
# Goals (issue 17): scan < 2 s for the development image, peak RSS < 100 MB.
#
#   bench/scan.sh     (images from $KILN_TEST_IMAGES/store or $BENCH_IMAGES_ROOT)
set -euo pipefail
own_tmp=${BENCH_TMP:-yes}
. "$(dirname "$0")/lib.sh"
[ "$own_tmp" = yes ] && trap 'rm -rf "$BENCH_TMP"' EXIT

W=$BENCH_TMP/scan
mkdir -p "$W"
IMAGES_ROOT=${BENCH_IMAGES_ROOT:-${KILN_TEST_IMAGES:+$KILN_TEST_IMAGES/store}}
N_ADV=${BENCH_SCAN_ADVISORIES:-100000}

# SBOM FILE NAME: the image's CycloneDX SBOM (kiln sbom, the image copied into a
# scratch store $W/images), else one of the host's Debian packages.
make_sbom() {
    local out=$1 ref=$2 json=$W/versions.json
    if [ -n "$IMAGES_ROOT" ] && KILN_ROOT=$IMAGES_ROOT "$KILN" inspect -f .id "$ref" >/dev/null 2>&1; then
        KILN_ROOT=$IMAGES_ROOT "$KILN" save -o - "$ref" | KILN_ROOT=$W/images "$KILN" load -i - >/dev/null
        KILN_ROOT=$W/images "$KILN" sbom -f cyclonedx-json -o "$out" "$ref" 2>/dev/null
        echo "$ref" >>"$W/images.list"
    else
        bench_log "scan: no image $ref in ${IMAGES_ROOT:-(unset)}: the host's dpkg status stands in"
        dpkg-query -W -f '${Package} ${Version}\n' | jq -Rn '{debian: ([inputs | split(" ") | {(.[0]): .[1]}] | add), python: {}}' >"$json"
        jq --arg ref "$ref" '{bomFormat: "CycloneDX", specVersion: "1.5", version: 1,
        metadata: {component: {type: "container", name: $ref}},
        components: ([.debian | to_entries[] | {type: "library", name: .key, version: .value,
                        purl: "pkg:deb/debian/\(.key)@\(.value | @uri)?arch=amd64&distro=debian-12"}]
                   + [.python | to_entries[] | {type: "library", name: .key, version: .value,
                        purl: "pkg:pypi/\(.key | ascii_downcase)@\(.value)"}])}' "$json" >"$out"
    fi
}

make_sbom "$W/dev.cdx.json" dataenv:latest
make_sbom "$W/prod.cdx.json" dataenv:latest-prod
bench_log "scan: SBOMs: dev $(jq '.components | length' "$W/dev.cdx.json") components, prod $(jq '.components | length' "$W/prod.cdx.json")"

# The generated database: about one advisory in six names a package of the SBOMs
# (so scans find things), the rest other names; versions around the installed ones.
python3 - "$W/dev.cdx.json" "$W/osv.zip" "$N_ADV" <<'PY'
import json, random, sys, time, zipfile
sbom, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(17)
from urllib.parse import unquote
pkgs = []
for c in json.load(open(sbom))["components"]:
    purl = c.get("purl")
    if not purl:
        continue  # files no package owns
    t, name, ver = purl.split("/")[0][4:], c["name"], c["version"]
    # Debian advisories name the source package (the scan maps binaries to it)
    q = dict(kv.split("=", 1) for kv in purl.partition("?")[2].split("&") if "=" in kv)
    if t == "deb" and "upstream" in q:
        src = unquote(q["upstream"])
        name, _, sver = src.partition("@")
        ver = sver or ver
    pkgs.append((t, name, ver))
vec = ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
       "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"]
eco_of = {"deb": "Debian:12", "pypi": "PyPI", "npm": "npm"}
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
    for i in range(n):
        if pkgs and rng.random() < 0.16:
            t, name, ver = rng.choice(pkgs)
            fixed = ver + ("+x1" if t == "deb" else ".post1") if rng.random() < 0.5 else "0.0.1"
        else:
            t = rng.choice(["deb", "pypi", "npm"])
            name, ver = "gen-%s-%d" % (t, rng.randrange(20000)), "1.%d.0" % rng.randrange(50)
            fixed = "1.%d.0" % (rng.randrange(50) + 1)
        eco = eco_of[t]
        ident = ("DEBIAN-CVE-2025-%05d" if t == "deb" else "GHSA-gen-%05d") % i
        rec = {"id": ident, "modified": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "published": "2025-12-01T00:00:00Z",
               "aliases": ["CVE-2025-%05d" % i], "summary": "generated advisory %d for %s" % (i, name),
               "severity": [{"type": "CVSS_V3", "score": rng.choice(vec)}],
               "affected": [{"package": {"ecosystem": eco, "name": name},
                             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]}
        z.writestr("%s.json" % ident, json.dumps(rec))
PY
bench_log "scan: generated $N_ADV OSV advisories: $(du -h "$W/osv.zip" | cut -f1) zip"

summary() { # FILE: "median wall, median cpu, max rss MB, n"
    sort -n -k1,1 "$1" | awk '{ w[NR] = $1; c[NR] = $4; if ($2 > r) r = $2 }
        END { m = int((NR + 1) / 2); printf "%.3f s wall (median of %d), cpu %.2f s, peak RSS %.0f MB", w[m], NR, c[m], r / 1024 }'
}
runs_of() { awk '{ printf "%s ", $1 }' "$1"; }
col_of() { awk -v k="$2" '{ printf "%s ", $k }' "$1"; }

export KILN_ROOT=$W/store
for i in 1 2; do
    rm -rf "$KILN_ROOT"
    bench_time "$W/import.times" "$KILN" scan db import --name osv "$W/osv.zip"
done
"$KILN" scan db list
echo "db import ($N_ADV generated advisories): $(summary "$W/import.times"), index $(du -h "$KILN_ROOT/scan-db/osv.idx" | cut -f1)"
bench_record bench=scan case=osv-100k scenario=db-import tool=kiln unit=s runs="$(runs_of "$W/import.times")" \
    rss_kb="$(col_of "$W/import.times" 2)" cpu_s="$(col_of "$W/import.times" 4)" \
    note="$N_ADV generated OSV advisories" load="$(cut -d' ' -f1 /proc/loadavg)"
for img in dev prod; do
    ref=$([ $img = dev ] && echo dataenv:latest || echo dataenv:latest-prod)
    if grep -qx "$ref" "$W/images.list" 2>/dev/null; then
        for i in $(seq "$(bench_runs 1)"); do
            KILN_ROOT=$W/images bench_time "$W/scanimg-$img.times" "$KILN" scan --db "$W/store/scan-db" \
                --format json "$ref" || [ $? -le 1 ]
        done
        echo "scan IMAGE $ref: $(summary "$W/scanimg-$img.times")"
        bench_record bench=scan case=dataenv-$img scenario=scan-image tool=kiln unit=s \
            runs="$(runs_of "$W/scanimg-$img.times")" rss_kb="$(col_of "$W/scanimg-$img.times" 2)" \
            cpu_s="$(col_of "$W/scanimg-$img.times" 4)" load="$(cut -d' ' -f1 /proc/loadavg)"
    fi
    for i in $(seq "$(bench_runs 1)"); do
        bench_time "$W/scan-$img.times" "$KILN" scan --format json "$W/$img.cdx.json" || [ $? -le 1 ]
    done
    "$KILN" scan --format json "$W/$img.cdx.json" 2>/dev/null >"$W/$img.findings.json" || true
    echo "scan SBOM $img ($(jq '.packages' "$W/$img.findings.json") packages, $(jq '.findings | length' "$W/$img.findings.json") findings): $(summary "$W/scan-$img.times")"
    bench_record bench=scan case=dataenv-$img scenario=scan-sbom tool=kiln unit=s runs="$(runs_of "$W/scan-$img.times")" \
        rss_kb="$(col_of "$W/scan-$img.times" 2)" cpu_s="$(col_of "$W/scan-$img.times" 4)" \
        load="$(cut -d' ' -f1 /proc/loadavg)"
done
