#!/usr/bin/env bats
# kiln import and export: deterministic one-layer images from directories and
# archives, checked against skopeo and umoci.
load helpers
load layer_helpers

setup() {
    setup_store
}

@test "import: a busybox rootfs reads back exactly through skopeo and umoci" {
    make_busybox_rootfs "$BATS_TEST_TMPDIR/src"
    run kiln import "$BATS_TEST_TMPDIR/src" -t acceptance/busybox:1 --change 'CMD ["/bin/sh"]'
    [ "$status" -eq 0 ]
    [[ "$output" == sha256:* ]]
    run skopeo inspect "oci:$KILN_ROOT:acceptance/busybox:1"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r .Architecture)" = amd64 ]
    cd "$BATS_TEST_TMPDIR"
    umoci unpack --image "$KILN_ROOT:acceptance/busybox:1" bundle
    python3 "$BATS_TEST_DIRNAME/tree_compare.py" "$BATS_TEST_TMPDIR/src" >want.txt
    python3 "$BATS_TEST_DIRNAME/tree_compare.py" bundle/rootfs >got.txt
    diff -u want.txt got.txt
    grep -q 'security.capability=' got.txt
    grep -q 'hardlink=' got.txt
    [ "$(jq -c .process.args bundle/config.json)" = '["/bin/sh"]' ]
    store_is_clean
}

@test "import: same directory, other mtimes, same SOURCE_DATE_EPOCH -> same manifest digest" {
    make_busybox_rootfs "$BATS_TEST_TMPDIR/src"
    export KILN_ROOT="$BATS_TEST_TMPDIR/a"
    kiln import "$BATS_TEST_TMPDIR/src" -t x
    find "$BATS_TEST_TMPDIR/src" -exec touch -h -d @1800000000 {} +
    export KILN_ROOT="$BATS_TEST_TMPDIR/b"
    kiln import "$BATS_TEST_TMPDIR/src" -t x
    a=$(jq -r '.manifests[0].digest' "$BATS_TEST_TMPDIR/a/index.json")
    b=$(jq -r '.manifests[0].digest' "$BATS_TEST_TMPDIR/b/index.json")
    [ -n "$a" ] && [ "$a" = "$b" ]
    # A different epoch gives a different image.
    export KILN_ROOT="$BATS_TEST_TMPDIR/c" SOURCE_DATE_EPOCH=1600000000
    kiln import "$BATS_TEST_TMPDIR/src" -t x
    c=$(jq -r '.manifests[0].digest' "$BATS_TEST_TMPDIR/c/index.json")
    [ "$a" != "$c" ]
}

@test "import: tar, tar.gz, tar.zst and stdin give the directory's layer" {
    make_busybox_rootfs "$BATS_TEST_TMPDIR/src"
    kiln import "$BATS_TEST_TMPDIR/src" -t dir
    tar --xattrs --xattrs-include='*' -C "$BATS_TEST_TMPDIR/src" -cf "$BATS_TEST_TMPDIR/r.tar" .
    gzip -k "$BATS_TEST_TMPDIR/r.tar"
    zstd -q -k "$BATS_TEST_TMPDIR/r.tar"
    kiln import "$BATS_TEST_TMPDIR/r.tar" -t plain
    kiln import "$BATS_TEST_TMPDIR/r.tar.gz" -t gz
    kiln import "$BATS_TEST_TMPDIR/r.tar.zst" zst
    kiln import - -t stdin <"$BATS_TEST_TMPDIR/r.tar.gz"
    layer() { jq -r --arg t "$1:latest" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]==$t) | .digest' "$KILN_ROOT/index.json" | cut -d: -f2 | xargs -I{} jq -r '.layers[0].digest' "$KILN_ROOT/blobs/sha256/{}"; }
    want=$(layer dir)
    [ -n "$want" ]
    for t in plain gz zst stdin; do [ "$(layer $t)" = "$want" ]; done
    store_is_clean
}

