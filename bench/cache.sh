#!/usr/bin/env bash
# bench/cache.sh: builds on a fresh machine with a registry build cache.
#   registry-cache  an empty store (the base image only) building with
#                   --cache-from type=registry (exported by an earlier build with
#                   mode=max) vs kiln's own cold build (--no-cache, apt caches warm);
#                   and buildah --layers --cache-from/--cache-to on the same registry
#                   with fresh storage each run (BENCH_BUILDAH=0 skips buildah)
#   cold            --no-cache, apt caches warm: kiln, buildah --timestamp (reproducible
#                   output, as kiln's always is) and buildah without --timestamp
# Cases: dataenv-prod (dataenv/Dockerfile, production), seedlike-dev
# (bench/seedlike, development); BENCH_CASES picks. BENCH_QUICK=1: dataenv-prod only.
# A docker-registry on 127.0.0.1 (tests/registry/registry.bash), stopped at the end.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
REG_TMP=$BENCH_TMP
. "$BENCH_ROOT/tests/registry/registry.bash"

export BUILDAH_RUNTIME=${BUILDAH_RUNTIME:-$(buildah_runtime)}
WARM=$BENCH_TMP/cache-warm-store

if ! kiln_has build || ! command -v docker-registry >/dev/null; then
    bench_na cache all registry-cache kiln "kiln build or docker-registry missing"
    exit 0
fi
registry_start plain >/dev/null
trap 'registry_stop; rm -rf "$BENCH_TMP"' EXIT

prepare() {
    local c=$BENCH_TMP/ctx
    mkdir -p "$c"
    if [ ! -d "$c/dataenv" ]; then
        "$BENCH_ROOT/scripts/ml-stage.sh" >/dev/null
        cp -a "$BENCH_ROOT/dataenv" "$c/dataenv"
        sed 's/ --start-interval=[^ ]*//' "$c/dataenv/Dockerfile" >"$c/dataenv.buildah.Dockerfile"
    fi
    [ -d "$c/seedlike" ] || cp -a "$BENCH_DIR/seedlike" "$c/seedlike"
}

spec() {
    case "$1" in
    dataenv-prod) echo "$BENCH_TMP/ctx/dataenv production" ;;
    seedlike-dev) echo "$BENCH_TMP/ctx/seedlike development" ;;
    esac
}

# kiln_cmd CASE STORE EXTRA...: in CMD
kiln_cmd() {
    local ctx target case=$1 store=$2
    read -r ctx target <<<"$(spec "$case")"
    shift 2
    CMD=(env "KILN_ROOT=$store" "SOURCE_DATE_EPOCH=$BENCH_EPOCH" "$KILN" build -q -f "$ctx/Dockerfile"
        --target "$target" --build-arg "BASE_IMAGE=$BASE_REF" --build-arg "SOURCE_DATE_EPOCH=$BENCH_EPOCH"
        -t "bench-$case:kiln" "$@" "$ctx")
}

# buildah_cmd CASE ROOT EXTRA...: fresh storage under ROOT
buildah_cmd() {
    local ctx target case=$1 root=$2
    read -r ctx target <<<"$(spec "$case")"
    local df=$ctx/Dockerfile
    shift 2
    [ -f "$ctx.buildah.Dockerfile" ] && df=$ctx.buildah.Dockerfile
    CMD=(buildah --root "$root/storage" --runroot "$root/run" build --layers --pull=never --network host
        --format docker -f "$df" --target "$target" --build-arg "BASE_IMAGE=$BASE_REF"
        --build-arg "SOURCE_DATE_EPOCH=$BENCH_EPOCH" -t "bench-$case:buildah" "$@" "$ctx")
}

kiln_base() { # STORE: the base image only
    rm -rf "$1"
    mkdir -p "$1"
    SOURCE_DATE_EPOCH=$BENCH_EPOCH KILN_ROOT=$1 "$KILN" import "$(bench_base_tar)" -t "$BASE_REF" -c 'CMD ["bash"]' >/dev/null
}

buildah_base() { # ROOT: fresh buildah storage holding the base image only
    rm -rf "$1"
    mkdir -p "$1"
    podman --root "$1/storage" --runroot "$1/run" import --quiet --change 'CMD ["bash"]' "$(bench_base_tar)" "$BASE_REF" >/dev/null
}

