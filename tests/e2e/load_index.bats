#!/usr/bin/env bats
# kiln load of archives holding image indexes (skopeo copy --all to an
# oci-archive, docker save of a multi-platform image) and docker-archives
# holding several images: the index is kept, tags follow the archive.
load helpers
load layer_helpers

MAKE_LAYOUT="$BATS_TEST_DIRNAME/../registry/make_layout.py"
MAKE_DOCKER="$BATS_TEST_DIRNAME/make_docker_archive.py"

setup() {
    setup_store
    [ "$(uname -m)" = x86_64 ] || skip "platform tests assume amd64"
    python3 "$MAKE_LAYOUT" "$BATS_TEST_TMPDIR/layout" multi --platforms linux/arm64,linux/amd64 >/dev/null
    skopeo copy -q --all "oci:$BATS_TEST_TMPDIR/layout:multi" "oci-archive:$BATS_TEST_TMPDIR/multi.tar:demo/multi:1"
    index=$(jq -r '.manifests[0].digest' "$BATS_TEST_TMPDIR/layout/index.json")
}

# The digest of the index entry for ARCH.
platform_digest() {
    jq -r --arg a "$1" '.manifests[] | select(.platform.architecture == $a) | .digest' \
        "$BATS_TEST_TMPDIR/layout/blobs/sha256/${index#sha256:}"
}

# rewrite_archive IN OUT MODE ARCH: drop-platform leaves out ARCH's manifest, config and
# layers; tamper-manifest changes one byte of ARCH's manifest (same name).
rewrite_archive() {
    python3 - "$@" "$(platform_digest "$4")" <<'PY'
import io, json, sys, tarfile
src, dst, mode, arch, digest = sys.argv[1:6]
t = tarfile.open(src)
files = {m.name: m for m in t.getmembers()}
mname = "blobs/sha256/" + digest.split(":")[1]
m = json.load(t.extractfile(files[mname]))
drop = {mname} | {"blobs/sha256/" + d["digest"].split(":")[1] for d in [m["config"]] + m["layers"]}
with tarfile.open(dst, "w") as out:
    for info in t.getmembers():
        data = t.extractfile(info).read() if info.isfile() else None
        if mode == "drop-platform" and info.name in drop:
            continue
        if mode == "tamper-manifest" and info.name == mname:
            data = data.replace(b'"schemaVersion":2', b'"schemaVersion":3', 1)
            data = data.replace(b'"schemaVersion": 2', b'"schemaVersion": 3', 1)
        out.addfile(info, io.BytesIO(data) if data is not None else None)
PY
}

