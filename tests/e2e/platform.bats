#!/usr/bin/env bats
# Multi-platform builds: kiln build --platform linux/amd64,linux/arm64 gives an
# OCI index; arm64 RUN steps run under QEMU through binfmt_misc; a
# FROM --platform=$BUILDPLATFORM stage runs natively; the index goes through a
# registry (docker-registry on 127.0.0.1) and back; bad platforms are refused
# before anything runs.
load platform_helpers
load ../registry/common

setup_file() {
    registry_suite_start
}

teardown_file() {
    registry_stop
}

setup() {
    registry_test_setup
    build_base_index
}

@test "two platforms: one index, arm64 under emulation, the cross stage native" {
    ctx=$(app_context)
    run kiln build --progress=plain --platform linux/amd64,linux/arm64 -t app:multi "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ "$output" == *"[linux/arm64 stage-1 1/2] RUN uname -m > /arch"* ]]
    raw=$(skopeo inspect --raw "oci:$KILN_ROOT:app:multi")
    [ "$(jq -r .mediaType <<<"$raw")" = application/vnd.oci.image.index.v1+json ]
    [ "$(jq -r '[.manifests[].platform | .os + "/" + .architecture] | join(",")' <<<"$raw")" = linux/amd64,linux/arm64 ]
    r=$(unpack_platform app:multi amd64)
    [ "$(cat "$r/arch")" = x86_64 ]
    [ "$(cat "$r/out")" = "amd64 x86_64" ]
    readelf -h "$r/bin/busybox" | grep -q 'Machine:.*X86-64'
    r=$(unpack_platform app:multi arm64)
    [ "$(cat "$r/arch")" = aarch64 ]
    [ "$(cat "$r/out")" = "arm64 x86_64" ]
    readelf -h "$r/bin/busybox" | grep -q 'Machine:.*AArch64'
    # each image's config carries its platform
    [ "$(kiln inspect --platform linux/arm64 -f .architecture app:multi)" = arm64 ]
    [ "$(kiln inspect -f .platforms app:multi)" = '["linux/amd64","linux/arm64"]' ]
    # images: one row, with its platforms
    run kiln images app
    [ "${#lines[@]}" -eq 2 ]
    [[ "${lines[1]}" == *"linux/amd64,linux/arm64"* ]]
    [ "$(kiln images --format json app | jq -c '.[0].platforms')" = '["linux/amd64","linux/arm64"]' ]
    # run: the host's image by default, --platform the other
    [ "$(kiln run --rm app:multi uname -m)" = x86_64 ]
    [ "$(kiln run --rm --platform linux/arm64 app:multi uname -m)" = aarch64 ]
}

@test "unchanged rebuild runs nothing; clean builds give the same index digest" {
    ctx=$(app_context)
    kiln build -q --platform linux/amd64,linux/arm64 -t app:multi "$ctx" >/dev/null
    first=$(tag_digest "$KILN_ROOT" app:multi)
    run kiln build --progress=plain --platform linux/amd64,linux/arm64 -t app:multi "$ctx"
    [ "$status" -eq 0 ]
    [ "$(count_done "$output")" -eq 0 ]
    [ "$(count_cached "$output")" -eq 6 ]
    [ "$(tag_digest "$KILN_ROOT" app:multi)" = "$first" ]
    # a second store from nothing: byte-identical index
    export KILN_ROOT="$BATS_TEST_TMPDIR/store2"
    build_base_index
    kiln build -q --platform linux/amd64,linux/arm64 -t app:multi "$ctx" >/dev/null
    [ "$(tag_digest "$KILN_ROOT" app:multi)" = "$first" ]
    # one platform: that platform's image, not an index
    kiln build -q --platform linux/arm64 -t app:arm "$ctx" >/dev/null
    [ "$(kiln inspect -f .architecture app:arm)" = arm64 ]
    [ "$(kiln inspect -f .mediaType app:arm)" = application/vnd.oci.image.manifest.v1+json ]
}

