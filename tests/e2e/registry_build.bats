#!/usr/bin/env bats
# kiln build with base images in a registry: FROM and COPY --from pull what
# the store lacks, --pull=never|missing|always, and build --push, checked
# with skopeo against Debian's docker-registry on 127.0.0.1.
load build_helpers
load ../registry/common

# Pushes a busybox rootfs with /etc/version containing $2 as $REG/$1.
push_base() {
    local store="$BATS_FILE_TMPDIR/base-store" root="$BATS_FILE_TMPDIR/bb-$2"
    [ -d "$root" ] || {
        make_busybox_rootfs "$root"
        echo "$2" >"$root/etc/version"
    }
    KILN_ROOT=$store SOURCE_DATE_EPOCH=1700000000 "$KILN" import "$root" -t "base-$2:local" >/dev/null
    KILN_ROOT=$store "$KILN" push -q "base-$2:local" "$REG/$1" >/dev/null
}

setup_file() {
    export REG_TMP="$BATS_FILE_TMPDIR"
    registry_start plain
    export REG REG_DIR
    push_base base:1 one
    push_base tools:1 tools
}

teardown_file() {
    registry_stop
}

setup() {
    setup_store
    export HOME="$BATS_TEST_TMPDIR/home"
    mkdir -p "$HOME"
    ctx="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$ctx"
}

# A file of an image in the store, through kiln export.
image_file() {
    kiln export "$1" -o - | tar -xO "$2"
}

@test "FROM a registry image builds with an empty store; build --push is readable by skopeo" {
    echo payload >"$ctx/payload.txt"
    printf 'FROM %s/base:1\nRUN cat /etc/version > /seen && echo built >> /seen\nCOPY payload.txt /payload.txt\n' \
        "$REG" >"$ctx/Dockerfile"
    [ ! -e "$KILN_ROOT/index.json" ] || [ "$(jq '.manifests | length' "$KILN_ROOT/index.json")" -eq 0 ]
    run kiln build --progress=plain --push -t "$REG/app:1" -t "$REG/app:latest" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ "$output" == *"=> pulling $REG/base:1"* ]]
    [[ "$output" == *"=> pushed $REG/app:1 sha256:"* ]]
    # The base was pulled into the store under its name.
    [ -n "$(tag_digest "$KILN_ROOT" "$REG/base:1")" ]
    [ "$(image_file "$REG/app:1" seen)" = "$(printf 'one\nbuilt')" ]
    # skopeo reads the digest --push printed, under both tags (the layers went
    # out gzip-compressed, so it is not the local manifest's digest).
    pushed=$(sed -n "s|^=> pushed $REG/app:1 ||p" <<<"$output")
    [[ "$pushed" == sha256:* ]]
    [ "$(skopeo_digest "docker://$REG/app:1")" = "$pushed" ]
    [ "$(skopeo_digest "docker://$REG/app:latest")" = "$pushed" ]
    [[ "$output" == *"=> pushed $REG/app:latest $pushed"* ]]
    skopeo copy -q --src-tls-verify=false "docker://$REG/app:1" "oci:$BATS_TEST_TMPDIR/out:x"
    umoci unpack --rootless --image "$BATS_TEST_TMPDIR/out:x" "$BATS_TEST_TMPDIR/bundle" >/dev/null
    [ "$(cat "$BATS_TEST_TMPDIR/bundle/rootfs/payload.txt")" = payload ]
    [ "$(cat "$BATS_TEST_TMPDIR/bundle/rootfs/etc/version")" = one ]
    [ -x "$BATS_TEST_TMPDIR/bundle/rootfs/bin/busybox" ]
    store_consistent
    # A second build with the base in the store contacts no registry.
    registry_down_ctx="$BATS_TEST_TMPDIR/ctx2"
    mkdir -p "$registry_down_ctx"
    printf 'FROM 127.0.0.1:1/base:1\n' >"$registry_down_ctx/Dockerfile"
    run kiln build -q --pull=missing "$registry_down_ctx"
    [ "$status" -ne 0 ]
    [[ "$output" == *"127.0.0.1:1"* ]]
    run kiln build --progress=plain -t again:1 "$ctx"
    [ "$status" -eq 0 ]
    [[ "$output" != *"pulling"* ]]
}

@test "build --pull=never with an empty store fails clearly and fetches nothing" {
    printf 'FROM %s/base:1\nRUN true\n' "$REG" >"$ctx/Dockerfile"
    run kiln build -q --pull=never -t never:1 "$ctx"
    [ "$status" -ne 0 ]
    [[ "$output" == *"$REG/base:1"*"not in the store"*"--pull=never"* ]]
    [ "$(blob_count)" -eq 0 ]
}

@test "build --pull=always re-checks the registry (once per build); missing keeps the stored base" {
    push_base moving:1 one
    printf 'FROM %s/moving:1\nCOPY --from=%s/moving:1 /etc/version /copied\nRUN cat /etc/version > /seen\n' \
        "$REG" "$REG" >"$ctx/Dockerfile"
    run kiln build --progress=plain -t m:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(grep -c '=> pulling' <<<"$output")" -eq 1 ]
    [ "$(image_file m:1 seen)" = one ]
    # The tag moves in the registry.
    push_base moving:1 two
    run kiln build --progress=plain -t m:2 "$ctx"
    [ "$status" -eq 0 ]
    [[ "$output" != *"pulling"* ]]
    [ "$(image_file m:2 seen)" = one ]
    run kiln build --progress=plain --pull=always -t m:3 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    # FROM and COPY --from name the same image: pulled once.
    [ "$(grep -c '=> pulling' <<<"$output")" -eq 1 ]
    [ "$(image_file m:3 seen)" = two ]
    [ "$(image_file m:3 copied)" = two ]
    [ "$(tag_digest "$KILN_ROOT" "$REG/moving:1")" = "$(skopeo_digest "docker://$REG/moving:1")" ]
    # --pull=always with the registry down fails, even though the store has the image.
    printf 'FROM 127.0.0.1:1/nothing:1\n' >"$ctx/Dockerfile"
    run kiln build -q --pull=always "$ctx"
    [ "$status" -ne 0 ]
    store_consistent
}

@test "COPY --from a registry image pulls it into an empty store" {
    printf 'FROM scratch\nCOPY --from=%s/tools:1 /etc/version /tools-version\n' "$REG" >"$ctx/Dockerfile"
    run kiln build --progress=plain -t c:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ "$output" == *"=> pulling $REG/tools:1"* ]]
    [ "$(image_file c:1 tools-version)" = tools ]
    [ -n "$(tag_digest "$KILN_ROOT" "$REG/tools:1")" ]
    store_consistent
}

@test "build --push: needs a name; an unreachable registry fails after the build" {
    printf 'FROM scratch\nCOPY Dockerfile /\n' >"$ctx/Dockerfile"
    run kiln build --push "$ctx"
    [ "$status" -eq 2 ]
    [[ "$output" == *"--push needs"*"-t"* ]]
    run kiln build -q --push -t 127.0.0.1:1/x:1 "$ctx"
    [ "$status" -eq 1 ]
    [[ "$output" == *"--push"*"127.0.0.1:1"* ]]
    # The image is built and tagged locally all the same.
    [ -n "$(tag_digest "$KILN_ROOT" 127.0.0.1:1/x:1)" ]
}
