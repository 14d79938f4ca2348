#!/usr/bin/env bats
# kiln pull / push against Debian's docker-registry over plain HTTP on
# 127.0.0.1, checked with skopeo; a tampering proxy for verification failures.
load helpers
load ../registry/common

setup_file() {
    registry_suite_start
    python3 "$MAKE_LAYOUT" "$BATS_FILE_TMPDIR/layout" v1 --layers 3 --size 200000 >/dev/null
    python3 "$MAKE_LAYOUT" "$BATS_FILE_TMPDIR/layout" multi --platforms linux/arm64,linux/amd64 >/dev/null
    skopeo copy -q --dest-tls-verify=false "oci:$BATS_FILE_TMPDIR/layout:v1" "docker://$REG/img:v1"
    skopeo copy -q --all --dest-tls-verify=false "oci:$BATS_FILE_TMPDIR/layout:multi" "docker://$REG/multi:1"
}

teardown_file() {
    registry_stop
}

setup() {
    registry_test_setup
}

teardown() {
    # Proxies started by a test are listed after the registry: stop only those.
    if [ -n "${PROXY_PID:-}" ]; then kill "$PROXY_PID" 2>/dev/null || true; fi
}

start_proxy() {
    rm -f "$BATS_TEST_TMPDIR/proxy.port"
    python3 "$BATS_TEST_DIRNAME/../registry/tamper_proxy.py" "$BATS_TEST_TMPDIR/proxy.port" \
        "${REG##*:}" "$1" "$BATS_TEST_TMPDIR/proxy.log" 2>"$BATS_TEST_TMPDIR/proxy.err" &
    PROXY_PID=$!
    _wait_file "$BATS_TEST_TMPDIR/proxy.port"
    PROXY="127.0.0.1:$(cat "$BATS_TEST_TMPDIR/proxy.port")"
}

@test "pull: an image pushed by skopeo arrives with the same digest and is verified" {
    want=$(skopeo_digest "docker://$REG/img:v1")
    run kiln pull "$REG/img:v1"
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "$want" ]
    [[ "$output" == *"Pull complete"* ]]
    # The store is an OCI layout skopeo can read, with the same manifest.
    got=$(skopeo inspect "oci:$KILN_ROOT:$REG/img:v1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
    [ "$got" = "$want" ]
    store_consistent
    # Pulling again fetches nothing.
    run kiln pull "$REG/img:v1"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Already exists"* ]]
    [[ "$output" != *"Pull complete"* ]]
}

@test "pull by digest keeps the digest; a wrong digest is refused" {
    want=$(skopeo_digest "docker://$REG/img:v1")
    run kiln pull -q "$REG/img@$want"
    [ "$status" -eq 0 ]
    [ "$output" = "$want" ]
    run kiln pull -q "$REG/img@sha256:0000000000000000000000000000000000000000000000000000000000000000"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
}

@test "push: kiln pushes a pulled image; skopeo reads it; digests equal both ways" {
    want=$(skopeo_digest "docker://$REG/img:v1")
    kiln pull -q "$REG/img:v1"
    run kiln push "$REG/img:v1" "$REG/copy/by-kiln:v2"
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "$want" ]
    [ "$(skopeo_digest "docker://$REG/copy/by-kiln:v2")" = "$want" ]
    skopeo copy -q --src-tls-verify=false "docker://$REG/copy/by-kiln:v2" "oci:$BATS_TEST_TMPDIR/out:x"
}

