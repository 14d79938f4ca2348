#!/usr/bin/env bats
# kiln scan: an SBOM in kiln's CycloneDX shape against a database the test
# writes in OSV's and Debian's security-tracker formats (scan_fixtures.bash).

load helpers
load scan_fixtures
bats_require_minimum_version 1.5.0

setup() {
    setup_store
    sbom=$BATS_TEST_TMPDIR/sbom.cdx.json
    db=$BATS_TEST_TMPDIR/db
    write_sbom "$sbom"
    write_db "$db" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

import_db() {
    kiln scan db import "$db/osv" "$db/tracker.json" >/dev/null
}

@test "scan: exactly the expected findings, by each ecosystem's version order" {
    run kiln scan db import "$db/osv" "$db/tracker.json"
    [ "$status" -eq 0 ]
    [[ $output == *"imported $db/osv: 5 files, 5 advisories"* ]]
    [[ $output == *"imported $db/tracker.json: 1 files"* ]]
    ls "$KILN_ROOT/scan-db/osv.idx" "$KILN_ROOT/scan-db/tracker.idx"
    kiln scan --format json "$sbom" >"$BATS_TEST_TMPDIR/out.json"
    findings <"$BATS_TEST_TMPDIR/out.json" >"$BATS_TEST_TMPDIR/got"
    cat >"$BATS_TEST_TMPDIR/want" <<'EOF2'
duckdb 1.3.3 GHSA-w62p-hx95-gf2c CRITICAL - false
jinja2 3.1.2 GHSA-h5c8-rqwp-cp95 MEDIUM 3.1.3 false
libc6 2.36-9+deb12u4 CVE-2024-2001 CRITICAL 2.36-9+deb12u7 false
python3.11 3.11.2-6+deb12u2 CVE-2024-1001 HIGH 3.11.2-6+deb12u3 false
python3.11 3.11.2-6+deb12u2 CVE-2024-1004 LOW - true
python3.11 3.11.2-6+deb12u2 CVE-2024-1005 LOW - true
EOF2
    diff -u "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
    # Severity from the CVSS vectors (9.8 via the Debian OSV record of the
    # CVE, 6.1 for the GHSA), the binary package looked up by its source.
    run jq -r '.findings[] | select(.id == "CVE-2024-2001") | "\(.cvss_score) \(.source_package) \(.purl)"' "$BATS_TEST_TMPDIR/out.json"
    [ "$output" = "9.8 glibc pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&upstream=glibc&distro=debian-12" ]
    run jq -r '.findings[] | select(.id == "GHSA-h5c8-rqwp-cp95") | "\(.cvss_score) \(.aliases[0])"' "$BATS_TEST_TMPDIR/out.json"
    [ "$output" = "6.1 CVE-2024-22195" ]
    run jq -r '.findings[] | select(.id == "CVE-2024-1005") | .minor_reason' "$BATS_TEST_TMPDIR/out.json"
    [ "$output" = "no-dsa: postponed" ]
    # The same database given raw with --db (indexed for this scan only).
    kiln scan --db "$db/osv" --format json "$sbom" | findings >"$BATS_TEST_TMPDIR/osv-only"
    run cat "$BATS_TEST_TMPDIR/osv-only"
    [ "${#lines[@]}" -eq 3 ]
    [[ $output == *"libc6 2.36-9+deb12u4 DEBIAN-CVE-2024-2001 CRITICAL 2.36-9+deb12u7 false"* ]]
}

@test "scan: table grouped by severity, columns lined up, minor issues marked" {
    import_db
    run kiln scan "$sbom"
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == "$sbom: 6 packages, 6 vulnerabilities (CRITICAL 2, HIGH 1, MEDIUM 1, LOW 2, UNKNOWN 0)" ]]
    [[ $output == *$'\nCRITICAL (2)\n'* && $output == *$'\nLOW (2)\n'* ]]
    # Every row's FIXED column starts where the header's does.
    col=$(printf '%s\n' "$output" | grep -m1 'PACKAGE' | awk '{print index($0, "FIXED")}')
    row=$(printf '%s\n' "$output" | grep 'CVE-2024-1001' | awk '{print index($0, "3.11.2-6+deb12u3")}')
    [ "$col" -gt 0 ] && [ "$col" -eq "$row" ]
    [[ $output == *"CVE-2024-1004"*"unimportant"* ]]
}

