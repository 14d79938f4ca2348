#!/usr/bin/env bats
# kiln save / kiln load: oci-archive and docker-archive, round trips, and
# interoperation with skopeo and podman.
load helpers
load layer_helpers

setup() {
    setup_store
    make_busybox_rootfs "$BATS_TEST_TMPDIR/src"
    kiln import "$BATS_TEST_TMPDIR/src" -t demo/app:1 >/dev/null
    digest=$(jq -r '.manifests[0].digest' "$KILN_ROOT/index.json")
}

@test "save/load: oci-archive round trip keeps the manifest digest and the tag" {
    kiln save -o "$BATS_TEST_TMPDIR/a.tar" demo/app:1
    tar tf "$BATS_TEST_TMPDIR/a.tar" | grep -qx index.json
    export KILN_ROOT="$BATS_TEST_TMPDIR/other"
    run kiln load -i "$BATS_TEST_TMPDIR/a.tar"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Loaded image: demo/app:1"* ]]
    [ "$(jq -r '.manifests[0].digest' "$KILN_ROOT/index.json")" = "$digest" ]
    [ "$(store_tags)" = "demo/app:1" ]
    store_is_clean
}

@test "save/load: docker-archive round trip keeps the manifest digest and the tag" {
    kiln save --format docker-archive -o "$BATS_TEST_TMPDIR/d.tar" demo/app:1
    tar tf "$BATS_TEST_TMPDIR/d.tar" | grep -qx manifest.json
    export KILN_ROOT="$BATS_TEST_TMPDIR/other"
    kiln load -i - <"$BATS_TEST_TMPDIR/d.tar"
    [ "$(jq -r '.manifests[0].digest' "$KILN_ROOT/index.json")" = "$digest" ]
    [ "$(store_tags)" = "demo/app:1" ]
    store_is_clean
}

@test "save: the same image gives the same archive bytes" {
    kiln save -o "$BATS_TEST_TMPDIR/1.tar" demo/app:1
    kiln save -o - demo/app:1 >"$BATS_TEST_TMPDIR/2.tar"
    cmp "$BATS_TEST_TMPDIR/1.tar" "$BATS_TEST_TMPDIR/2.tar"
}

@test "save: oci-archive copies with skopeo, and skopeo's (gzip) oci-archive loads back" {
    kiln save -o "$BATS_TEST_TMPDIR/a.tar" demo/app:1
    config=$(jq -r .config.digest "$KILN_ROOT/blobs/sha256/${digest#sha256:}")
    # skopeo gzips uncompressed layers on copy: the image id (config) stays.
    skopeo copy --quiet "oci-archive:$BATS_TEST_TMPDIR/a.tar" "oci:$BATS_TEST_TMPDIR/layout:copied"
    run skopeo inspect --config "oci:$BATS_TEST_TMPDIR/layout:copied"
    [ "$status" -eq 0 ]
    m=$(jq -r '.manifests[0].digest' "$BATS_TEST_TMPDIR/layout/index.json")
    [ "$(jq -r .config.digest "$BATS_TEST_TMPDIR/layout/blobs/sha256/${m#sha256:}")" = "$config" ]
    [ "$(jq -r '.layers[0].mediaType' "$BATS_TEST_TMPDIR/layout/blobs/sha256/${m#sha256:}")" = application/vnd.oci.image.layer.v1.tar+gzip ]
    skopeo copy --quiet "oci:$BATS_TEST_TMPDIR/layout:copied" "oci-archive:$BATS_TEST_TMPDIR/s.tar:demo/again:2"
    kiln load -i "$BATS_TEST_TMPDIR/s.tar"
    run store_tags
    [[ "$output" == *"demo/again:2"* ]]
    kiln export demo/again:2 -o "$BATS_TEST_TMPDIR/e.tar"
    kiln export demo/app:1 -o "$BATS_TEST_TMPDIR/f.tar"
    cmp "$BATS_TEST_TMPDIR/e.tar" "$BATS_TEST_TMPDIR/f.tar"
    store_is_clean
}

@test "save: docker-archive loads with podman load" {
    command -v podman >/dev/null || skip "podman is not installed"
    kiln save --format docker-archive -o "$BATS_TEST_TMPDIR/d.tar" demo/app:1
    skopeo inspect "docker-archive:$BATS_TEST_TMPDIR/d.tar" >/dev/null
    proot="$BATS_TEST_TMPDIR/podman"
    run podman --root "$proot/root" --runroot "$proot/run" --storage-driver vfs load -i "$BATS_TEST_TMPDIR/d.tar"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"demo/app:1"* ]]
    run podman --root "$proot/root" --runroot "$proot/run" --storage-driver vfs images --format '{{.Repository}}:{{.Tag}}'
    [[ "$output" == *"demo/app:1"* ]]
    podman --root "$proot/root" --runroot "$proot/run" --storage-driver vfs rmi -a -f >/dev/null 2>&1 || true
}

@test "save: several images, shared blobs written once; an unknown image fails" {
    kiln import "$BATS_TEST_TMPDIR/src" -t demo/app:2 --change 'CMD ["x"]' >/dev/null
    kiln save -o "$BATS_TEST_TMPDIR/m.tar" demo/app:1 demo/app:2
    [ "$(tar tf "$BATS_TEST_TMPDIR/m.tar" | sort | uniq -d | wc -l)" -eq 0 ]
    export KILN_ROOT="$BATS_TEST_TMPDIR/other"
    kiln load -i "$BATS_TEST_TMPDIR/m.tar"
    [ "$(store_tags | sort | tr '\n' ' ')" = "demo/app:1 demo/app:2 " ]
    run kiln save -o "$BATS_TEST_TMPDIR/n.tar" nope:1
    [ "$status" -eq 1 ]
    [ ! -e "$BATS_TEST_TMPDIR/n.tar" ]
}