@test "load: skopeo's oci-archive of a multi-platform image keeps the index and its tag" {
    run kiln load -i "$BATS_TEST_TMPDIR/multi.tar"
    [ "$status" -eq 0 ]
    [ "$output" = "Loaded image: demo/multi:1" ]
    # The tag names the index itself, as in the archive.
    [ "$(jq -r '.manifests[0].digest' "$KILN_ROOT/index.json")" = "$index" ]
    [ "$(jq -r '.manifests[0].mediaType' "$KILN_ROOT/index.json")" = application/vnd.oci.image.index.v1+json ]
    [ "$(store_tags)" = "demo/multi:1" ]
    # Every platform's blobs are in the store, byte for byte.
    for f in "$BATS_TEST_TMPDIR"/layout/blobs/sha256/*; do
        cmp "$f" "$KILN_ROOT/blobs/sha256/$(basename "$f")"
    done
    # The image is this machine's platform.
    [ "$(kiln inspect demo/multi:1 | jq -r '.[0].digest')" = "$(platform_digest amd64)" ]
    [ "$(kiln inspect demo/multi:1 | jq -r '.[0].architecture')" = amd64 ]
    store_is_clean
}

@test "load: an index with only this machine's platform loads; without it, nothing is tagged" {
    rewrite_archive "$BATS_TEST_TMPDIR/multi.tar" "$BATS_TEST_TMPDIR/amd64.tar" drop-platform arm64
    run kiln load -i "$BATS_TEST_TMPDIR/amd64.tar"
    [ "$status" -eq 0 ]
    [ "$(jq -r '.manifests[0].digest' "$KILN_ROOT/index.json")" = "$index" ]
    [ ! -e "$KILN_ROOT/blobs/sha256/$(platform_digest arm64 | cut -d: -f2)" ]
    [ "$(kiln inspect demo/multi:1 | jq -r '.[0].architecture')" = amd64 ]
    store_is_clean

    export KILN_ROOT="$BATS_TEST_TMPDIR/other"
    rewrite_archive "$BATS_TEST_TMPDIR/multi.tar" "$BATS_TEST_TMPDIR/arm64.tar" drop-platform amd64
    run kiln load -i "$BATS_TEST_TMPDIR/arm64.tar"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"amd64"* ]]
    [ -z "$(store_tags)" ]
}

@test "load: an index entry whose manifest does not match its digest is refused" {
    rewrite_archive "$BATS_TEST_TMPDIR/multi.tar" "$BATS_TEST_TMPDIR/bad.tar" tamper-manifest arm64
    run kiln load -i "$BATS_TEST_TMPDIR/bad.tar"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"$(platform_digest arm64 | cut -d: -f2)"* ]]
    [ -z "$(store_tags)" ]
}

@test "load: a classic docker-archive with several images: every RepoTag, shared layers once" {
    python3 "$MAKE_DOCKER" "$BATS_TEST_TMPDIR/d.tar" classic demo/a=1,latest demo/b=2 demo/c= \
        >"$BATS_TEST_TMPDIR/ids"
    run kiln load -i "$BATS_TEST_TMPDIR/d.tar"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "Loaded image: demo/a:1" ]
    [ "${lines[1]}" = "Loaded image: demo/a:latest" ]
    [ "${lines[2]}" = "Loaded image: demo/b:2" ]
    [[ "${lines[3]}" == *"(untagged)" ]]
    [ "$(store_tags | sort | tr '\n' ' ')" = "demo/a:1 demo/a:latest demo/b:2 " ]
    # Image ids are the archive's configs; the shared base layer is one blob.
    [ "$(kiln inspect demo/a:1 | jq -r '.[0].id')" = "$(sed -n 1p "$BATS_TEST_TMPDIR/ids")" ]
    [ "$(kiln inspect demo/b:2 | jq -r '.[0].id')" = "$(sed -n 2p "$BATS_TEST_TMPDIR/ids")" ]
    [ "$(kiln inspect demo/a:1 | jq -r '.[0].manifest.layers[0].digest')" = \
        "$(kiln inspect demo/b:2 | jq -r '.[0].manifest.layers[0].digest')" ]
    store_is_clean
}

@test "load: docker save's OCI shape (index.json + manifest.json) tags by io.containerd.image.name" {
    python3 "$MAKE_DOCKER" "$BATS_TEST_TMPDIR/d.tar" oci demo/a=1,latest demo/b=2 >"$BATS_TEST_TMPDIR/ids"
    run kiln load -i "$BATS_TEST_TMPDIR/d.tar"
    [ "$status" -eq 0 ]
    [ "$(store_tags | sort | tr '\n' ' ')" = "demo/a:1 demo/a:latest demo/b:2 " ]
    # The manifests are the archive's own (not rewritten).
    [ "$(kiln inspect demo/a:latest | jq -r '.[0].digest')" = "$(sed -n 1p "$BATS_TEST_TMPDIR/ids" | cut -d' ' -f1)" ]
    [ "$(kiln inspect demo/b:2 | jq -r '.[0].digest')" = "$(sed -n 2p "$BATS_TEST_TMPDIR/ids" | cut -d' ' -f1)" ]
    store_is_clean
}
