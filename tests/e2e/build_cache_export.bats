#!/usr/bin/env bats
# kiln build --cache-to / --cache-from: a cache record made by one store is
# hit by another (empty) store from another checkout path with other mtimes:
# through docker-registry on 127.0.0.1, an OCI layout directory, and the
# pushed image itself (type=inline); mode=min vs max; a tampered layer is
# refused and its step runs; a secret never reaches a blob.
load build_helpers
load ../registry/common
load dataenv_images

setup_file() {
    registry_suite_start
}

teardown_file() {
    registry_stop
}

setup() {
    registry_test_setup
    STORE_A="$BATS_TEST_TMPDIR/a"
    STORE_B="$BATS_TEST_TMPDIR/b"
    ctx="$BATS_TEST_TMPDIR/checkout-a/ctx"
    mkdir -p "$ctx"
    # builder is not in the result's layers (COPY --from only): mode=min leaves it out
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test AS builder
ARG GREETING
RUN echo "builder $GREETING" > /b.txt
RUN echo two >> /b.txt
FROM busybox:test
WORKDIR /srv
COPY app.txt /srv/app.txt
RUN cat /srv/app.txt > /seen
COPY --from=builder /b.txt /b.txt
RUN echo final >> /seen
DF
    echo one >"$ctx/app.txt"
    KILN_ROOT=$STORE_A import_busybox
    KILN_ROOT=$STORE_B import_busybox
}

# build STORE CONTEXT ARGS...: plain progress in $output
build_in() {
    local store=$1 dir=$2
    shift 2
    run env KILN_ROOT="$store" "$KILN" build --progress=plain --build-arg GREETING=hi -t app:1 "$@" "$dir"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
}

# A copy of the context elsewhere, every file with another mtime.
other_checkout() {
    local d="$BATS_TEST_TMPDIR/checkout-b/ctx"
    mkdir -p "$(dirname "$d")"
    cp -r "$ctx" "$d"
    find "$d" -exec touch -d '2001-02-03 04:05:06' {} +
    echo "$d"
}

seen_in() {
    KILN_ROOT=$1 "$KILN" export app:1 -o - | tar -xO seen
}

@test "registry, mode=max: an empty store elsewhere runs no step and gets the same image; an app edit runs only the steps after its COPY" {
    build_in "$STORE_A" "$ctx" --cache-to "type=registry,ref=$REG/cache:app,mode=max"
    [[ "$output" == *"=> cache exported to $REG/cache:app"* ]]
    want=$(tag_digest "$STORE_A" app:1)
    ctx2=$(other_checkout)
    build_in "$STORE_B" "$ctx2" --cache-from "type=registry,ref=$REG/cache:app" \
        --cache-to "type=registry,ref=$REG/cache:again,mode=max"
    [ "$(count_done "$output")" -eq 0 ] || { echo "$output"; false; }
    [ "$(tag_digest "$STORE_B" app:1)" = "$want" ]
    [ "$(seen_in "$STORE_B")" = "$(printf 'one\nfinal')" ]
    KILN_ROOT=$STORE_B "$KILN" fsck
    # what B exported again (its hits, builder's layers too) serves a third store
    store_c="$BATS_TEST_TMPDIR/c"
    KILN_ROOT=$store_c import_busybox
    build_in "$store_c" "$ctx2" --cache-from "type=registry,ref=$REG/cache:again"
    [ "$(count_done "$output")" -eq 0 ] || { echo "$output"; false; }
    [ "$(tag_digest "$store_c" app:1)" = "$want" ]
    # one app file edited: COPY app.txt and what follows it run, builder's steps hit
    echo changed >"$ctx2/app.txt"
    rm -rf "$STORE_B"
    KILN_ROOT=$STORE_B import_busybox
    build_in "$STORE_B" "$ctx2" --cache-from "type=registry,ref=$REG/cache:app"
    [ "$(count_done "$output")" -eq 4 ] || { echo "$output"; false; }
    [ "$(count_cached "$output")" -eq 2 ] || { echo "$output"; false; }
    [ "$(seen_in "$STORE_B")" = "$(printf 'changed\nfinal')" ]
}

@test "mode=min exports the result's steps only: builder's steps run again" {
    build_in "$STORE_A" "$ctx" --cache-to "type=registry,ref=$REG/cache:min,mode=min"
    ctx2=$(other_checkout)
    build_in "$STORE_B" "$ctx2" --cache-from "type=registry,ref=$REG/cache:min"
    # unchanged: the result's steps hit; builder's are needed by COPY --from's key only
    [ "$(seen_in "$STORE_B")" = "$(printf 'one\nfinal')" ]
    echo changed >"$ctx2/app.txt"
    rm -rf "$STORE_B"
    KILN_ROOT=$STORE_B import_busybox
    build_in "$STORE_B" "$ctx2" --cache-from "type=registry,ref=$REG/cache:min"
    [ "$(count_done "$output")" -eq 6 ] || { echo "$output"; false; }
}

