#!/usr/bin/env bats
# kiln sbom: the data environment's development image against dpkg-query and
# pip list run inside it, CycloneDX against the schema @cyclonedx/cyclonedx-library
# ships (npm, installed here at test time), SPDX against the spec's rules, the
# same bytes twice; hostile package metadata; kiln build --sbom through
# Debian's docker-registry on loopback (referrers tag schema) and back.
load helpers
load dataenv_images
load ../registry/common
bats_require_minimum_version 1.5.0

CHECK="/usr/bin/python3 $BATS_TEST_DIRNAME/sbom_check.py"

setup_file() {
    # The CycloneDX schema, from the npm package (never copied into the repository).
    export CDX_SCHEMA="$BATS_FILE_TMPDIR/npm/node_modules/@cyclonedx/cyclonedx-library/res/schema"
    mkdir -p "$BATS_FILE_TMPDIR/npm"
    (cd "$BATS_FILE_TMPDIR/npm" && timeout 300 npm install --silent --no-audit --no-fund \
        --no-package-lock @cyclonedx/cyclonedx-library >/dev/null 2>&1) || true
    registry_suite_start
}

teardown_file() {
    registry_stop
}

setup() {
    registry_test_setup
}

# The development image's SBOMs, made once for the file.
dev_sboms() {
    local d="$BATS_FILE_TMPDIR/dev"
    if [ ! -s "$d/dev.cdx.json" ]; then
        mkdir -p "$d"
        export KILN_ROOT="$d/store"
        dataenv_image dev
        kiln sbom dataenv:latest --format cyclonedx-json -o "$d/dev.cdx.json"
        kiln sbom dataenv:latest -o "$d/dev.spdx.json"
    fi
    export KILN_ROOT="$d/store"
    DEV="$d"
}

@test "sbom: the development image's Debian packages are exactly what dpkg-query lists inside it" {
    dev_sboms
    kiln run --rm dataenv:latest dpkg-query -W -f '${Package} ${Version} ${Architecture}\n' |
        LC_ALL=C sort >"$BATS_TEST_TMPDIR/dpkg.txt"
    [ "$(wc -l <"$BATS_TEST_TMPDIR/dpkg.txt")" -gt 100 ]
    $CHECK list "$DEV/dev.cdx.json" deb | LC_ALL=C sort >"$BATS_TEST_TMPDIR/sbom.txt"
    diff "$BATS_TEST_TMPDIR/dpkg.txt" "$BATS_TEST_TMPDIR/sbom.txt"
    # purls: distro, and the source package where it differs (libc6 comes from glibc)
    grep -q '"purl": "pkg:deb/debian/libc6@[^?]*?arch=amd64&distro=debian-12&upstream=glibc"' \
        "$DEV/dev.cdx.json"
}

@test "sbom: the development image's Python distributions are exactly pip list of the venv and system site-packages" {
    dev_sboms
    kiln run --rm dataenv:latest python3 -m pip list --format=freeze \
        --path /opt/venv/lib/python3.11/site-packages \
        --path /usr/local/lib/python3.11/dist-packages \
        --path /usr/lib/python3/dist-packages 2>/dev/null | LC_ALL=C sort -f >"$BATS_TEST_TMPDIR/pip.txt"
    [ "$(wc -l <"$BATS_TEST_TMPDIR/pip.txt")" -gt 20 ]
    $CHECK list "$DEV/dev.cdx.json" pypi | LC_ALL=C sort -f >"$BATS_TEST_TMPDIR/sbom.txt"
    diff "$BATS_TEST_TMPDIR/pip.txt" "$BATS_TEST_TMPDIR/sbom.txt"
    grep -q '"purl": "pkg:pypi/fastapi@' "$DEV/dev.cdx.json"
}

@test "sbom: CycloneDX validates against @cyclonedx/cyclonedx-library's bom-1.5 schema; SPDX keeps the spec's rules" {
    dev_sboms
    [ -s "$CDX_SCHEMA/bom-1.5.SNAPSHOT.schema.json" ] || {
        echo "npm install @cyclonedx/cyclonedx-library failed (is the npm registry reachable?)"
        false
    }
    run $CHECK cyclonedx "$CDX_SCHEMA" "$DEV/dev.cdx.json"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    run $CHECK spdx "$DEV/dev.spdx.json"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    # the files no package owns, with their sha256
    want=$(kiln run --rm dataenv:latest sha256sum /usr/local/lib/duckdb/libduckdb.so | cut -d' ' -f1)
    run kiln sbom dataenv:latest --format table
    [ "$status" -eq 0 ]
    [[ "$output" == *"/usr/local/lib/duckdb/libduckdb.so"*"$want"* ]]
    [[ "$output" == *"/usr/local/bin/healthcheck"* ]]
    [[ "$output" == *"/usr/local/bin/duckdb"* ]]
}

