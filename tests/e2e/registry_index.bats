#!/usr/bin/env bats
# Multi-platform images both ways: kiln pull --all-platforms keeps an index and
# every image it lists; kiln push sends each image by digest, then the index.
# Checked with skopeo against Debian's docker-registry on 127.0.0.1.
load helpers
load ../registry/common

setup_file() {
    registry_suite_start
    python3 "$MAKE_LAYOUT" "$BATS_FILE_TMPDIR/layout" multi --platforms linux/arm64,linux/amd64 >/dev/null
    skopeo copy -q --all --dest-tls-verify=false "oci:$BATS_FILE_TMPDIR/layout:multi" "docker://$REG/multi:1"
}

teardown_file() {
    registry_stop
}

setup() {
    registry_test_setup
}

raw() {
    skopeo inspect --raw --tls-verify=false "docker://$1"
}

# The manifest digest an index lists for an architecture.
child_digest() {
    python3 -c 'import json,sys; print([m["digest"] for m in json.load(sys.stdin)["manifests"] if m["platform"]["architecture"]==sys.argv[1]][0])' "$1"
}

# skopeo copies one platform of a registry index and umoci unpacks it; the
# platform file in the image must name that platform.
check_platform() {
    local ref=$1 arch=$2 out="$BATS_TEST_TMPDIR/out-$arch-$RANDOM"
    skopeo copy -q --override-arch "$arch" --src-tls-verify=false "docker://$ref" "oci:$out:x"
    umoci unpack --rootless --image "$out:x" "$out.bundle" >/dev/null
    [ "$(cat "$out.bundle/rootfs/etc/platform")" = "linux/$arch" ]
}

@test "pull --all-platforms keeps the index; push sends every platform, digests equal" {
    want=$(raw "$REG/multi:1" | sha256sum | cut -d' ' -f1)
    run kiln pull -q --all-platforms "$REG/multi:1"
    [ "$status" -eq 0 ]
    [ "$output" = "sha256:$want" ]
    # The store tags the index and holds both platforms' manifests and blobs.
    [ "$(jq -r '.manifests[0].mediaType' "$KILN_ROOT/index.json")" = application/vnd.oci.image.index.v1+json ]
    for arch in amd64 arm64; do
        d=$(raw "$REG/multi:1" | child_digest $arch)
        [ -f "$KILN_ROOT/blobs/sha256/${d#sha256:}" ]
    done
    store_consistent
    run kiln push "$REG/multi:1" "$REG/copy/multi:2"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "${lines[-1]}" = "sha256:$want" ]
    # Byte for byte the same index, and each platform is there and usable.
    [ "$(raw "$REG/copy/multi:2" | sha256sum | cut -d' ' -f1)" = "$want" ]
    for arch in amd64 arm64; do
        d=$(raw "$REG/multi:1" | child_digest $arch)
        [ "$(raw "$REG/copy/multi@$d" | sha256sum | cut -d' ' -f1)" = "${d#sha256:}" ]
        check_platform "$REG/copy/multi:2" $arch
    done
    # The store's image for this host still works as one image.
    run kiln inspect "$REG/multi:1"
    [ "$status" -eq 0 ]
}

@test "push of a local index with uncompressed layers: images and index rewritten, skopeo reads all" {
    python3 "$MAKE_LAYOUT" "$KILN_ROOT" localhost/plainmulti:1 --plain --layers 2 --size 100000 \
        --platforms linux/arm64,linux/amd64 --seed plainmulti >/dev/null
    local_index=$(jq -r '.manifests[0].digest' "$KILN_ROOT/index.json")
    run kiln push localhost/plainmulti:1 "$REG/plainmulti:1"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    pushed=${lines[-1]}
    [ "$pushed" != "$local_index" ]
    index=$(raw "$REG/plainmulti:1")
    [ "sha256:$(printf '%s' "$index" | sha256sum | cut -d' ' -f1)" = "$pushed" ]
    [[ "$index" == *'"architecture":"arm64"'* && "$index" == *'"architecture":"amd64"'* ]]
    for arch in amd64 arm64; do
        d=$(child_digest $arch <<<"$index")
        [[ "$(raw "$REG/plainmulti@$d")" == *"layer.v1.tar+gzip"* ]]
        check_platform "$REG/plainmulti:1" $arch
    done
    # Pushing again sends the same bytes: gzip was remembered, not redone.
    run kiln push -q localhost/plainmulti:1 "$REG/plainmulti:again"
    [ "$status" -eq 0 ]
    [ "$output" = "$pushed" ]
    store_consistent
}

@test "push of an index whose other platform is not in the store fails clearly" {
    kiln pull -q --all-platforms "$REG/multi:1"
    arm=$(raw "$REG/multi:1" | child_digest arm64)
    rm "$KILN_ROOT/blobs/sha256/${arm#sha256:}"
    run kiln push -q "$REG/multi:1" "$REG/partial:1"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"linux/arm64"*"$arm"*"--all-platforms"* ]]
    run skopeo inspect --raw --tls-verify=false "docker://$REG/partial:1"
    [ "$status" -ne 0 ]
}