@test "type=local: an OCI layout directory carries the cache" {
    dir="$BATS_TEST_TMPDIR/ci-cache"
    build_in "$STORE_A" "$ctx" --cache-to "type=local,dest=$dir,mode=max"
    want=$(tag_digest "$STORE_A" app:1)
    [ -f "$dir/oci-layout" ]
    [ "$(jq -r '.manifests[0].artifactType' "$dir/index.json")" = application/vnd.kiln.build-cache.v1+json ]
    ctx2=$(other_checkout)
    build_in "$STORE_B" "$ctx2" --cache-from "type=local,src=$dir"
    [ "$(count_done "$output")" -eq 0 ] || { echo "$output"; false; }
    [ "$(tag_digest "$STORE_B" app:1)" = "$want" ]
    # a record whose entries name a media type that is not a layer's: refused
    python3 - "$dir" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
def put(obj):
    b = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    h = hashlib.sha256(b).hexdigest()
    open(os.path.join(d, "blobs/sha256", h), "wb").write(b)
    return "sha256:" + h, len(b)
idx = json.load(open(os.path.join(d, "index.json")))
m = json.load(open(os.path.join(d, "blobs/sha256", idx["manifests"][0]["digest"][7:])))
cfg = json.load(open(os.path.join(d, "blobs/sha256", m["config"]["digest"][7:])))
for s in cfg["steps"]:
    if s["layer"]:
        s["layer"]["mediaType"] = "text/html"
m["config"]["digest"], m["config"]["size"] = put(cfg)
idx["manifests"][0]["digest"], idx["manifests"][0]["size"] = put(m)
json.dump(idx, open(os.path.join(d, "index.json"), "w"))
PY
    rm -rf "$STORE_B"
    KILN_ROOT=$STORE_B import_busybox
    build_in "$STORE_B" "$ctx2" --cache-from "type=local,src=$dir"
    [[ "$output" == *"has media type text/html, not a layer's: refused"* ]] || { echo "$output"; false; }
    [ "$(count_done "$output")" -eq 6 ] || { echo "$output"; false; }
    [ "$(tag_digest "$STORE_B" app:1)" = "$want" ]
}

@test "type=inline: the pushed image is the cache; a store image too" {
    run env KILN_ROOT="$STORE_A" "$KILN" build --progress=plain --build-arg GREETING=hi -t app:1 \
        --cache-to type=inline "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    KILN_ROOT=$STORE_A "$KILN" push -q app:1 "$REG/app:inline" >/dev/null
    ctx2=$(other_checkout)
    build_in "$STORE_B" "$ctx2" --cache-from "$REG/app:inline"
    # inline is mode=min: only builder's two steps (not in the image) run
    [ "$(count_done "$output")" -eq 2 ] || { echo "$output"; false; }
    [ "$(seen_in "$STORE_B")" = "$(printf 'one\nfinal')" ]
    # an image in the store: A's own, with its cache emptied
    KILN_ROOT=$STORE_A "$KILN" prune --cache >/dev/null
    build_in "$STORE_A" "$ctx" --cache-from app:1
    [ "$(count_done "$output")" -eq 2 ] || { echo "$output"; false; }
    [ "$(seen_in "$STORE_A")" = "$(printf 'one\nfinal')" ]
}

@test "unreachable cache, missing tag, an image without a cache: a warning and a cold build" {
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    build_in "$STORE_B" "$ctx" --cache-from "type=registry,ref=127.0.0.1:$port/none:x" \
        --cache-from "type=registry,ref=$REG/cache:missing" --cache-from "type=local,src=$BATS_TEST_TMPDIR/nodir"
    [[ "$output" == *"warning: cache 127.0.0.1:$port/none:x"* ]]
    [[ "$output" == *"warning: cache $REG/cache:missing"* ]]
    [[ "$output" == *"warning: cache $BATS_TEST_TMPDIR/nodir"* ]]
    [ "$(count_done "$output")" -eq 6 ]
    run env KILN_ROOT="$STORE_B" "$KILN" build --cache-to type=bogus "$ctx"
    [ "$status" -eq 2 ]
    [[ "$output" == *"--cache-to type=bogus"* ]]
}