@test "push: uncompressed local layers go out as gzip, compressed once" {
    python3 "$MAKE_LAYOUT" "$KILN_ROOT" localhost/plain:v1 --plain --size 300000 >/dev/null
    run kiln push --digestfile "$BATS_TEST_TMPDIR/d" localhost/plain:v1 "$REG/plain:v1"
    [ "$status" -eq 0 ]
    digest=${lines[-1]}
    [ "$(cat "$BATS_TEST_TMPDIR/d")" = "$digest" ]
    [ "$(skopeo_digest "docker://$REG/plain:v1")" = "$digest" ]
    raw=$(skopeo inspect --raw --tls-verify=false "docker://$REG/plain:v1")
    [[ "$raw" == *"layer.v1.tar+gzip"* ]]
    [ "$(grep -c . "$KILN_ROOT/registry/compressed")" -eq 2 ]
    # skopeo can unpack what kiln pushed.
    skopeo copy -q --src-tls-verify=false "docker://$REG/plain:v1" "oci:$BATS_TEST_TMPDIR/out:x"
    umoci unpack --rootless --image "$BATS_TEST_TMPDIR/out:x" "$BATS_TEST_TMPDIR/bundle" >/dev/null
    [ -f "$BATS_TEST_TMPDIR/bundle/rootfs/etc/platform" ]
    # A second push to another repository mounts the blobs and compresses nothing.
    run kiln push localhost/plain:v1 "$REG/plain-again:v1"
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "$digest" ]
    [[ "$output" == *"Mounted"* ]]
    [ "$(grep -c . "$KILN_ROOT/registry/compressed")" -eq 2 ]
    # And once more to the same repository: everything already there.
    run kiln push localhost/plain:v1 "$REG/plain:v1"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Already exists"* ]]
    store_consistent
}

@test "push: a blob larger than the chunk size goes up in chunks" {
    python3 "$MAKE_LAYOUT" "$KILN_ROOT" localhost/big:v1 --layers 1 --size 40000000 >/dev/null
    start_proxy pass
    run kiln push -q localhost/big:v1 "$PROXY/big:v1"
    [ "$status" -eq 0 ]
    [ "$(skopeo_digest "docker://$REG/big:v1")" = "${lines[-1]}" ]
    # 32 MiB chunks: two PATCHes with their ranges, then the closing PUT
    grep -q '^PATCH /v2/big/blobs/uploads/.* crange=0-33554431$' "$BATS_TEST_TMPDIR/proxy.log"
    grep -q '^PATCH /v2/big/blobs/uploads/.* crange=33554432-' "$BATS_TEST_TMPDIR/proxy.log"
    grep -q '^PUT /v2/big/blobs/uploads/.*digest=sha256' "$BATS_TEST_TMPDIR/proxy.log"
    rm -rf "$KILN_ROOT"
    run kiln pull -q "$PROXY/big:v1"
    [ "$status" -eq 0 ]
    [ "$output" = "$(skopeo_digest "docker://$REG/big:v1")" ]
}

@test "multi-platform index: the host's platform by default, --platform picks another" {
    raw=$(skopeo inspect --raw --tls-verify=false "docker://$REG/multi:1")
    amd64=$(echo "$raw" | python3 -c 'import json,sys; print([m["digest"] for m in json.load(sys.stdin)["manifests"] if m["platform"]["architecture"]=="amd64"][0])')
    arm64=$(echo "$raw" | python3 -c 'import json,sys; print([m["digest"] for m in json.load(sys.stdin)["manifests"] if m["platform"]["architecture"]=="arm64"][0])')
    [ "$(uname -m)" = x86_64 ] || skip "host platform test assumes amd64"
    run kiln pull -q "$REG/multi:1"
    [ "$status" -eq 0 ]
    [ "$output" = "$amd64" ]
    run kiln pull -q --platform linux/arm64 "$REG/multi:1"
    [ "$status" -eq 0 ]
    [ "$output" = "$arm64" ]
    run kiln pull -q --platform linux/s390x "$REG/multi:1"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"linux/s390x"*"linux/amd64"* ]]
}

@test "tamper: a flipped blob byte is refused, named, and nothing is kept" {
    start_proxy flip-blob
    before=$(blob_count)
    run kiln pull -q "$PROXY/img:v1"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"blob sha256:"*"failed verification"* ]]
    [ "$(blob_count)" -eq "$before" ]
    ! grep -q img "$KILN_ROOT/index.json"
    store_consistent
}

