#!/usr/bin/env bash
# bench/size.sh: final image size (uncompressed layer bytes) and layer count of the
# images bench/build.sh made (bench-CASE:kiln, bench-CASE:buildah; no build), and
# whether two clean builds (--no-cache, same SOURCE_DATE_EPOCH) of the data
# environment's production target give the same digest, for kiln and buildah.
# buildah is compared by image ID (the config digest) in OCI format: its docker
# format writes a random hostname into the config; kiln by its --iidfile (also the
# config digest). bench/build.sh also records whether kiln's cold runs of each case
# gave one digest. BENCH_QUICK=1: sizes only (the quick cold runs of files5k check
# kiln's digests); the dataenv-prod clean builds are left to the full run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export BUILDAH_RUNTIME=${BUILDAH_RUNTIME:-$(buildah_runtime)}
export KILN_ROOT=${KILN_ROOT:-$BENCH_TMP/kiln-store}
mkdir -p "$KILN_ROOT" "$BENCH_TMP/ctx"
[ -d "$BENCH_TMP/ctx/dataenv" ] || { "$BENCH_ROOT/scripts/ml-stage.sh" >/dev/null && cp -a "$BENCH_ROOT/dataenv" "$BENCH_TMP/ctx/dataenv"; }
[ -f "$BENCH_TMP/ctx/dataenv.buildah.Dockerfile" ] ||
    sed 's/ --start-interval=[^ ]*//' "$BENCH_TMP/ctx/dataenv/Dockerfile" >"$BENCH_TMP/ctx/dataenv.buildah.Dockerfile"
[ -d "$BENCH_TMP/ctx/seedlike" ] || cp -a "$BENCH_DIR/seedlike" "$BENCH_TMP/ctx/seedlike"

# uncompressed bytes and layer count of an image in kiln's store (a plain OCI layout)
kiln_image_stats() {
    local ref=$1 m cfg
    m=$(jq -r --arg r "$ref" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] as $n
          | $n == $r or ("localhost/" + $n) == $r or $n == ("localhost/" + $r)) | .digest' \
        "$KILN_ROOT/index.json" 2>/dev/null | head -n 1)
    [ -n "$m" ] || return 1
    local man=$KILN_ROOT/blobs/sha256/${m#sha256:} bytes=0 n=0 d t
    while read -r d t; do
        local b=$KILN_ROOT/blobs/sha256/${d#sha256:}
        case $t in
        *+gzip) bytes=$((bytes + $(gzip -dc "$b" | wc -c))) ;;
        *+zstd) bytes=$((bytes + $(zstd -dc "$b" | wc -c))) ;;
        *) bytes=$((bytes + $(stat -c %s "$b"))) ;;
        esac
        n=$((n + 1))
    done < <(jq -r '.layers[] | "\(.digest) \(.mediaType)"' "$man")
    echo "$bytes $n $m"
}

# sizes of the images build.sh left (the last scenario's inputs)
sizes() {
    local case bytes layers st
    for case in "$@"; do
        if buildah inspect --type image "bench-$case:buildah" >/dev/null 2>&1; then
            bytes=$(podman image inspect --format '{{.Size}}' "bench-$case:buildah")
            layers=$(buildah inspect --type image --format '{{len .Docker.RootFS.DiffIDs}}' "bench-$case:buildah")
            bench_record bench=size case="$case" scenario=bytes tool=buildah unit=MB value="$(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}')"
            bench_record bench=size case="$case" scenario=layers tool=buildah unit=count value="$layers"
        fi
        if kiln_has build && st=$(kiln_image_stats "bench-$case:kiln"); then
            read -r bytes layers _ <<<"$st"
            bench_record bench=size case="$case" scenario=bytes tool=kiln unit=MB value="$(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}')"
            bench_record bench=size case="$case" scenario=layers tool=kiln unit=count value="$layers"
        fi
    done
}

# two clean builds of the production target with each tool (quick: see the top)
repro() {
    local case=dataenv-prod ctx=$BENCH_TMP/ctx/dataenv
    local args=(-f "$ctx/Dockerfile" --target production --build-arg "BASE_IMAGE=$BASE_REF"
        --build-arg "SOURCE_DATE_EPOCH=$BENCH_EPOCH")
    local bargs=("${args[@]}")
    bargs[1]=$ctx.buildah.Dockerfile
    bench_base_buildah
    if [ "$BENCH_QUICK" = 1 ]; then
        bench_na size "$case" reproducible buildah "two clean builds: full run only (make bench)"
        bench_na size "$case" reproducible kiln "two clean builds: full run only (make bench)"
        return 0
    fi
    local ids=() i ok=1
    for i in 1 2; do
        buildah build --layers --no-cache --pull=never --network host --timestamp "$BENCH_EPOCH" \
            -t "bench-size-$case:$i" "${bargs[@]}" "$ctx" >>"$BENCH_TMP/cmd.log" 2>&1 || { ok=0; break; }
        ids+=("$(buildah inspect --type image --format '{{.FromImageID}}' "bench-size-$case:$i")")
    done
    if [ $ok = 1 ]; then
        bench_record bench=size case="$case" scenario=reproducible tool=buildah unit=bool \
            value="$([ "${ids[0]}" = "${ids[1]}" ] && echo yes || echo no)" note="${ids[0]:0:12} ${ids[1]:0:12}"
    else
        bench_na size "$case" reproducible buildah "build failed"
    fi
    buildah rmi "bench-size-$case:1" "bench-size-$case:2" >/dev/null 2>&1 || true
    if ! kiln_has build || ! bench_base_kiln; then
        bench_na size "$case" reproducible kiln "kiln build not available"
        return 0
    fi
    local digs=() i
    for i in 1 2; do
        rm -f "$BENCH_TMP/iid"
        SOURCE_DATE_EPOCH=$BENCH_EPOCH "$KILN" build --no-cache -t "bench-size-$case:kiln" --iidfile "$BENCH_TMP/iid" \
            "${args[@]}" "$ctx" >>"$BENCH_TMP/cmd.log" 2>&1 ||
            { bench_na size "$case" reproducible kiln "build failed"; return 0; }
        digs+=("$(cat "$BENCH_TMP/iid")")
    done
    bench_record bench=size case="$case" scenario=reproducible tool=kiln unit=bool \
        value="$([ "${digs[0]}" = "${digs[1]}" ] && echo yes || echo no)" \
        note="${digs[0]:7:12} ${digs[1]:7:12}"
}

# BENCH_PASS (bench/run-all.sh): short = the production images and the clean builds,
# long = the images of the four-stage cases built last
case ${BENCH_PASS:-all} in
short) sizes dataenv-prod seedlike-prod && repro ;;
long) sizes seedlike-dev dataenv-dev ;;
*) sizes dataenv-prod seedlike-prod seedlike-dev dataenv-dev && repro ;;
esac
