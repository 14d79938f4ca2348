# Fixtures for scan.bats: an SBOM in kiln's CycloneDX shape and a database in
# OSV's and Debian security-tracker's formats, shaped like real advisories
# (ids, fields and ranges as osv.dev and security-tracker.debian.org export
# them; the IDs and versions here are made up).

# write_sbom FILE: python3.11 and libc6 (source glibc) from Debian 12, jinja2
# from PyPI, duckdb (libduckdb's Node package) from npm.
write_sbom() {
    cat >"$1" <<'JSON'
{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,
 "metadata":{"component":{"type":"container","name":"dataenv:latest-prod"}},
 "components":[
  {"type":"library","name":"python3.11","version":"3.11.2-6+deb12u2",
   "purl":"pkg:deb/debian/python3.11@3.11.2-6%2Bdeb12u2?arch=amd64&distro=debian-12"},
  {"type":"library","name":"libc6","version":"2.36-9+deb12u4",
   "purl":"pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&upstream=glibc&distro=debian-12"},
  {"type":"library","name":"bash","version":"5.2.15-2+b2",
   "purl":"pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&upstream=bash%405.2.15-2&distro=debian-12"},
  {"type":"library","name":"jinja2","version":"3.1.2","purl":"pkg:pypi/jinja2@3.1.2"},
  {"type":"library","name":"duckdb","version":"1.3.3","purl":"pkg:npm/duckdb@1.3.3"},
  {"type":"library","name":"@types/node","version":"20.1.0","purl":"pkg:npm/%40types/node@20.1.0"}
 ]}
JSON
}

# write_db DIR [MODIFIED]: DIR/osv/*.json (Debian:12, PyPI, npm records) and
# DIR/tracker.json. MODIFIED is the OSV records' "modified" time.
write_db() {
    local d=$1 mod=${2:-2024-06-01T00:00:00Z}
    mkdir -p "$d/osv"
    # Debian's OSV records name the source package and carry the CVE upstream.
    cat >"$d/osv/DEBIAN-CVE-2024-2001.json" <<JSON
{"id":"DEBIAN-CVE-2024-2001","modified":"$mod","published":"2024-05-01T00:00:00Z",
 "upstream":["CVE-2024-2001"],"summary":"glibc: buffer overflow in iconv",
 "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
 "affected":[{"package":{"ecosystem":"Debian:12","name":"glibc"},
   "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.36-9+deb12u7"}]}]}]}
JSON
    # bash: fixed below the installed source version (5.2.15-2).
    cat >"$d/osv/DEBIAN-CVE-2022-3715.json" <<JSON
{"id":"DEBIAN-CVE-2022-3715","modified":"$mod","upstream":["CVE-2022-3715"],
 "affected":[{"package":{"ecosystem":"Debian:12","name":"bash"},
   "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"5.2.15-1"}]}]}]}
JSON
    # PyPI: GHSA record with its CVE alias, name spelt with capitals.
    cat >"$d/osv/GHSA-h5c8-rqwp-cp95.json" <<JSON
{"id":"GHSA-h5c8-rqwp-cp95","modified":"$mod","aliases":["CVE-2024-22195"],
 "summary":"Jinja vulnerable to HTML attribute injection",
 "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"}],
 "database_specific":{"severity":"MODERATE"},
 "affected":[{"package":{"ecosystem":"PyPI","name":"Jinja2"},
   "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.1.3"}]}]}]}
JSON
    # PyPI: last_affected below the installed version, and a pre-release range.
    cat >"$d/osv/PYSEC-2019-217.json" <<JSON
{"id":"PYSEC-2019-217","modified":"$mod","aliases":["CVE-2019-10906"],
 "affected":[{"package":{"ecosystem":"PyPI","name":"jinja2"},
   "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"2.0"},{"last_affected":"3.1.1"}]},
             {"type":"ECOSYSTEM","events":[{"introduced":"3.1.2rc1"},{"fixed":"3.1.2"}]}]}]}
JSON
    # npm: a malicious release, listed by version (as OSV's MAL- records are).
    cat >"$d/osv/GHSA-w62p-hx95-gf2c.json" <<JSON
{"id":"GHSA-w62p-hx95-gf2c","modified":"$mod","summary":"Malicious code in duckdb 1.3.3",
 "database_specific":{"severity":"CRITICAL"},
 "affected":[{"package":{"ecosystem":"npm","name":"duckdb"},"versions":["1.3.3"]},
             {"package":{"ecosystem":"npm","name":"@types/node"},
              "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"20.1.0-rc.1"}]}]}]}
JSON
    # The tracker: python3.11's CVEs in bookworm.
    cat >"$d/tracker.json" <<'JSON'
{"python3.11":{
  "CVE-2024-1001":{"description":"python3.11: fixed above the installed version","scope":"remote",
    "releases":{"bookworm":{"status":"resolved","repositories":{"bookworm":"3.11.2-6+deb12u2"},
      "fixed_version":"3.11.2-6+deb12u3","urgency":"high"},
      "trixie":{"status":"resolved","fixed_version":"3.11.9-1","urgency":"high"}}},
  "CVE-2024-1002":{"description":"python3.11: fixed below it",
    "releases":{"bookworm":{"status":"resolved","fixed_version":"3.11.2-6+deb12u1","urgency":"medium"}}},
  "CVE-2024-1003":{"description":"python3.11: not affected",
    "releases":{"bookworm":{"status":"resolved","fixed_version":"0","urgency":"not yet assigned"}}},
  "CVE-2024-1004":{"description":"python3.11: unimportant",
    "releases":{"bookworm":{"status":"open","urgency":"unimportant"}}},
  "CVE-2024-1005":{"description":"python3.11: no DSA",
    "releases":{"bookworm":{"status":"open","urgency":"low","nodsa":"Minor issue","nodsa_reason":"postponed"}}},
  "CVE-2024-1006":{"description":"python3.11: only in trixie",
    "releases":{"trixie":{"status":"open","urgency":"high"}}}},
 "glibc":{
  "CVE-2024-2001":{"description":"glibc: buffer overflow in iconv",
    "releases":{"bookworm":{"status":"resolved","fixed_version":"2.36-9+deb12u7","urgency":"not yet assigned"}}}}}
JSON
}

# The findings of a JSON report, one "package version id severity fixed minor" line each.
findings() {
    jq -r '.findings[] | [.package, .version, .id, .severity, (.fixed_version // "-"), (.minor|tostring)] | join(" ")' | LC_ALL=C sort
}