@test "scan: --exit-code 1 --severity CRITICAL fails only on a CRITICAL finding" {
    import_db
    run kiln scan --exit-code 1 --severity CRITICAL "$sbom"
    [ "$status" -eq 1 ]
    [[ $output == *"2 vulnerabilities (CRITICAL 2, HIGH 0"* ]]
    # Without the CRITICAL packages, HIGH and minor findings do not fail it.
    jq 'del(.components[] | select(.name == "libc6" or .name == "duckdb"))' "$sbom" >"$BATS_TEST_TMPDIR/nocrit.json"
    run kiln scan --exit-code 1 --severity CRITICAL "$BATS_TEST_TMPDIR/nocrit.json"
    [ "$status" -eq 0 ]
    run kiln scan --exit-code 1 --severity HIGH,CRITICAL "$BATS_TEST_TMPDIR/nocrit.json"
    [ "$status" -eq 1 ]
    # Minor Debian issues are shown but do not fail, unless asked.
    jq 'del(.components[] | select(.name != "python3.11"))' "$sbom" >"$BATS_TEST_TMPDIR/py.json"
    run kiln scan --exit-code 3 --severity LOW "$BATS_TEST_TMPDIR/py.json"
    [ "$status" -eq 0 ]
    [[ $output == *"CVE-2024-1004"* ]]
    run kiln scan --exit-code 3 --severity LOW --fail-on-minor "$BATS_TEST_TMPDIR/py.json"
    [ "$status" -eq 3 ]
    run kiln scan --exit-code 1 --ignore-unfixed --severity CRITICAL "$sbom"
    [ "$status" -eq 1 ]
    [[ $output == *"CVE-2024-2001"* && $output != *"GHSA-w62p-hx95-gf2c"* ]]
}

@test "scan: the ignore file suppresses a listed ID (or its alias)" {
    import_db
    printf '# accepted risk\nGHSA-w62p-hx95-gf2c\n  CVE-2024-2001   # until the next rebuild\nCVE-2024-22195\n' >"$BATS_TEST_TMPDIR/ignore"
    run kiln scan --exit-code 1 --severity CRITICAL --ignore-file "$BATS_TEST_TMPDIR/ignore" "$sbom"
    [ "$status" -eq 0 ]
    kiln scan --format json --ignore-file "$BATS_TEST_TMPDIR/ignore" "$sbom" | findings >"$BATS_TEST_TMPDIR/got"
    run cat "$BATS_TEST_TMPDIR/got"
    [ "${#lines[@]}" -eq 3 ]
    [[ $output != *GHSA* && $output != *CVE-2024-2001* ]]
    run kiln scan --ignore-file "$BATS_TEST_TMPDIR/missing" "$sbom"
    [ "$status" -ne 0 ]
    [[ $output == *"$BATS_TEST_TMPDIR/missing"* ]]
}

@test "scan: SARIF output validates against the SARIF 2.1.0 schema" {
    import_db
    run kiln scan --format sarif -o "$BATS_TEST_TMPDIR/out.sarif" "$sbom"
    [ "$status" -eq 0 ] && [ -z "$output" ]
    # The schema as Microsoft's SARIF multitool ships it on npm (its Linux
    # package carries sarif-2.1.0.json), fetched at test time, cached by version.
    local cache=${KILN_NPM_CACHE:-/var/tmp/kiln-npm} tgz=microsoft-sarif-multitool-linux-5.7.0.tgz
    mkdir -p "$cache"
    if [ ! -s "$cache/$tgz" ]; then
        (cd "$cache" && timeout 300 npm pack --silent @microsoft/sarif-multitool-linux@5.7.0 >/dev/null) ||
            skip "npm cannot fetch @microsoft/sarif-multitool-linux"
    fi
    tar -xzf "$cache/$tgz" -C "$BATS_TEST_TMPDIR" package/sarif-2.1.0.json
    python3 - "$BATS_TEST_TMPDIR/package/sarif-2.1.0.json" "$BATS_TEST_TMPDIR/out.sarif" <<'PY'
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
assert "SARIF" in schema["title"] and "2.1.0" in schema["title"], schema["title"]
jsonschema.validators.validator_for(schema)(schema).validate(doc)
run = doc["runs"][0]
assert doc["version"] == "2.1.0"
assert len(run["results"]) == 6, len(run["results"])
ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
assert sorted(ids) == sorted(set(ids)), ids
for r in run["results"]:
    assert ids[r["ruleIndex"]] == r["ruleId"]
crit = [r for r in run["results"] if r["ruleId"] == "CVE-2024-2001"][0]
assert crit["level"] == "error", crit
rule = run["tool"]["driver"]["rules"][ids.index("CVE-2024-2001")]
assert rule["properties"]["security-severity"] == "9.8", rule
PY
    # A broken document must fail the same validation (the check can fail).
    jq '.runs[0].results[0].level = "fatal"' "$BATS_TEST_TMPDIR/out.sarif" >"$BATS_TEST_TMPDIR/bad.sarif"
    run python3 -c 'import json,sys,jsonschema; s=json.load(open(sys.argv[1])); jsonschema.validators.validator_for(s)(s).validate(json.load(open(sys.argv[2])))' \
        "$BATS_TEST_TMPDIR/package/sarif-2.1.0.json" "$BATS_TEST_TMPDIR/bad.sarif"
    [ "$status" -ne 0 ]
}