@test "tamper: a manifest that does not match its digest is refused" {
    start_proxy lie-manifest
    run kiln pull -q "$PROXY/img:v1"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"manifest sha256:"*"failed verification"* ]]
    [ "$(blob_count)" -eq 0 ]
    store_consistent
}

@test "tamper: a Content-Type that contradicts the manifest's mediaType is refused" {
    start_proxy manifest-type
    run kiln pull -q "$PROXY/img:v1"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"refusing it"* ]]
    [ "$(blob_count)" -eq 0 ]
}

@test "a dropped connection mid-blob is retried and resumed" {
    start_proxy drop-once
    run kiln pull "$PROXY/img:v1"
    [ "$status" -eq 0 ]
    [[ "$output" == *"retrying"* ]]
    grep -q 'range=bytes=' "$BATS_TEST_TMPDIR/proxy.log"
    store_consistent
}

@test "unknown repository, unknown tag, registry down: one line each, non-zero" {
    run kiln pull -q "$REG/does-not-exist:v1"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"does-not-exist"*"not found"* ]]
    run kiln pull -q "$REG/img:nope"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    port=$(_free_port)
    run kiln pull -q "127.0.0.1:$port/img:v1"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"cannot connect"* ]]
    run kiln push -q "$REG/img:v1" "127.0.0.1:$port/x:1"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
}

@test "mirrors: KILN_REGISTRY_MIRRORS is tried first, a dead mirror is skipped" {
    start_proxy pass
    dead=$(_free_port)
    KILN_REGISTRY_MIRRORS="$REG=127.0.0.1:$dead,$REG=$PROXY" run kiln pull "$REG/img:v1"
    [ "$status" -eq 0 ]
    [[ "$output" == *"mirror 127.0.0.1:$dead"* ]]
    grep -q "GET /v2/img/manifests/v1" "$BATS_TEST_TMPDIR/proxy.log"
}

@test "gzip forms made by push live as long as their layers: prune and fsck know them" {
    python3 "$MAKE_LAYOUT" "$KILN_ROOT" localhost/gc:v1 --plain --layers 2 --size 50000 --seed gc >/dev/null
    kiln push -q localhost/gc:v1 "$REG/gc:v1" >/dev/null
    [ "$(grep -c . "$KILN_ROOT/registry/compressed")" -eq 2 ]
    gz=$(cut -d' ' -f2 "$KILN_ROOT/registry/compressed")
    before=$(blob_count)
    # While the plain layers are tagged, their gzip forms are not garbage.
    run kiln fsck
    [ "$status" -eq 0 ]
    [[ "$output" != *"unreachable"* ]]
    run kiln prune
    [ "$status" -eq 0 ]
    [ "$(blob_count)" -eq "$before" ]
    for h in $gz; do [ -f "$KILN_ROOT/blobs/sha256/$h" ]; done
    # A re-push still finds them (nothing compressed again).
    run kiln push localhost/gc:v1 "$REG/gc:v2"
    [ "$status" -eq 0 ]
    [ "$(grep -c . "$KILN_ROOT/registry/compressed")" -eq 2 ]
    # rmi of another image keeps them.
    python3 "$MAKE_LAYOUT" "$KILN_ROOT" localhost/other:v1 --plain --layers 1 --seed other >/dev/null
    kiln rmi localhost/other:v1 >/dev/null
    for h in $gz; do [ -f "$KILN_ROOT/blobs/sha256/$h" ]; done
    # Once the layers go (rmi prunes), the gzip forms and their records go too.
    kiln rmi localhost/gc:v1 >/dev/null
    run kiln prune
    [ "$status" -eq 0 ]
    for h in $gz; do [ ! -e "$KILN_ROOT/blobs/sha256/$h" ]; done
    [ "$(blob_count)" -eq 0 ]
    [ "$(grep -c . "$KILN_ROOT/registry/compressed" || true)" -eq 0 ]
    store_consistent
}