@test "sbom: the same image gives the same bytes" {
    dev_sboms
    kiln sbom dataenv:latest --format cyclonedx-json -o "$BATS_TEST_TMPDIR/again.cdx.json"
    cmp "$DEV/dev.cdx.json" "$BATS_TEST_TMPDIR/again.cdx.json"
    kiln sbom dataenv:latest >"$BATS_TEST_TMPDIR/again.spdx.json"
    cmp "$DEV/dev.spdx.json" "$BATS_TEST_TMPDIR/again.spdx.json"
}

@test "sbom: make ml-sbom writes the production image's SPDX and CycloneDX" {
    dataenv_image prod
    root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
    run make -s -C "$root" --no-print-directory KILN_BIN="$KILN" BUILD="$KILN_TEST_BUILD" \
        ML_SBOM_DIR="$BATS_TEST_TMPDIR/out" ml-sbom
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ "$output" == *"/usr/local/bin/healthcheck"* ]]
    $CHECK spdx "$BATS_TEST_TMPDIR/out/dataenv-prod.spdx.json"
    grep -q '"purl": "pkg:pypi/fastapi@0.92.0"' "$BATS_TEST_TMPDIR/out/dataenv-prod.cdx.json"
}

# A rootfs with hostile and good package metadata, imported as $1.
hostile_image() {
    local root="$BATS_TEST_TMPDIR/rootfs"
    local site="$root/usr/local/lib/python3.11/site-packages"
    mkdir -p "$root/var/lib/dpkg/status.d" "$root/etc" "$site/good-1.0.dist-info" \
        "$site/huge-2.0.dist-info" "$site/broken-1.dist-info" \
        "$root/app/node_modules/@scope/pkg" "$root/app/node_modules/left-pad" \
        "$root/app/node_modules/bad" "$root/usr/share/doc/zlib1g"
    printf 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' >"$root/etc/os-release"
    {
        printf 'Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib (1:1.2.13.dfsg-1)\nVersion: 1:1.2.13.dfsg-1\nDescription: x\n more\n\n'
        printf 'garbage without a colon\nPackage: half\n\n'
        printf 'Package: nover\nStatus: install ok installed\n\n'
        head -c 3000 /dev/urandom | tr -d '\n'
        printf '\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n'
    } >"$root/var/lib/dpkg/status"
    printf 'Package: distroless-pkg\nVersion: 2.0\nArchitecture: all\n' >"$root/var/lib/dpkg/status.d/distroless-pkg"
    printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: x\nLicense: Zlib\n' \
        >"$root/usr/share/doc/zlib1g/copyright"
    printf 'Metadata-Version: 2.1\nName: Good_Pkg\nVersion: 1.0\nLicense-Expression: MIT\n' >"$site/good-1.0.dist-info/METADATA"
    { printf 'Metadata-Version: 2.1\nSummary: '; head -c 2000000 /dev/zero | tr '\0' x; printf '\nName: huge\nVersion: 2.0\n'; } \
        >"$site/huge-2.0.dist-info/METADATA"
    printf '\0\0\0 not metadata' >"$site/broken-1.dist-info/METADATA"
    printf '{"name": "@scope/pkg", "version": "1.2.3", "license": "ISC"}' >"$root/app/node_modules/@scope/pkg/package.json"
    printf '{"name": "left-pad", "version": "1.3.0"}' >"$root/app/node_modules/left-pad/package.json"
    printf '{"name": "bad", "version": ' >"$root/app/node_modules/bad/package.json"
    mkdir -p "$root/opt/tool/bin"
    printf '#!/bin/sh\necho hi\n' >"$root/opt/tool/bin/tool"
    chmod 755 "$root/opt/tool/bin/tool"
    tar -C "$root" -cf "$BATS_TEST_TMPDIR/root.tar" .
    kiln import "$BATS_TEST_TMPDIR/root.tar" -t "$1" >/dev/null
}

