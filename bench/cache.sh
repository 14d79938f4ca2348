#!/usr/bin/env bash
# bench/cache.sh: builds on a fresh machine with a registry build cache, and cold
# builds, kiln against buildah side by side in one run (issue 20's benchmark rows).
#   registry-cache  an empty store (the base image only) building with
#                   --cache-from type=registry (exported by an earlier build with
#                   mode=max) vs kiln's own cold build (--no-cache, apt caches warm),
#                   goal >= 10x; and buildah --layers --cache-from/--cache-to on the
#                   same registry with fresh storage each run (the base image loaded
#                   with the same image ID every time), goal kiln <= 0.5x buildah
#   cold            --no-cache, apt caches warm: kiln, buildah --timestamp (reproducible
#                   output, as kiln's always is) and buildah without --timestamp,
#                   goal kiln <= 0.5x each; and the floor of that ratio: the RUN
#                   commands on the critical path of one more kiln cold build
#                   (bench/critpath.py) over buildah's time ("met?" NO there means
#                   no builder running the same commands could reach 0.5x here)
# Cases: BENCH_CACHE_CASES (registry-cache; default dataenv-prod seedlike-dev) and
# BENCH_COLD_CASES (cold vs buildah; default dataenv-prod seedlike-prod). A case
# in the first list also gets kiln's cold build (the 10x baseline). dataenv-prod is
# dataenv/Dockerfile's production target, seedlike-* bench/seedlike's targets.
# BENCH_QUICK=1: dataenv-prod only, 2 runs. BENCH_RUNS=N: N runs of everything.
# BENCH_BUILDAH=0 skips buildah. At the end a table of medians and ratios (stdout).
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
# buildah can leave its storage's overlay mounted (seen after a run): unmount what is
# below BENCH_TMP, deepest first, before removing it
bench_cleanup() {
    registry_stop
    local m
    for m in $(findmnt -rn -o TARGET | grep "^$BENCH_TMP/" | sort -r); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
    # BENCH_CMD_LOG=FILE keeps the builds' output (a failed run says why there)
    [ -z "${BENCH_CMD_LOG:-}" ] || cp "$BENCH_TMP/cmd.log" "$BENCH_CMD_LOG" 2>/dev/null || true
    rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT

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
    seedlike-prod) echo "$BENCH_TMP/ctx/seedlike production" ;;
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