@test "import: --change sets the config like docker import" {
    mkdir -p "$BATS_TEST_TMPDIR/src/app"
    run kiln import "$BATS_TEST_TMPDIR/src" -t ch -m "from a test" \
        -c 'ENTRYPOINT ["/app/run"]' -c 'CMD --serve' -c 'ENV A=1 B="two words"' \
        -c 'ENV C 3 4' -c 'WORKDIR /app' -c 'USER 1000:1000' -c 'EXPOSE 8080 53/udp' \
        -c 'LABEL org.example.k=v "x y"=z' -c 'VOLUME ["/data"]' -c 'STOPSIGNAL SIGINT'
    [ "$status" -eq 0 ]
    cfg="$KILN_ROOT/blobs/sha256/${output#sha256:}"
    [ "$(jq -c .config.Entrypoint "$cfg")" = '["/app/run"]' ]
    [ "$(jq -c .config.Cmd "$cfg")" = '["/bin/sh","-c","--serve"]' ]
    [ "$(jq -c .config.Env "$cfg")" = '["A=1","B=two words","C=3 4"]' ]
    [ "$(jq -r .config.WorkingDir "$cfg")" = /app ]
    [ "$(jq -r .config.User "$cfg")" = 1000:1000 ]
    [ "$(jq -c '.config.ExposedPorts|keys' "$cfg")" = '["53/udp","8080/tcp"]' ]
    [ "$(jq -r '.config.Labels["x y"]' "$cfg")" = z ]
    [ "$(jq -c '.config.Volumes|keys' "$cfg")" = '["/data"]' ]
    [ "$(jq -r .config.StopSignal "$cfg")" = SIGINT ]
    [ "$(jq -r '.history[0].comment' "$cfg")" = "from a test" ]
    [ "$(jq -r .created "$cfg")" = "2023-11-14T22:13:20Z" ]
    run kiln import "$BATS_TEST_TMPDIR/src" -t bad -c 'RUN echo hi'
    [ "$status" -eq 2 ]
    [[ "$output" == *"RUN is not a config instruction"* ]]
}

@test "import: two imports on one store at once both succeed and both are tagged" {
    make_busybox_rootfs "$BATS_TEST_TMPDIR/src"
    mkdir -p "$BATS_TEST_TMPDIR/src2" && cp -a "$BATS_TEST_TMPDIR/src/." "$BATS_TEST_TMPDIR/src2/"
    echo two >"$BATS_TEST_TMPDIR/src2/etc/two"
    kiln import "$BATS_TEST_TMPDIR/src" -t one & p1=$!
    kiln import "$BATS_TEST_TMPDIR/src2" -t two & p2=$!
    wait $p1
    wait $p2
    run store_tags
    [[ "$output" == *"one:latest"* ]]
    [[ "$output" == *"two:latest"* ]]
    store_is_clean
}

@test "export: the flattened file system of an image" {
    make_busybox_rootfs "$BATS_TEST_TMPDIR/src"
    kiln import "$BATS_TEST_TMPDIR/src" -t ex
    kiln export ex -o "$BATS_TEST_TMPDIR/out.tar"
    mkdir "$BATS_TEST_TMPDIR/x"
    tar --xattrs --xattrs-include='*' --numeric-owner -C "$BATS_TEST_TMPDIR/x" -xpf "$BATS_TEST_TMPDIR/out.tar"
    python3 "$BATS_TEST_DIRNAME/tree_compare.py" "$BATS_TEST_TMPDIR/src" >"$BATS_TEST_TMPDIR/want"
    python3 "$BATS_TEST_DIRNAME/tree_compare.py" "$BATS_TEST_TMPDIR/x" >"$BATS_TEST_TMPDIR/got"
    diff -u "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
    kiln export ex -o - | cmp - "$BATS_TEST_TMPDIR/out.tar"
    run kiln export nosuch -o "$BATS_TEST_TMPDIR/n.tar"
    [ "$status" -eq 1 ]
    [ ! -e "$BATS_TEST_TMPDIR/n.tar" ]
}

@test "import: device nodes in an archive need --allow-devices" {
    mkdir -p "$BATS_TEST_TMPDIR/d/dev"
    mknod "$BATS_TEST_TMPDIR/d/dev/null" c 1 3
    tar -C "$BATS_TEST_TMPDIR/d" -cf "$BATS_TEST_TMPDIR/dev.tar" .
    run kiln import "$BATS_TEST_TMPDIR/dev.tar" -t dev
    [ "$status" -eq 1 ]
    [[ "$output" == *"--allow-devices"*'"./dev/null": device node refused'* ]]
    kiln import --allow-devices "$BATS_TEST_TMPDIR/dev.tar" -t dev
    kiln export dev -o "$BATS_TEST_TMPDIR/out.tar"
    tar tvf "$BATS_TEST_TMPDIR/out.tar" | grep -q '^c.* 1,3 .*dev/null$'
}

@test "import: an empty directory gives a one-layer image with no entries" {
    mkdir "$BATS_TEST_TMPDIR/empty"
    run "$KILN" import "$BATS_TEST_TMPDIR/empty" empty:1
    [ "$status" -eq 0 ]
    run "$KILN" export empty:1 -o "$BATS_TEST_TMPDIR/out.tar"
    [ "$status" -eq 0 ]
    [ -z "$(tar -tf "$BATS_TEST_TMPDIR/out.tar")" ]
    run "$KILN" fsck
    [ "$status" -eq 0 ]
}