@test "sbom: garbage stanzas, megabyte METADATA lines and broken package.json are warnings, the rest is read" {
    hostile_image hostile:1
    run --separate-stderr kiln sbom hostile:1 --format cyclonedx-json
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [[ "$stderr" == *"/var/lib/dpkg/status:"*"skipped a package stanza"* ]]
    [[ "$stderr" == *"broken-1.dist-info/METADATA: no Name and Version"* ]]
    [[ "$stderr" == *"/app/node_modules/bad/package.json: not a package.json"* ]]
    echo "$output" >"$BATS_TEST_TMPDIR/h.json"
    /usr/bin/python3 - "$BATS_TEST_TMPDIR/h.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
purls = sorted(c.get("purl", c["name"]) for c in d["components"] if c["type"] != "operating-system")
want = sorted([
    "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib",
    "pkg:deb/debian/distroless-pkg@2.0?arch=all&distro=debian-12",
    "pkg:pypi/good-pkg@1.0",
    "pkg:pypi/huge@2.0",
    "pkg:npm/%40scope/pkg@1.2.3",
    "pkg:npm/left-pad@1.3.0",
    "/opt/tool/bin/tool",
])
assert purls == want, purls
z = [c for c in d["components"] if c["name"] == "zlib1g"][0]
assert z["licenses"] == [{"expression": "Zlib"}], z["licenses"]
assert z["pedigree"]["ancestors"][0]["name"] == "zlib"
PY
}

@test "sbom: errors name the image; a non-Linux image is refused; bad flags are usage errors" {
    run kiln sbom nosuch:1
    [ "$status" -eq 1 ]
    [[ "$output" == *"nosuch"* ]]
    run kiln sbom --format xml nosuch:1
    [ "$status" -eq 2 ]
    hostile_image h:1 2>/dev/null
    run kiln sbom --platform linux/s390x h:1
    [ "$status" -eq 1 ]
    [[ "$output" == *"h:1 is linux/amd64, not linux/s390x"* ]]
    kiln sbom --platform linux/amd64 h:1 >/dev/null
    # a windows image: the one entry of make_layout's index, tagged directly
    python3 "$MAKE_LAYOUT" "$BATS_TEST_TMPDIR/layout" win --platforms windows/amd64 >/dev/null
    python3 - "$BATS_TEST_TMPDIR/layout" <<'PY'
import json, sys, os
d = sys.argv[1]
idx = json.load(open(os.path.join(d, "index.json")))
top = idx["manifests"][0]
child = json.load(open(os.path.join(d, "blobs/sha256", top["digest"][7:])))["manifests"][0]
child = {k: child[k] for k in ("mediaType", "digest", "size")}
child["annotations"] = top.get("annotations", {})
idx["manifests"] = [child]
json.dump(idx, open(os.path.join(d, "index.json"), "w"))
PY
    tar -C "$BATS_TEST_TMPDIR/layout" -cf "$BATS_TEST_TMPDIR/win.tar" .
    kiln load -i "$BATS_TEST_TMPDIR/win.tar" >/dev/null
    run kiln sbom win
    [ "$status" -ne 0 ]
    [[ "$output" == *"windows image"* ]]
}