@test "bad platforms: one clear error each, before anything runs" {
    ctx=$(app_context)
    check() {
        run kiln build --progress=plain --platform "$1" -t bad "$ctx"
        [ "$status" -ne 0 ]
        [[ "$output" == *"$2"* ]] || { echo "$1: $output"; false; }
        [[ "$output" != *"DONE"* ]]
    }
    check linux/sparc "architecture sparc is not supported"
    check windows/amd64 "Linux images only"
    check linux/arm64/v9 "variant v9 of arm64 is not supported"
    check "" "empty"
    check linux/amd64,linux/amd64 "given twice"
    check linux/arm64,linux/aarch64/v8 "given twice"
    # a platform the base lacks: the image and the platforms it has
    check linux/amd64,linux/riscv64 "index has no image for linux/riscv64 (it has linux/amd64, linux/arm64)"
    [[ "$output" == *"FROM busybox:multi"* ]]
    run kiln images bad
    [ "${#lines[@]}" -eq 1 ]
    # run, inspect, history of a platform an index lacks: named by the name given
    for c in "run --rm --platform linux/riscv64 busybox:multi true" "inspect --platform linux/riscv64 busybox:multi" \
        "history --platform linux/riscv64 busybox:multi" \
        "export --platform linux/riscv64 -o $BATS_TEST_TMPDIR/x.tar busybox:multi"; do
        # shellcheck disable=SC2086
        run kiln $c
        [ "$status" -ne 0 ]
        [[ "$output" == *'image "busybox:multi": '*"index has no image for linux/riscv64 (it has linux/amd64, linux/arm64)"* ]] ||
            { echo "$c: $output"; false; }
    done
    [ -z "$(kiln ps -a -q)" ]
    [ ! -e "$BATS_TEST_TMPDIR/x.tar" ]
}

@test "a failing foreign RUN names its platform and exit status" {
    ctx="$BATS_TEST_TMPDIR/fail"
    mkdir -p "$ctx"
    printf 'FROM busybox:multi\nRUN [ "$(uname -m)" != aarch64 ] || exit 7\n' >"$ctx/Dockerfile"
    run kiln build --platform linux/amd64,linux/arm64 -t f "$ctx"
    [ "$status" -ne 0 ]
    [[ "$output" == *"kiln: linux/arm64: Dockerfile:2: RUN "*": the command exited with status 7"* ]] ||
        { echo "$output"; false; }
    run kiln images f
    [ "${#lines[@]}" -eq 1 ]
}

@test "BuildKit's platform args: TARGET* and BUILD* per platform, in RUN and LABEL" {
    ctx="$BATS_TEST_TMPDIR/args"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:multi
ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH BUILDVARIANT
RUN sleep 2 && echo "$TARGETPLATFORM $TARGETOS $TARGETARCH [$TARGETVARIANT] $BUILDPLATFORM $BUILDOS $BUILDARCH [$BUILDVARIANT]" > /args
LABEL target=$TARGETPLATFORM build=$BUILDPLATFORM
DF
    run kiln build --progress=plain --platform linux/amd64,linux/arm64/v8 -t args "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    # the platforms build at once: both RUNs (2 s each) start before either is done
    [ "$(grep -E '^#[0-9]+ (\[linux/|DONE)' <<<"$output" | head -n 2 | grep -c 'RUN sleep 2')" -eq 2 ] ||
        { echo "$output"; false; }
    [ "$(kiln run --rm --platform linux/amd64 args cat /args)" = "linux/amd64 linux amd64 [] linux/amd64 linux amd64 []" ]
    [ "$(kiln run --rm --platform linux/arm64 args cat /args)" = "linux/arm64 linux arm64 [] linux/amd64 linux amd64 []" ]
    [ "$(kiln inspect --platform linux/arm64 -f .config.config.Labels.target args)" = linux/arm64 ]
    [ "$(kiln inspect --platform linux/arm64 -f .config.config.Labels.build args)" = linux/amd64 ]
}