# The base image for buildah: imported once into a docker archive, then loaded into
# each fresh storage, so that every storage has the same image ID (a podman import
# per storage stamps the time, a new ID each time, and buildah's cache keys start
# from the base's ID: --cache-from could never hit).
buildah_base() { # ROOT: fresh buildah storage holding the base image only
    local arch=$BENCH_TMP/buildah-base.tar
    rm -rf "$1"
    mkdir -p "$1"
    if [ ! -f "$arch" ]; then
        local tmp=$BENCH_TMP/buildah-base-src
        podman --root "$tmp/storage" --runroot "$tmp/run" import --quiet --change 'CMD ["bash"]' \
            "$(bench_base_tar)" "$BASE_REF" >/dev/null &&
            podman --root "$tmp/storage" --runroot "$tmp/run" save --quiet --format docker-archive \
                -o "$arch" "$BASE_REF" || return 1
        podman --root "$tmp/storage" --runroot "$tmp/run" rmi -a -f >/dev/null 2>&1 || true
        rm -rf "$tmp"
    fi
    podman --root "$1/storage" --runroot "$1/run" load --quiet -i "$arch" >/dev/null
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

median() { awk '$3 == 0 { print $1 }' "$1" | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

runs() {
    local n=${BENCH_RUNS:-3}
    [ "$BENCH_QUICK" = 1 ] && [ -z "${BENCH_RUNS:-}" ] && n=2
    echo "$n"
}

# ratio CASE WHAT NUM_FILE DEN_FILE GOAL(le|ge) LIMIT: one summary line and a record
ratio() {
    local case=$1 what=$2 a b r met
    a=$(median "$3")
    b=$(median "$4")
    if [ -z "$a" ] || [ -z "$b" ]; then
        SUMMARY+=("$case | $what | - | - | - | $5 $6 | not measured")
        return
    fi
    r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a / b }')
    if [ "$5" = le ]; then
        met=$(awk -v r="$r" -v l="$6" 'BEGIN { print (r <= l) ? "yes" : "NO" }')
    else
        met=$(awk -v r="$r" -v l="$6" 'BEGIN { print (r >= l) ? "yes" : "NO" }')
    fi
    SUMMARY+=("$case | $what | $a | $b | ${r}x | $([ "$5" = le ] && echo '<=' || echo '>=') ${6}x | $met")
    bench_record bench=cache case="$case" scenario=ratio tool="$what" unit=x value="$r" \
        note="goal $5 $6: $met" load="$(cut -d' ' -f1 /proc/loadavg)"
}

# floor CASE FILE_PREFIX: one more kiln cold build with JSON progress; its critical
# path (bench/critpath.py) says how long the RUN commands on it took until their
# last output line. Any builder that runs those commands one after another spends
# at least that, so commands / buildah's time is the floor of the ratio here.
floor() {
    local case=$1 f=$2 c a
    kiln_cmd "$case" "$WARM" --no-cache --progress json
    for a in "${!CMD[@]}"; do [ "${CMD[$a]}" = -q ] && unset 'CMD[a]'; done
    "${CMD[@]}" >"$f.json" 2>&1 || return 0 # progress is on stderr
    python3 "$BENCH_DIR/critpath.py" <"$f.json" >"$f.critpath" || return 0
    sed 's/^/bench: '"$case"' kiln /' "$f.critpath" >&2
    c=$(sed -n 's/^critpath .* commands=\([0-9.]*\).*/\1/p' "$f.critpath")
    [ -n "$c" ] || return 0
    echo "$c 0 0 0" >"$f.floor"
    ratio "$case" "floor: critical-path commands / buildah --timestamp cold" "$f.floor" "$f.cold.buildah-ts" le 0.5
    ratio "$case" "floor: critical-path commands / buildah cold" "$f.floor" "$f.cold.buildah" le 0.5
}

# kiln_warm CASE: the warm store (base image, apt cache mounts filled), and the
# registry cache exported from it with mode=max
kiln_warm() {
    local case=$1
    [ -f "$WARM/.bench-base" ] || { kiln_base "$WARM" && touch "$WARM/.bench-base"; }
    bench_log "$case: kiln warm-up with --cache-to"
    kiln_cmd "$case" "$WARM" --cache-to "type=registry,ref=$REG/bench/$case:kiln-cache,mode=max"
    "${CMD[@]}" >>"$BENCH_TMP/cmd.log" 2>&1 || { bench_log "$case: kiln warm-up failed"; return 1; }
}

buildah_warm() {
    local case=$1 broot=$BENCH_TMP/buildah-warm
    [ -d "$broot/storage" ] || buildah_base "$broot" || { bench_log "buildah base import failed"; return 1; }
    bench_log "$case: buildah warm-up with --cache-to"
    buildah_cmd "$case" "$broot" --timestamp "$BENCH_EPOCH" --tls-verify=false --cache-to "$REG/bench/$case-buildah"
    "${CMD[@]}" >>"$BENCH_TMP/cmd.log" 2>&1 || { bench_log "$case: buildah warm-up failed"; return 1; }
}

# measure CASE: the rows the case is in (cache: kiln cold + registry cache, buildah
# registry cache; cold: kiln cold, buildah cold in both modes), runs alternating
measure() {
    local case=$1 n i cache=0 cold=0 buildah=0
    n=$(runs)
    [[ " $CACHE_CASES " == *" $case "* ]] && cache=1
    [[ " $COLD_CASES " == *" $case "* ]] && cold=1
    [ "${BENCH_BUILDAH:-1}" = 1 ] && command -v buildah >/dev/null && buildah=1
    local kref="$REG/bench/$case:kiln-cache" bref="$REG/bench/$case-buildah" broot=$BENCH_TMP/buildah-warm
    kiln_warm "$case" || return 1
    if [ "$buildah" = 1 ] && ! buildah_warm "$case"; then buildah=0; fi
    local f=$BENCH_TMP/$case
    : >"$f.cold.kiln"
    : >"$f.cache.kiln"
    : >"$f.cold.buildah-ts"
    : >"$f.cold.buildah"
    : >"$f.cache.buildah"
    for ((i = 0; i < n; i++)); do
        bench_log "$case: round $((i + 1))/$n"
        kiln_cmd "$case" "$WARM" --no-cache
        bench_time "$f.cold.kiln" "${CMD[@]}" || true
        if [ "$cold" = 1 ] && [ "$buildah" = 1 ]; then
            buildah_cmd "$case" "$broot" --no-cache --timestamp "$BENCH_EPOCH"
            bench_time "$f.cold.buildah-ts" "${CMD[@]}" || true
            buildah_cmd "$case" "$broot" --no-cache
            bench_time "$f.cold.buildah" "${CMD[@]}" || true
        fi
        if [ "$cache" = 1 ]; then
            kiln_base "$BENCH_TMP/fresh-store"
            kiln_cmd "$case" "$BENCH_TMP/fresh-store" --cache-from "type=registry,ref=$kref"
            bench_time "$f.cache.kiln" "${CMD[@]}" || true
            rm -rf "$BENCH_TMP/fresh-store"
            if [ "$buildah" = 1 ]; then
                buildah_base "$BENCH_TMP/buildah-fresh"
                buildah_cmd "$case" "$BENCH_TMP/buildah-fresh" --timestamp "$BENCH_EPOCH" --tls-verify=false \
                    --cache-from "$bref" --cache-to "$bref"
                bench_time "$f.cache.buildah" "${CMD[@]}" || true
                buildah --root "$BENCH_TMP/buildah-fresh/storage" --runroot "$BENCH_TMP/buildah-fresh/run" \
                    rmi -a -f >/dev/null 2>&1 || true
                rm -rf "$BENCH_TMP/buildah-fresh"
            fi
        fi
    done
    record "$case" cold kiln "$f.cold.kiln"
    if [ "$cache" = 1 ]; then
        record "$case" registry-cache kiln "$f.cache.kiln"
        ratio "$case" "kiln cold / kiln registry-cache" "$f.cold.kiln" "$f.cache.kiln" ge 10
        if [ "$buildah" = 1 ]; then
            record "$case" registry-cache buildah "$f.cache.buildah"
            ratio "$case" "kiln registry-cache / buildah registry-cache" "$f.cache.kiln" "$f.cache.buildah" le 0.5
        fi
    fi
    if [ "$cold" = 1 ] && [ "$buildah" = 1 ]; then
        record "$case" cold buildah-timestamp "$f.cold.buildah-ts"
        record "$case" cold buildah "$f.cold.buildah"
        ratio "$case" "kiln cold / buildah --timestamp cold" "$f.cold.kiln" "$f.cold.buildah-ts" le 0.5
        ratio "$case" "kiln cold / buildah cold" "$f.cold.kiln" "$f.cold.buildah" le 0.5
        floor "$case" "$f"
    fi
    # what the registry-cache build gave is what the cold build gives
    if [ "$cache" = 1 ]; then
        local d1 d2
        kiln_cmd "$case" "$WARM" --iidfile "$BENCH_TMP/iid.warm"
        "${CMD[@]}" >>"$BENCH_TMP/cmd.log" 2>&1 || true
        kiln_base "$BENCH_TMP/fresh-store"
        kiln_cmd "$case" "$BENCH_TMP/fresh-store" --cache-from "type=registry,ref=$kref" --iidfile "$BENCH_TMP/iid.fresh"
        "${CMD[@]}" >>"$BENCH_TMP/cmd.log" 2>&1 || true
        rm -rf "$BENCH_TMP/fresh-store"
        d1=$(cat "$BENCH_TMP/iid.warm" 2>/dev/null || true)
        d2=$(cat "$BENCH_TMP/iid.fresh" 2>/dev/null || true)
        SUMMARY+=("$case | registry-cache image = cold build's | ${d1:0:19} | ${d2:0:19} | - | same digest | $([ -n "$d1" ] && [ "$d1" = "$d2" ] && echo yes || echo NO)")
    fi
}

prepare
CACHE_CASES=${BENCH_CACHE_CASES-dataenv-prod seedlike-dev}
COLD_CASES=${BENCH_COLD_CASES-dataenv-prod seedlike-prod}
if [ "$BENCH_QUICK" = 1 ]; then
    CACHE_CASES=${BENCH_CACHE_CASES-dataenv-prod}
    COLD_CASES=${BENCH_COLD_CASES-dataenv-prod}
fi
SUMMARY=()
declare -A seen=()
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for c in $CACHE_CASES $COLD_CASES; do
    [ -n "${seen[$c]:-}" ] && continue
    seen[$c]=1
    measure "$c" || bench_log "$c: skipped after a failure"
done
echo "bench/cache.sh: $(runs) runs each, medians in seconds; load average $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "case | ratio | a | b | a/b | goal | met?"
printf '%s\n' "${SUMMARY[@]}"