@test "sbom: build --sbom attaches it; push sends it (referrers tag), pull brings it, --attached gives the same bytes" {
    hostile_image base:1 2>/dev/null
    ctx="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$ctx"
    printf 'FROM base:1\nCOPY extra /opt/extra/bin/extra\n' >"$ctx/Dockerfile"
    printf '#!/bin/sh\n' >"$ctx/extra"
    chmod 755 "$ctx/extra"
    run kiln build --progress=plain --sbom -t "$REG/app:1" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    kiln sbom "$REG/app:1" >"$BATS_TEST_TMPDIR/local.spdx.json"
    kiln sbom --attached "$REG/app:1" >"$BATS_TEST_TMPDIR/attached.spdx.json"
    cmp "$BATS_TEST_TMPDIR/local.spdx.json" "$BATS_TEST_TMPDIR/attached.spdx.json"
    grep -q '"packageFileName": "/opt/extra/bin/extra"' "$BATS_TEST_TMPDIR/attached.spdx.json"
    kiln sbom --attached --format cyclonedx-json "$REG/app:1" >"$BATS_TEST_TMPDIR/local.cdx.json"
    # listed by inspect, not by images; prune and fsck keep them
    run kiln inspect --referrers "$REG/app:1"
    [ "$status" -eq 0 ]
    [[ "$output" == *'"artifactType": "application/spdx+json"'* ]]
    [[ "$output" == *'"artifactType": "application/vnd.cyclonedx+json"'* ]]
    run kiln images
    [[ "$output" != *"<none>"* ]]
    kiln prune >/dev/null
    kiln fsck
    kiln sbom --attached "$REG/app:1" | cmp - "$BATS_TEST_TMPDIR/local.spdx.json"

    run kiln push "$REG/app:1"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    pushed=$(skopeo_digest "docker://$REG/app:1")
    run skopeo list-tags --tls-verify=false "docker://$REG/app"
    [ "$status" -eq 0 ]
    [[ "$output" == *"\"sha256-${pushed#sha256:}\""* ]]
    # the tag holds an index of the two artifacts, each with the pushed image as subject
    skopeo inspect --raw --tls-verify=false "docker://$REG/app:sha256-${pushed#sha256:}" >"$BATS_TEST_TMPDIR/tag.json"
    [ "$(jq -r '[.manifests[].artifactType] | sort | join(",")' "$BATS_TEST_TMPDIR/tag.json")" = \
        "application/spdx+json,application/vnd.cyclonedx+json" ]
    first=$(jq -r '.manifests[0].digest' "$BATS_TEST_TMPDIR/tag.json")
    skopeo inspect --raw --tls-verify=false "docker://$REG/app@$first" | jq -e ".subject.digest == \"$pushed\""

    # into an empty store
    export KILN_ROOT="$BATS_TEST_TMPDIR/store2"
    run kiln pull "$REG/app:1"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    kiln sbom --attached "$REG/app:1" | cmp - "$BATS_TEST_TMPDIR/local.spdx.json"
    kiln sbom --attached --format cyclonedx-json "$REG/app:1" | cmp - "$BATS_TEST_TMPDIR/local.cdx.json"
    kiln fsck
    # pushing again from the pulled store leaves one artifact of each type in the tag
    kiln push "$REG/app:1" >/dev/null
    skopeo inspect --raw --tls-verify=false "docker://$REG/app:sha256-${pushed#sha256:}" |
        jq -e '.manifests | length == 2'
}

@test "sbom: attached SBOMs stay while their image is tagged and go with it" {
    hostile_image base:1 2>/dev/null
    ctx="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$ctx"
    printf 'FROM base:1\nCOPY Dockerfile /d\n' >"$ctx/Dockerfile"
    kiln build -q --sbom=cyclonedx-json -t b:1 "$ctx" >/dev/null
    kiln tag b:1 b:2
    kiln rmi b:1 >/dev/null
    kiln prune >/dev/null
    [ "$(jq '[.manifests[] | select(.artifactType)] | length' "$KILN_ROOT/index.json")" -eq 1 ]
    kiln sbom --attached --format cyclonedx-json b:2 | jq -e '.bomFormat == "CycloneDX"'
    run kiln sbom --attached b:2
    [ "$status" -eq 1 ]
    kiln rmi b:2 >/dev/null
    [ "$(jq '[.manifests[] | select(.artifactType)] | length' "$KILN_ROOT/index.json")" -eq 0 ]
    kiln fsck
}

@test "sbom: --attached without an attached SBOM says so" {
    hostile_image plain:1 2>/dev/null
    run kiln sbom --attached plain:1
    [ "$status" -eq 1 ]
    [[ "$output" == *"has no attached application/spdx+json"* ]]
}