@test "push to a registry: skopeo copy --all reads both; pull into an empty store and run arm64" {
    ctx=$(app_context)
    kiln build -q --platform linux/amd64,linux/arm64 -t "$REG/app:multi" "$ctx" >/dev/null
    run kiln push "$REG/app:multi"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    skopeo copy -q --all --src-tls-verify=false "docker://$REG/app:multi" "oci:$BATS_TEST_TMPDIR/all:x"
    [ "$(jq -r '.manifests | length' "$BATS_TEST_TMPDIR/all/index.json")" = 1 ]
    idx=$(jq -r '.manifests[0].digest' "$BATS_TEST_TMPDIR/all/index.json")
    [ "$(jq -r '[.manifests[].platform.architecture] | join(",")' "$BATS_TEST_TMPDIR/all/blobs/sha256/${idx#sha256:}")" = amd64,arm64 ]
    export KILN_ROOT="$BATS_TEST_TMPDIR/empty"
    run kiln pull -q --all-platforms "$REG/app:multi"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(kiln run --rm --platform linux/arm64 "$REG/app:multi" cat /arch /out)" = "aarch64
arm64 x86_64" ]
    [ "$(kiln run --rm "$REG/app:multi" cat /arch)" = x86_64 ]
    # a plain pull keeps this machine's image alone: another platform is one error
    # naming it and what the store has; pull --platform fetches that one
    export KILN_ROOT="$BATS_TEST_TMPDIR/plain"
    kiln pull -q "$REG/app:multi" >/dev/null
    [ "$(kiln images --format json "$REG/app:multi" | jq -c '.[0].platforms')" = '["linux/amd64"]' ]
    run kiln run --rm --platform linux/arm64 "$REG/app:multi" cat /arch
    [ "$status" -ne 0 ]
    [[ "$output" == *"image \"$REG/app:multi\": "*"the image is for linux/amd64 only, not linux/arm64"* ]] || { echo "$output"; false; }
    [ -z "$(kiln ps -a -q)" ]
    kiln pull -q --platform linux/arm64 "$REG/app:multi" >/dev/null
    [ "$(kiln run --rm --platform linux/arm64 "$REG/app:multi" cat /arch)" = aarch64 ]
}

@test "a native stage without TARGET* args runs once for both platforms; with TARGETARCH once each" {
    ctx="$BATS_TEST_TMPDIR/cross"
    mkdir -p "$ctx"
    printf 'FROM --platform=$BUILDPLATFORM busybox:multi AS build\nRUN echo built $(uname -m) > /out\nFROM busybox:multi\nCOPY --from=build /out /out\n' >"$ctx/Dockerfile"
    run kiln build --progress=plain --platform linux/amd64,linux/arm64 -t cross:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(count_done "$output")" -eq 3 ]
    [ "$(count_cached "$output")" -eq 1 ]
    [ "$(cat "$(unpack_platform cross:1 arm64)/out")" = "built x86_64" ]
    # the TARGETARCH variant: the RUN's key differs per platform
    run kiln build --progress=plain --platform linux/amd64,linux/arm64 -t app "$(app_context)"
    [ "$status" -eq 0 ]
    [ "$(grep -c 'build 1/1\] RUN' <<<"$output")" -eq 2 ]
    [ "$(count_cached "$output")" -eq 0 ]
}

@test "import --platform makes a foreign image; index puts images under one tag" {
    ctx=$(base_context)
    run kiln import --platform linux/arm64 "$ctx/bb-arm64" -t bb:arm64
    [ "$status" -eq 0 ]
    [ "$(kiln inspect -f .architecture bb:arm64)" = arm64 ]
    kiln import "$ctx/bb-amd64" -t bb:amd64 >/dev/null
    amd=$(tag_digest "$KILN_ROOT" bb:amd64)
    run kiln index bb:multi bb:amd64 bb:arm64
    [ "$status" -eq 0 ]
    [ "$(kiln images --format json bb:multi | jq -c '.[0].platforms')" = '["linux/amd64","linux/arm64"]' ]
    # the index lists the very manifests (FROM bb:multi keeps the amd64 image's cache keys)
    [ "$(kiln inspect -f .digest bb:multi)" = "$amd" ]
    [ "$(kiln run --rm --platform linux/arm64 bb:multi uname -m)" = aarch64 ]
    # bad input
    run kiln import --platform linux/sparc "$ctx/bb-arm64" -t bad
    [ "$status" -ne 0 ]
    [[ "$output" == *"architecture sparc is not supported"* ]]
    run kiln images bad
    [ "${#lines[@]}" -eq 1 ]
}

@test "same files per platform as buildah build --platform linux/amd64,linux/arm64 --manifest" {
    load same_output
    same_output_setup
    build_base_index
    kiln tag busybox:multi localhost/busybox:multi
    for a in amd64 arm64; do
        skopeo copy -q --override-arch $a "oci:$KILN_ROOT:busybox:multi" "containers-storage:[$B_STORE]localhost/busybox:$a"
    done
    bh manifest create localhost/busybox:multi localhost/busybox:amd64 localhost/busybox:arm64 >/dev/null
    ctx=$(app_context)
    sed -i 's|busybox:multi|localhost/busybox:multi|' "$ctx/Dockerfile"
    out="$BATS_TEST_TMPDIR/out"
    mkdir -p "$out"
    bh build --layers --pull=never --format oci -q --timestamp "$SOURCE_DATE_EPOCH" \
        --platform linux/amd64,linux/arm64 --manifest localhost/same-plat:b "$ctx" >"$out/buildah.log" 2>&1 ||
        { tail -n 20 "$out/buildah.log"; false; }
    kiln build -q --platform linux/amd64,linux/arm64 -t same-plat:k "$ctx" >/dev/null
    bh manifest push -q --all localhost/same-plat:b "oci:$out/b-oci:b" >/dev/null
    for a in amd64 arm64; do
        skopeo copy -q --override-arch $a "oci:$out/b-oci:b" "oci:$out/b-$a:x"
        umoci unpack --rootless --image "$out/b-$a:x" "$out/bb-$a" >/dev/null
        k=$(unpack_platform same-plat:k $a)
        # /out aside: buildah 1.28 runs a FROM --platform=$BUILDPLATFORM stage for the
        # target platform (under emulation: "arm64 aarch64"); BuildKit and kiln run it
        # natively ("arm64 x86_64", checked in the first test)
        python3 "$BATS_TEST_DIRNAME/tree_compare.py" "${SAME_SKIP[@]}" --skip out "$out/bb-$a/rootfs" >"$out/buildah-$a.tree"
        python3 "$BATS_TEST_DIRNAME/tree_compare.py" "${SAME_SKIP[@]}" --skip out "$k" >"$out/kiln-$a.tree"
        diff -u "$out/buildah-$a.tree" "$out/kiln-$a.tree"
        grep -q '^arch ' "$out/kiln-$a.tree"
        [ "$(cut -d' ' -f1 "$k/out")" = $a ]
        [ "$(cut -d' ' -f1 "$out/bb-$a/rootfs/out")" = $a ]
    done
    same_output_teardown
}

@test "save and load keep the index and each platform's image; fsck and prune know them" {
    kiln build -q --platform linux/amd64,linux/arm64 -t app:multi "$(app_context)" >/dev/null
    idx=$(tag_digest "$KILN_ROOT" app:multi)
    kiln save -o "$BATS_TEST_TMPDIR/app.tar" app:multi
    [ "$(skopeo inspect --raw "oci-archive:$BATS_TEST_TMPDIR/app.tar" | jq -c '[.manifests[].platform.architecture]')" = '["amd64","arm64"]' ]
    run kiln fsck
    [ "$status" -eq 0 ]
    [[ "$output" == *"0 problems"* ]]
    kiln prune >/dev/null
    [ "$(kiln run --rm --platform linux/arm64 app:multi cat /arch)" = aarch64 ]
    kiln export --platform linux/arm64 -o "$BATS_TEST_TMPDIR/arm.tar" app:multi
    [ "$(tar -xOf "$BATS_TEST_TMPDIR/arm.tar" arch)" = aarch64 ]
    kiln export -o "$BATS_TEST_TMPDIR/host.tar" app:multi
    [ "$(tar -xOf "$BATS_TEST_TMPDIR/host.tar" arch)" = x86_64 ]
    [[ "$(kiln history --platform linux/arm64 app:multi)" == *"RUN uname -m > /arch"* ]]
    arm_id=$(kiln inspect --platform linux/arm64 -f .id app:multi)
    [ "$(kiln versions --format json --platform linux/arm64 app:multi | jq -r .id)" = "$arm_id" ]
    export KILN_ROOT="$BATS_TEST_TMPDIR/other"
    kiln load -i "$BATS_TEST_TMPDIR/app.tar" >/dev/null
    [ "$(tag_digest "$KILN_ROOT" app:multi)" = "$idx" ]
    [ "$(kiln run --rm --platform linux/arm64 app:multi cat /arch)" = aarch64 ]
    [ "$(kiln run --rm app:multi cat /arch)" = x86_64 ]
}

@test "FROM an index in a registry: each platform's image is pulled, the index kept" {
    kiln push busybox:multi "$REG/busybox:multi" >/dev/null
    export KILN_ROOT="$BATS_TEST_TMPDIR/empty"
    ctx="$BATS_TEST_TMPDIR/reg"
    mkdir -p "$ctx"
    printf 'FROM %s/busybox:multi\nRUN uname -m > /arch\n' "$REG" >"$ctx/Dockerfile"
    run kiln build --progress=plain --tls-verify=false --platform linux/amd64,linux/arm64 -t fromreg "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(kiln run --rm --platform linux/arm64 fromreg cat /arch)" = aarch64 ]
    [ "$(kiln images --format json "$REG/busybox:multi" | jq -c '.[0].platforms')" = '["linux/amd64","linux/arm64"]' ]
    # a platform the registry's index lacks: named, with what it has
    run kiln build --progress=plain --tls-verify=false --platform linux/amd64,linux/riscv64 -t bad "$ctx"
    [ "$status" -ne 0 ]
    [[ "$output" == *"linux/riscv64"*"linux/amd64, linux/arm64"* ]] || { echo "$output"; false; }
    [[ "$output" == *"$REG/busybox:multi"* ]]
    # before any step (the amd64 platform's too)
    ! grep -Eq '^#[0-9]+ (DONE|CACHED)' <<<"$output"
}

@test "the platforms' steps use a shared cache mount at once, each seeing only its own files" {
    ctx="$BATS_TEST_TMPDIR/cachemount"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:multi
ARG TARGETARCH
RUN --mount=type=cache,target=/c sh -c 'test ! -e /c/busy && touch /c/busy && sleep 1 && rm /c/busy && echo $TARGETARCH >> /c/log'
DF
    run kiln build --progress=plain --platform linux/amd64,linux/arm64 -t cm "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(count_done "$output")" -eq 2 ]
}

