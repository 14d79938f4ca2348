#!/usr/bin/env bats
# Same output as buildah: for each e2e Dockerfile, the root file system kiln
# builds equals the one `buildah build --layers` builds from the same base
# (paths, types, bytes, modes, owners, link targets; mtimes aside).
load build_helpers

setup_file() {
    command -v buildah >/dev/null || skip "buildah is not installed"
}

setup() {
    setup_store
    import_busybox
    B_ROOT="$BATS_TEST_TMPDIR/buildah"
    export BUILDAH_RUNTIME=${BUILDAH_RUNTIME:-$(if [ -d /sys/fs/cgroup/unified ] && command -v runc >/dev/null; then echo runc; else echo crun; fi)}
    skopeo copy -q "oci:$KILN_ROOT:busybox:test" \
        "containers-storage:[vfs@$B_ROOT/root+$B_ROOT/run]localhost/busybox:test"
}

teardown() {
    bh rm -a >/dev/null 2>&1 || true
    bh rmi -a -f >/dev/null 2>&1 || true
}

bh() {
    buildah --root "$B_ROOT/root" --runroot "$B_ROOT/run" --storage-driver vfs "$@"
}

# buildah 1.28 leaves the mount points of /etc/hosts, /etc/hostname,
# /etc/resolv.conf and /run in the image (BuildKit and kiln do not).
SKIP=(--skip etc/hosts --skip etc/hostname --skip etc/resolv.conf --skip run)

same_as_buildah() {
    local name=$1
    local ctx
    ctx=$(fixture "$name")
    sed -i 's/^FROM busybox:test/FROM localhost\/busybox:test/' "$ctx/Dockerfile"
    run bh build --layers --pull=never -q -t "localhost/$name:b" "$ctx"
    [ "$status" -eq 0 ] || { echo "buildah: $output"; false; }
    local c m
    c=$(bh from "localhost/$name:b")
    m=$(bh mount "$c")
    python3 "$FIXTURES/tree.py" "${SKIP[@]}" "$m" >"$BATS_TEST_TMPDIR/buildah.txt"
    sed -i 's/^FROM localhost\/busybox:test/FROM busybox:test/' "$ctx/Dockerfile"
    run kiln build -q --output "type=local,dest=$BATS_TEST_TMPDIR/kiln" "$ctx"
    [ "$status" -eq 0 ] || { echo "kiln: $output"; false; }
    python3 "$FIXTURES/tree.py" "${SKIP[@]}" "$BATS_TEST_TMPDIR/kiln" >"$BATS_TEST_TMPDIR/kiln.txt"
    diff -u "$BATS_TEST_TMPDIR/buildah.txt" "$BATS_TEST_TMPDIR/kiln.txt"
}

@test "same as buildah: basic" {
    same_as_buildah basic
}

@test "same as buildah: multistage" {
    same_as_buildah multistage
}

@test "same as buildah: whiteout" {
    same_as_buildah whiteout
}

# heredoc/ is left out: buildah 1.28 has no heredoc support (build.bats checks it).