@test "sbom: build --sbom --platform a,b attaches one SBOM per platform's image; push/pull carry each; --attached --platform reads it" {
    # FROM scratch and COPY only: nothing runs, so no emulator is needed
    ctx="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$ctx/etc"
    printf 'ID=debian\nVERSION_ID="12"\n' >"$ctx/etc/os-release"
    for a in amd64 arm64; do
        printf 'Package: only-%s\nStatus: install ok installed\nArchitecture: %s\nVersion: 1.0-1\n\n' \
            "$a" "$a" >"$ctx/status-$a"
    done
    printf 'FROM scratch\nARG TARGETARCH\nCOPY etc/os-release /etc/os-release\nCOPY status-$TARGETARCH /var/lib/dpkg/status\n' \
        >"$ctx/Dockerfile"
    run kiln build --progress=plain --sbom --platform linux/amd64,linux/arm64 -t "$REG/multi:1" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    declare -A man
    for p in amd64 arm64; do
        man[$p]=$(jq -r ".manifests[] | select(.platform.architecture == \"$p\") | .digest" \
            "$KILN_ROOT/blobs/sha256/$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] // "" | endswith("multi:1")) | .digest' "$KILN_ROOT/index.json" | cut -c8-)")
        [[ "${man[$p]}" == sha256:* ]]
        # two artifacts (SPDX, CycloneDX), each with this platform's manifest as subject
        [ "$(jq --arg d "${man[$p]}" '[.manifests[] | select(.artifactType and .annotations["io.kiln.subject"] == $d)] | length' "$KILN_ROOT/index.json")" -eq 2 ]
        kiln sbom --platform "linux/$p" "$REG/multi:1" >"$BATS_TEST_TMPDIR/local-$p.spdx.json"
        kiln sbom --attached --platform "linux/$p" "$REG/multi:1" >"$BATS_TEST_TMPDIR/att-$p.spdx.json"
        cmp "$BATS_TEST_TMPDIR/local-$p.spdx.json" "$BATS_TEST_TMPDIR/att-$p.spdx.json"
        grep -q "pkg:deb/debian/only-$p@1.0-1?arch=$p" "$BATS_TEST_TMPDIR/att-$p.spdx.json"
        kiln sbom --attached --format cyclonedx-json --platform "linux/$p" "$REG/multi:1" >"$BATS_TEST_TMPDIR/att-$p.cdx.json"
        kiln inspect --referrers --platform "linux/$p" "$REG/multi:1" >"$BATS_TEST_TMPDIR/ref-$p.json"
        [ "$(grep -c "\"subject\": \"${man[$p]}\"" "$BATS_TEST_TMPDIR/ref-$p.json")" -eq 2 ]
    done
    ! grep -q only-arm64 "$BATS_TEST_TMPDIR/att-amd64.spdx.json"
    # without --platform: this machine's (amd64) image's
    kiln sbom --attached "$REG/multi:1" | cmp - "$BATS_TEST_TMPDIR/att-amd64.spdx.json"
    run kiln sbom --attached --platform linux/s390x "$REG/multi:1"
    [ "$status" -eq 1 ]
    [[ "$output" == *"no image for linux/s390x (it has linux/amd64, linux/arm64)"* ]]

    run kiln push "$REG/multi:1"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    # the registry's index names the images as pushed (layers gzip-compressed: new
    # digests); each one's referrers tag holds its two artifacts, subject that image
    skopeo inspect --raw --tls-verify=false "docker://$REG/multi:1" >"$BATS_TEST_TMPDIR/index.json"
    run skopeo list-tags --tls-verify=false "docker://$REG/multi"
    [ "$status" -eq 0 ]
    for p in amd64 arm64; do
        pushed=$(jq -r ".manifests[] | select(.platform.architecture == \"$p\") | .digest" "$BATS_TEST_TMPDIR/index.json")
        [[ "$output" == *"\"sha256-${pushed#sha256:}\""* ]]
        skopeo inspect --raw --tls-verify=false "docker://$REG/multi:sha256-${pushed#sha256:}" >"$BATS_TEST_TMPDIR/tag.json"
        jq -e '[.manifests[].artifactType] | sort == ["application/spdx+json", "application/vnd.cyclonedx+json"]' "$BATS_TEST_TMPDIR/tag.json"
        first=$(jq -r '.manifests[0].digest' "$BATS_TEST_TMPDIR/tag.json")
        skopeo inspect --raw --tls-verify=false "docker://$REG/multi@$first" | jq -e ".subject.digest == \"$pushed\""
    done

    # the whole index into an empty store: each platform's SBOMs come along
    export KILN_ROOT="$BATS_TEST_TMPDIR/store2"
    run kiln pull --all-platforms "$REG/multi:1"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    for p in amd64 arm64; do
        kiln sbom --attached --platform "linux/$p" "$REG/multi:1" | cmp - "$BATS_TEST_TMPDIR/att-$p.spdx.json"
        kiln sbom --attached --format cyclonedx-json --platform "linux/$p" "$REG/multi:1" |
            cmp - "$BATS_TEST_TMPDIR/att-$p.cdx.json"
    done
    kiln fsck
    # one platform pulled: its own SBOM
    export KILN_ROOT="$BATS_TEST_TMPDIR/store3"
    kiln pull --platform linux/arm64 "$REG/multi:1" >/dev/null
    kiln sbom --attached --platform linux/arm64 "$REG/multi:1" | cmp - "$BATS_TEST_TMPDIR/att-arm64.spdx.json"
}