# interval_overlaps OUTPUT LABEL_A LABEL_B: whether the "LABEL start T" ..
# "LABEL end T" intervals two steps printed (T from /proc/uptime) overlap.
interval_overlaps() {
    awk -v a="$2" -v b="$3" '
        { for (i = 1; i < NF; i++) if ($i == a || $i == b) t[$i, $(i + 1)] = $(i + 2) }
        END { exit !(t[a, "start"] < t[b, "end"] && t[b, "start"] < t[a, "end"]) }' <<<"$1"
}

@test "the platforms draw on one pool of --jobs: --jobs 1 runs one step of either at a time" {
    ctx="$BATS_TEST_TMPDIR/pool1"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:multi
ARG TARGETARCH
RUN read u _ </proc/uptime; echo "s-$TARGETARCH start $u"; sleep 2; read u _ </proc/uptime; echo "s-$TARGETARCH end $u"
DF
    run kiln build --progress=plain --jobs 1 --platform linux/amd64,linux/arm64 -t pool1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    grep -q 's-arm64 end' <<<"$output" && grep -q 's-amd64 end' <<<"$output"
    ! interval_overlaps "$output" s-amd64 s-arm64 || { echo "$output"; false; }
}

@test "a platform whose steps are done leaves its jobs to the other (two arm64 stages at once under --jobs 2)" {
    ctx="$BATS_TEST_TMPDIR/pool2"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:multi AS a
ARG TARGETARCH
RUN [ $TARGETARCH = amd64 ] && exit 0; read u _ </proc/uptime; echo "a-$TARGETARCH start $u"; sleep 3; read u _ </proc/uptime; echo "a-$TARGETARCH end $u"
FROM busybox:multi AS b
ARG TARGETARCH
RUN [ $TARGETARCH = amd64 ] && exit 0; read u _ </proc/uptime; echo "b-$TARGETARCH start $u"; sleep 3; read u _ </proc/uptime; echo "b-$TARGETARCH end $u"
FROM busybox:multi
COPY --from=a /etc/passwd /a
COPY --from=b /etc/passwd /b
DF
    run kiln build --progress=plain --jobs 2 --platform linux/amd64,linux/arm64 -t pool2 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    interval_overlaps "$output" a-arm64 b-arm64 || { echo "$output"; false; }
}

