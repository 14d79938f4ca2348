#!/bin/bash
# bench/scan.sh: kiln scan's figures against the issue's goals (no peer is
# installable here: trivy and grype are not in Debian 12).
#   db-import  `kiln scan db import` of a GENERATED database: 100,000 advisories in
#              OSV's format (osv.dev's zip export shape: one JSON record per file;
#              Debian:12, PyPI and npm records with ranges, fixes and CVSS vectors),
#              written by this script; 2 runs (each ~tens of seconds).
#   scan-dev / scan-prod
#              `kiln scan --format json SBOM` of the data environment's development
#              and production images against that index; the SBOMs are made from
#              `kiln versions --format json` of the images (their Debian and Python
#              packages; without source package names: kiln sbom writes those), or,
#              when no image is there, from this host's dpkg status. 5 runs.
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

# SBOM FILE NAME: a CycloneDX SBOM of an image's packages (kiln versions), else the host's.
make_sbom() {
    local out=$1 ref=$2 json=$W/versions.json
    if [ -n "$IMAGES_ROOT" ] && KILN_ROOT=$IMAGES_ROOT "$KILN" versions --format json "$ref" >"$json" 2>/dev/null; then
        :
    else
        bench_log "scan: no image $ref in ${IMAGES_ROOT:-(unset)}: the host's dpkg status stands in"
        dpkg-query -W -f '${Package} ${Version}\n' | jq -Rn '{debian: ([inputs | split(" ") | {(.[0]): .[1]}] | add), python: {}}' >"$json"
    fi
    jq --arg ref "$ref" '{bomFormat: "CycloneDX", specVersion: "1.5", version: 1,
        metadata: {component: {type: "container", name: $ref}},
        components: ([.debian | to_entries[] | {type: "library", name: .key, version: .value,
                        purl: "pkg:deb/debian/\(.key)@\(.value | @uri)?arch=amd64&distro=debian-12"}]
                   + [.python | to_entries[] | {type: "library", name: .key, version: .value,
                        purl: "pkg:pypi/\(.key | ascii_downcase)@\(.value)"}])}' "$json" >"$out"
}

make_sbom "$W/dev.cdx.json" dataenv:latest
make_sbom "$W/prod.cdx.json" dataenv:latest-prod
bench_log "scan: SBOMs: dev $(jq '.components | length' "$W/dev.cdx.json") packages, prod $(jq '.components | length' "$W/prod.cdx.json")"

# The generated database: about one advisory in six names a package of the SBOMs
# (so scans find things), the rest other names; versions around the installed ones.
python3 - "$W/dev.cdx.json" "$W/osv.zip" "$N_ADV" <<'PY'
import json, random, sys, time, zipfile
sbom, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(17)
pkgs = [(c["purl"].split("/")[0][4:], c["name"], c["version"]) for c in json.load(open(sbom))["components"]]
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
    rss_kb="$(col_of "$W/import.times" 2)" cpu_s="$(col_of "$W/import.times" 4)" note="generated OSV advisories"
for img in dev prod; do
    for i in $(seq "$(bench_runs 1)"); do
        bench_time "$W/scan-$img.times" "$KILN" scan --format json "$W/$img.cdx.json" || [ $? -le 1 ]
    done
    "$KILN" scan --format json "$W/$img.cdx.json" 2>/dev/null >"$W/$img.findings.json" || true
    echo "scan $img ($(jq '.packages' "$W/$img.findings.json") packages, $(jq '.findings | length' "$W/$img.findings.json") findings): $(summary "$W/scan-$img.times")"
    bench_record bench=scan case=dataenv-$img scenario=scan tool=kiln unit=s runs="$(runs_of "$W/scan-$img.times")" \
        rss_kb="$(col_of "$W/scan-$img.times" 2)" cpu_s="$(col_of "$W/scan-$img.times" 4)"
done