record() { # CASE SCENARIO TOOL FILE
    if awk '$3 != 0 { bad = 1 } END { exit !bad }' "$4"; then
        bench_na cache "$1" "$2" "$3" "a build failed (see $BENCH_TMP/cmd.log)"
        return
    fi
    bench_record bench=cache case="$1" scenario="$2" tool="$3" unit=s \
        runs="$(awk '{ printf "%s ", $1 }' "$4")" rss_kb="$(awk '{ printf "%s ", $2 }' "$4")" \
        cpu_s="$(awk '{ printf "%s ", $4 }' "$4")" load="$(cut -d' ' -f1 /proc/loadavg)"
    bench_log "$1 $2 $3: $(awk '{ printf "%s ", $1 }' "$4")s"
}

measure() {
    local case=$1 n=${BENCH_RUNS:-3} i
    [ "$BENCH_QUICK" = 1 ] && n=2
    local kref="$REG/bench/$case:kiln-cache" bref="$REG/bench/$case-buildah"
    # warm-up: fills the apt cache mounts, exports every step
    [ -f "$WARM/.bench-base" ] || { kiln_base "$WARM" && touch "$WARM/.bench-base"; }
    bench_log "$case: kiln warm-up with --cache-to"
    kiln_cmd "$case" "$WARM" --cache-to "type=registry,ref=$kref,mode=max"
    "${CMD[@]}" >>"$BENCH_TMP/cmd.log" 2>&1 || { bench_log "$case: kiln warm-up failed"; return 1; }
    local f=$BENCH_TMP/$case
    : >"$f.cold.kiln"
    : >"$f.cache.kiln"
    for ((i = 0; i < n; i++)); do
        kiln_cmd "$case" "$WARM" --no-cache
        bench_time "$f.cold.kiln" "${CMD[@]}" || true
        kiln_base "$BENCH_TMP/fresh-store"
        kiln_cmd "$case" "$BENCH_TMP/fresh-store" --cache-from "type=registry,ref=$kref"
        bench_time "$f.cache.kiln" "${CMD[@]}" || true
    done
    record "$case" cold kiln "$f.cold.kiln"
    record "$case" registry-cache kiln "$f.cache.kiln"
    [ "${BENCH_BUILDAH:-1}" = 1 ] && command -v buildah >/dev/null || return 0
    local broot=$BENCH_TMP/buildah-warm
    bench_log "$case: buildah warm-up with --cache-to"
    buildah_base "$broot" || { bench_log "buildah base import failed"; return 0; }
    buildah_cmd "$case" "$broot" --timestamp "$BENCH_EPOCH" --tls-verify=false --cache-to "$bref"
    "${CMD[@]}" >>"$BENCH_TMP/cmd.log" 2>&1 || { bench_log "$case: buildah warm-up failed"; return 0; }
    : >"$f.cold.buildah-ts"
    : >"$f.cold.buildah"
    : >"$f.cache.buildah"
    for ((i = 0; i < n; i++)); do
        buildah_cmd "$case" "$broot" --no-cache --timestamp "$BENCH_EPOCH"
        bench_time "$f.cold.buildah-ts" "${CMD[@]}" || true
        buildah_cmd "$case" "$broot" --no-cache
        bench_time "$f.cold.buildah" "${CMD[@]}" || true
        buildah_base "$BENCH_TMP/buildah-fresh"
        buildah_cmd "$case" "$BENCH_TMP/buildah-fresh" --timestamp "$BENCH_EPOCH" --tls-verify=false \
            --cache-from "$bref" --cache-to "$bref"
        bench_time "$f.cache.buildah" "${CMD[@]}" || true
        rm -rf "$BENCH_TMP/buildah-fresh"
    done
    record "$case" cold buildah-timestamp "$f.cold.buildah-ts"
    record "$case" cold buildah "$f.cold.buildah"
    record "$case" registry-cache buildah "$f.cache.buildah"
}

prepare
cases=(dataenv-prod seedlike-dev)
[ "$BENCH_QUICK" = 1 ] && cases=(dataenv-prod)
[ -n "${BENCH_CASES:-}" ] && read -r -a cases <<<"$BENCH_CASES"
for c in "${cases[@]}"; do measure "$c" || bench_log "$c: skipped after a failure"; done