@test "a tampered cache layer is refused, its step runs, the image is right" {
    build_in "$STORE_A" "$ctx" --cache-to "type=registry,ref=$REG/cache:tamper,mode=max"
    want=$(tag_digest "$STORE_A" app:1)
    # the layer of the last RUN (in the result): other bytes in the registry's storage
    m=$(tag_digest "$STORE_A" app:1)
    layer=$(jq -r '.layers[-1].digest' "$STORE_A/blobs/sha256/${m#sha256:}")
    hex=${layer#sha256:}
    data="$REG_DIR/data/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
    [ -f "$data" ]
    python3 - "$data" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xFF
open(p, "wb").write(b)
PY
    ctx2=$(other_checkout)
    build_in "$STORE_B" "$ctx2" --cache-from "type=registry,ref=$REG/cache:tamper"
    [[ "$output" == *"cache layer $layer refused"* ]] || { echo "$output"; false; }
    [ "$(count_done "$output")" -eq 1 ] || { echo "$output"; false; }
    [ "$(tag_digest "$STORE_B" app:1)" = "$want" ]
    KILN_ROOT=$STORE_B "$KILN" fsck
}

@test "a secret's content appears in no blob of the exported cache" {
    tok="kiln-cache-secret-$RANDOM$RANDOM"
    echo -n "$tok" >"$BATS_TEST_TMPDIR/tok"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test
ARG PASSWORD
RUN --mount=type=secret,id=tok test -s /run/secrets/tok && echo used > /used
RUN echo "$PASSWORD" | sha256sum > /pw
DF
    dir="$BATS_TEST_TMPDIR/ci-cache"
    build_in "$STORE_A" "$ctx" --secret "id=tok,src=$BATS_TEST_TMPDIR/tok" --build-arg PASSWORD=hunter2-arg-value \
        --cache-to "type=local,dest=$dir,mode=max" --cache-to "type=registry,ref=$REG/cache:secret,mode=max"
    [ "$(ls "$dir/blobs/sha256" | wc -l)" -ge 3 ]
    ! grep -rqa "$tok" "$dir" "$REG_DIR/data"
    ! grep -rqa "hunter2-arg-value" "$dir" "$REG_DIR/data"
}

@test "dataenv production through a registry cache: another checkout, an empty store, other mtimes: no step runs, same image; an app edit runs only what follows its COPY" {
    dataenv_image prod # the shared store: the base image and production's steps
    local root shared build copy
    root=$(_dataenv_images_root)
    shared="${KILN_TEST_IMAGES:-${KILN_TEST_BUILD:-$root/build}/test-images}"
    build="${KILN_TEST_BUILD:-$root/build}"
    # store A (the shared one: its steps hit) exports every step
    (
        flock 9
        KILN_ROOT="$shared/store" KILN="$KILN" BUILD="$build" "$root/scripts/build-ml-container.sh" \
            --target production --cache-to "type=registry,ref=$REG/dataenv:cache,mode=max"
    ) 9>"$shared/lock" >"$BATS_TEST_TMPDIR/a.log" 2>&1 || { cat "$BATS_TEST_TMPDIR/a.log"; false; }
    grep -q "=> cache exported to $REG/dataenv:cache" "$BATS_TEST_TMPDIR/a.log"
    want=$(sed -n 's/^  digest *//p' "$BATS_TEST_TMPDIR/a.log")
    [[ "$want" == sha256:* ]]
    # another checkout (same commit, same working files), every mtime another
    copy="$BATS_TEST_TMPDIR/elsewhere/kiln"
    git clone -q --shared "$root" "$copy"
    git -C "$copy" checkout -q "$(git -C "$root" rev-parse HEAD)"
    git -C "$root" ls-files -z dataenv tools scripts | tar -C "$root" --null -T - -cf - | tar -C "$copy" -xf -
    find "$copy/dataenv" "$copy/tools" -exec touch -d '2001-02-03 04:05:06' {} +
    # store B: empty but for the base image
    KILN_ROOT="$shared/store" "$KILN" save -o - localhost/debian:bookworm-slim | KILN_ROOT=$STORE_B "$KILN" load -i - >/dev/null
    run env KILN_ROOT="$STORE_B" KILN="$KILN" BUILD="$build" "$copy/scripts/build-ml-container.sh" \
        --target production --cache-from "type=registry,ref=$REG/dataenv:cache"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ "$output" == *": 0 steps run"* ]] || { echo "$output"; false; }
    [ "$(sed -n 's/^  digest *//p' <<<"$output")" = "$want" ]
    # one app file edited: its COPY and the RUN after it (the bytecode) run
    echo "# edited elsewhere" >>"$copy/dataenv/app/main.py"
    run env KILN_ROOT="$STORE_B" KILN="$KILN" BUILD="$build" "$copy/scripts/build-ml-container.sh" \
        --target production --cache-from "type=registry,ref=$REG/dataenv:cache"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ "$output" == *": 2 steps run"* ]] || { echo "$output"; false; }
}