@test "scan: SPDX input, a zip database, and the age warning" {
    # The OSV records zipped as osv.dev exports them, modified long ago.
    write_db "$BATS_TEST_TMPDIR/old" 2024-01-01T00:00:00Z
    (cd "$BATS_TEST_TMPDIR/old/osv" && python3 -c 'import sys,zipfile
z = zipfile.ZipFile("../all.zip", "w", zipfile.ZIP_DEFLATED)
for f in sys.argv[1:]: z.write(f)' *.json)
    run kiln scan db import --name osv-old "$BATS_TEST_TMPDIR/old/all.zip"
    [ "$status" -eq 0 ]
    [[ $output == *"5 files, 5 advisories"*"(data of 2024-06-01)"* || $output == *"5 files, 5 advisories"*"(data of 2024-01-01)"* ]]
    cat >"$BATS_TEST_TMPDIR/sbom.spdx.json" <<'JSON'
{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"x",
 "packages":[{"SPDXID":"SPDXRef-1","name":"duckdb","versionInfo":"1.3.3",
   "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:npm/duckdb@1.3.3"}]},
  {"SPDXID":"SPDXRef-2","name":"jinja2","versionInfo":"3.1.3",
   "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:pypi/jinja2@3.1.3"}]}]}
JSON
    run --separate-stderr kiln scan --format json "$BATS_TEST_TMPDIR/sbom.spdx.json"
    [ "$status" -eq 0 ]
    [[ $stderr == *"days old"* ]]
    [ "$(printf '%s' "$output" | findings)" = "duckdb 1.3.3 GHSA-w62p-hx95-gf2c CRITICAL - false" ]
    # A fresh database: no warning.
    rm -rf "$KILN_ROOT/scan-db"
    import_db
    run --separate-stderr kiln scan --format json "$BATS_TEST_TMPDIR/sbom.spdx.json"
    [ "$status" -eq 0 ]
    [[ $stderr != *"days old"* ]]
}

@test "scan: malformed and truncated databases: errors naming the file, or skipped entries" {
    head -c 200 "$db/tracker.json" >"$BATS_TEST_TMPDIR/truncated.json"
    run kiln scan db import "$BATS_TEST_TMPDIR/truncated.json"
    [ "$status" -ne 0 ]
    [[ $output == *"$BATS_TEST_TMPDIR/truncated.json"*"invalid JSON"* ]]
    [ ! -e "$KILN_ROOT/scan-db/truncated.idx" ]
    ! ls "$KILN_ROOT"/scan-db/.*.idx.* 2>/dev/null
    # In a directory: the bad file and the bad record are skipped with warnings.
    printf '{"id": "GHSA-trunc", "affected": [' >"$db/osv/zz-truncated.json"
    printf '[{"summary": "no id"}, {"id": "GHSA-ok", "affected": [{"package": {"ecosystem": "npm", "name": "duckdb"}, "versions": ["1.3.3"]}]}]' >"$db/osv/zz-array.json"
    printf '{"not": "osv"}' >"$db/osv/zz-other.json"
    run --separate-stderr kiln scan db import "$db/osv"
    [ "$status" -eq 0 ]
    [[ $stderr == *"zz-truncated.json: invalid JSON"*"skipped"* ]]
    [[ $stderr == *"zz-array.json: record 0 has no usable \"id\""* ]]
    [[ $stderr == *"zz-other.json: not an OSV record"* ]]
    [[ $output == *"8 files, 6 advisories"* ]]
    # A damaged index is an error naming it, not a crash.
    printf 'kiln-advisory-index 1\nA\t0\t999\nP\t0\t5\n\nxx' >"$KILN_ROOT/scan-db/broken.idx"
    run kiln scan "$sbom"
    [ "$status" -ne 0 ]
    [[ $output == *"broken.idx: truncated"* ]]
    # Not an SBOM; no database at all.
    echo '{"hello": 1}' >"$BATS_TEST_TMPDIR/x.json"
    rm -rf "$KILN_ROOT/scan-db"
    run kiln scan "$BATS_TEST_TMPDIR/x.json"
    [ "$status" -ne 0 ]
    [[ $output == *"x.json: neither a CycloneDX"* ]]
    run kiln scan "$sbom"
    [ "$status" -ne 0 ]
    [[ $output == *"no vulnerability database"*"kiln scan db import"* ]]
}