@test "rmi of an index: the tag, the index and its images no other tag holds; prune and fsck after" {
    kiln build -q --platform linux/amd64,linux/arm64 -t app:multi "$(app_context)" >/dev/null
    idx=$(tag_digest "$KILN_ROOT" app:multi)
    amd=$(kiln inspect --platform linux/amd64 -f .digest app:multi)
    arm=$(kiln inspect --platform linux/arm64 -f .digest app:multi)
    [ "$amd" != "$arm" ]
    kiln tag "$arm" arm:only
    run kiln rmi app:multi
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ "$output" == *"Untagged: app:multi"* ]]
    run kiln images app
    [ "${#lines[@]}" -eq 1 ]
    # the index and the amd64 image gone; the arm64 image, tagged, kept
    [ ! -e "$KILN_ROOT/blobs/sha256/${idx#sha256:}" ]
    run kiln inspect "$amd"
    [ "$status" -ne 0 ]
    [ "$(kiln inspect -f .digest arm:only)" = "$arm" ]
    [ "$(kiln run --rm arm:only cat /arch)" = aarch64 ]
    kiln prune >/dev/null
    [ ! -e "$KILN_ROOT/blobs/sha256/${amd#sha256:}" ]
    [ "$(kiln run --rm arm:only cat /arch)" = aarch64 ]
    # the base index FROM named: untouched
    [ "$(kiln images --format json busybox:multi | jq -c '.[0].platforms')" = '["linux/amd64","linux/arm64"]' ]
    [ "$(kiln run --rm --platform linux/arm64 busybox:multi uname -m)" = aarch64 ]
    kiln rmi arm:only >/dev/null
    kiln prune >/dev/null
    [ ! -e "$KILN_ROOT/blobs/sha256/${arm#sha256:}" ]
    run kiln fsck
    [ "$status" -eq 0 ]
    [[ "$output" == *"0 problems"* ]] || { echo "$output"; false; }
    # an index of tagged images (kiln index): rmi of it leaves them and their tags
    bamd=$(kiln inspect --platform linux/amd64 -f .digest busybox:multi)
    barm=$(kiln inspect --platform linux/arm64 -f .digest busybox:multi)
    kiln tag "$bamd" b:amd64
    kiln tag "$barm" b:arm64
    kiln rmi busybox:multi >/dev/null
    kiln index b:multi b:amd64 b:arm64 >/dev/null
    kiln rmi b:multi >/dev/null
    kiln prune >/dev/null
    run kiln images --format json
    [ "$(jq -c '[.[] | .repository + ":" + .tag] | sort' <<<"$output")" = '["b:amd64","b:arm64"]' ] || { echo "$output"; false; }
    [ "$(kiln inspect -f .digest b:amd64)" = "$bamd" ]
    [ "$(kiln run --rm b:arm64 uname -m)" = aarch64 ]
    run kiln fsck
    [[ "$output" == *"0 problems"* ]] || { echo "$output"; false; }
}

@test "the platform is part of every step's key: steps that read nothing of it still run per platform" {
    ctx="$BATS_TEST_TMPDIR/plain"
    mkdir -p "$ctx"
    echo x >"$ctx/f"
    printf 'FROM scratch\nCOPY f /f\nENV A=1\n' >"$ctx/Dockerfile"
    run kiln build --progress=plain --platform linux/amd64,linux/arm64 -t plain "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(count_cached "$output")" -eq 0 ]
    [ "$(grep -c 'COPY f /f' <<<"$output")" -eq 2 ]
    [ "$(kiln inspect --platform linux/arm64 -f .architecture plain)" = arm64 ]
    [ "$(kiln inspect --platform linux/amd64 -f .architecture plain)" = amd64 ]
    # each platform alone: all from the cache, the same images as in the index
    for p in amd64 arm64; do
        run kiln build --progress=plain --platform linux/$p -t plain:$p "$ctx"
        [ "$status" -eq 0 ]
        [ "$(count_done "$output")" -eq 0 ]
        [ "$(kiln inspect -f .digest plain:$p)" = "$(kiln inspect --platform linux/$p -f .digest plain)" ]
    done
}