@test "scan: --db-url downloads over HTTP only when asked (loopback server)" {
    (cd "$db" && exec python3 -m http.server --bind 127.0.0.1 0 >"$BATS_TEST_TMPDIR/http.log" 2>&1) &
    local pid=$! port=
    for _ in $(seq 100); do
        port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$BATS_TEST_TMPDIR/http.log" | head -1)
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { kill $pid; false; }
    run kiln scan --db-url "http://127.0.0.1:$port/tracker.json" --format json "$sbom"
    local st=$status out=$output
    run kiln scan db import --url "http://127.0.0.1:$port/missing.json"
    local st2=$status out2=$output
    kill $pid
    wait $pid 2>/dev/null || true
    [ "$st" -eq 0 ]
    [[ $out == *"imported"*"tracker.json"* ]]
    [[ $out == *"CVE-2024-1001"* ]]
    [ -e "$KILN_ROOT/scan-db/tracker.idx" ]
    [ "$st2" -ne 0 ]
    [[ $out2 == *"missing.json"*"404"* ]]
}

@test "scan: usage errors" {
    run kiln scan --severity BOGUS "$sbom"
    [ "$status" -eq 2 ]
    run kiln scan --format xml "$sbom"
    [ "$status" -eq 2 ]
    run kiln scan
    [ "$status" -eq 2 ]
    run kiln scan db import --name ../x "$db/tracker.json"
    [ "$status" -eq 2 ]
    run kiln help scan
    [[ $output == *"--exit-code N"* ]]
}

@test "scan IMAGE: the production image's own packages, the same as scanning its SBOM file" {
    load dataenv_images
    dataenv_image prod
    mkdir -p "$BATS_TEST_TMPDIR/real"
    # A tracker entry for the image's real python3.11 source package, fixed in a
    # version above any bookworm one, and one fixed long ago (not a finding).
    cat >"$BATS_TEST_TMPDIR/real/tracker.json" <<'EOF2'
{"python3.11": {
  "CVE-2099-0001": {"description": "test: fixed above the installed version",
    "releases": {"bookworm": {"status": "resolved", "fixed_version": "9:9.9-9",
      "urgency": "high", "repositories": {"bookworm": "3.11.2-6+deb12u9"}}}},
  "CVE-2099-0002": {"description": "test: fixed below it",
    "releases": {"bookworm": {"status": "resolved", "fixed_version": "3.0-1",
      "urgency": "high", "repositories": {"bookworm": "3.11.2-6+deb12u9"}}}}}}
EOF2
    kiln scan db import "$BATS_TEST_TMPDIR/real/tracker.json" >/dev/null
    run kiln scan --format json dataenv:latest-prod
    [ "$status" -eq 0 ]
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/image.json"
    # Every binary package built from python3.11 in the image, and only those.
    want=$(kiln run --rm --user 0 --entrypoint dpkg-query dataenv:latest-prod \
        -W -f '${source:Package} ${Package}\n' | awk '$1 == "python3.11" { print $2 }' | sort)
    [ -n "$want" ]
    got=$(jq -r '.findings[] | select(.id == "CVE-2099-0001") | .package' "$BATS_TEST_TMPDIR/image.json" | sort)
    [ "$got" = "$want" ]
    [ "$(jq '[.findings[] | select(.id == "CVE-2099-0002")] | length' "$BATS_TEST_TMPDIR/image.json")" = 0 ]
    # The same findings through the SBOM file kiln sbom writes.
    kiln sbom dataenv:latest-prod --format cyclonedx-json -o "$BATS_TEST_TMPDIR/prod.cdx.json"
    kiln scan --format json "$BATS_TEST_TMPDIR/prod.cdx.json" >"$BATS_TEST_TMPDIR/file.json"
    diff <(jq -c '[.findings[] | {id, package, version}] | sort_by(.package)' "$BATS_TEST_TMPDIR/image.json") \
        <(jq -c '[.findings[] | {id, package, version}] | sort_by(.package)' "$BATS_TEST_TMPDIR/file.json")
    run kiln scan --exit-code 3 --severity HIGH dataenv:latest-prod
    [ "$status" -eq 3 ]
    run kiln scan no-such-image:1
    [ "$status" -ne 0 ]
    [[ $output == *"no-such-image:1"* ]]
}
