#!/usr/bin/env bash
# bench/build.sh: Dockerfile builds, kiln build vs buildah build --layers, same
# Dockerfile, context and base image. Cases:
#   dataenv-prod / dataenv-dev   dataenv/Dockerfile (production / development target)
#   seedlike-prod / seedlike-dev bench/seedlike/Dockerfile (the peer baseline's shape)
#   files20k                     20,000 small files and one COPY (files5k: 5,000)
# Scenarios, runs alternating kiln buildah kiln buildah ...:
#   cold       --no-cache (apt cache mounts stay warm, as in the peer figures)
#   unchanged  the same build again
#   edit       one source file's content changed
#   touch      one source file's mtime changed only
# Peak RSS of each build comes with every run. BENCH_QUICK=1 (a few minutes): files5k
# in every scenario, and dataenv-prod (needs no other stage) unchanged and edit only,
# the cold builds of the data environment being minutes each. BENCH_CASES and
# BENCH_SCENARIOS (space-separated) pick a subset.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export BUILDAH_RUNTIME=${BUILDAH_RUNTIME:-$(buildah_runtime)}
export KILN_ROOT=${KILN_ROOT:-$BENCH_TMP/kiln-store}
mkdir -p "$KILN_ROOT"

# ---- contexts: copies, so that edits never touch the repository
prepare_contexts() {
    local c=$BENCH_TMP/ctx
    mkdir -p "$c"
    if [ ! -d "$c/dataenv" ]; then
        "$BENCH_ROOT/scripts/ml-stage.sh" >/dev/null
        cp -a "$BENCH_ROOT/dataenv" "$c/dataenv"
        # buildah 1.28 predates HEALTHCHECK --start-interval (a config-only flag, no
        # build work): its copy of the Dockerfile goes without it
        sed 's/ --start-interval=[^ ]*//' "$c/dataenv/Dockerfile" >"$c/dataenv.buildah.Dockerfile"
    fi
    [ -d "$c/seedlike" ] || cp -a "$BENCH_DIR/seedlike" "$c/seedlike"
    local k
    for k in 20 5; do
        [ ! -d "$c/files${k}k" ] || continue
        mkdir -p "$c/files${k}k/files"
        python3 - "$c/files${k}k/files" "$k" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(5 * int(sys.argv[2])):
    sub = os.path.join(root, f"d{d:03}")
    os.makedirs(sub)
    for f in range(200):
        with open(os.path.join(sub, f"f{f:03}.txt"), "w") as fh:
            fh.write(f"file {d}/{f}\n" * (1 + (d * 200 + f) % 7))
PY
        printf 'ARG BASE_IMAGE=%s\nFROM ${BASE_IMAGE}\nCOPY files/ /data/\nRUN find /data -type f | wc -l\n' \
            "$BASE_REF" >"$c/files${k}k/Dockerfile"
    done
}

# case -> "context target edited-file"
case_spec() {
    local c=$BENCH_TMP/ctx
    case "$1" in
    dataenv-prod) echo "$c/dataenv production app/main.py" ;;
    dataenv-dev) echo "$c/dataenv development app/main.py" ;;
    seedlike-prod) echo "$c/seedlike production app/main.py" ;;
    seedlike-dev) echo "$c/seedlike development app/main.py" ;;
    files20k) echo "$c/files20k - files/d050/f100.txt" ;;
    files5k) echo "$c/files5k - files/d010/f100.txt" ;;
    esac
}

# build_cmd TOOL CASE [--no-cache]: the build command, in the array CMD
build_cmd() {
    local tool=$1 case=$2 nocache=${3:-}
    local ctx target file
    read -r ctx target file <<<"$(case_spec "$case")"
    local df=$ctx/Dockerfile
    [ "$tool" = buildah ] && [ -f "$ctx.buildah.Dockerfile" ] && df=$ctx.buildah.Dockerfile
    local args=(-f "$df" -t "bench-$case:$tool" --build-arg "BASE_IMAGE=$BASE_REF"
        --build-arg "SOURCE_DATE_EPOCH=$BENCH_EPOCH")
    [ "$target" != - ] && args+=(--target "$target")
    [ -n "$nocache" ] && args+=(--no-cache)
    # RUN steps on the host's network for both: kiln's default; buildah's default
    # (a private network namespace) has no /etc/hosts entries from the host, and here
    # the mirror's name resolves only through the host's /etc/hosts
    if [ "$tool" = kiln ]; then
        CMD=(env "SOURCE_DATE_EPOCH=$BENCH_EPOCH" "$KILN" build "${args[@]}" "$ctx")
    else
        CMD=(buildah build --layers --pull=never --network host --format docker --timestamp "$BENCH_EPOCH" "${args[@]}" "$ctx")
    fi
}

build() {
    build_cmd "$@"
    "${CMD[@]}"
}

edit_file() { echo "# bench edit $RANDOM$RANDOM" >>"$1"; }

measure_case() {
    local case=$1 ctx target file tools=()
    read -r ctx target file <<<"$(case_spec "$case")"
    bench_base_buildah || return 1
    tools=(buildah)
    if kiln_has build && bench_base_kiln; then
        tools=(kiln buildah)
    else
        for s in cold unchanged edit touch; do
            bench_na build "$case" "$s" kiln "kiln build not available"
        done
    fi

    # one warm-up build per tool: fills the apt cache mounts and the layer caches
    for t in "${tools[@]}"; do
        bench_log "$case: warm-up $t"
        build "$t" "$case" >>"$BENCH_TMP/cmd.log" 2>&1 || { bench_log "$case: $t warm-up failed (see $BENCH_TMP/cmd.log)"; return 1; }
    done

    local s t i n scenarios
    local all="cold unchanged edit touch"
    [ "$BENCH_QUICK" = 1 ] && [ "$case" = dataenv-prod ] && all="unchanged edit"
    # the development image's cold builds (3 runs of several minutes per tool) would
    # add a quarter of an hour; its Dockerfile's cold figure is dataenv-prod's, the
    # four-stage cold figure seedlike-dev's (BENCH_SCENARIOS=cold adds them)
    [ "$case" = dataenv-dev ] && all="unchanged edit touch"
    # seedlike-prod: its rebuilds are seedlike-dev's and dataenv-prod's story
    [ "$case" = seedlike-prod ] && all="cold"
    read -r -a scenarios <<<"${BENCH_SCENARIOS:-$all}"
    for s in "${scenarios[@]}"; do
        # Each tool first catches up, untimed, with what the other tool's runs
        # changed (an edit scenario leaves one changed file behind: without this
        # the first touch run of one tool would really be an edit).
        if [ "$s" != cold ]; then
            for t in "${tools[@]}"; do
                build "$t" "$case" >>"$BENCH_TMP/cmd.log" 2>&1 || true
            done
        fi
        # the first round's slowest run decides how many runs fit (bench_runs)
        n=2
        for t in "${tools[@]}"; do : >"$BENCH_TMP/$case.$s.$t"; done
        for ((i = 0; i < n; i++)); do
            if [ "$i" = 1 ]; then
                n=$(bench_runs "$(cat "$BENCH_TMP/$case.$s."* | awk '$1 > m { m = $1 } END { print m + 0 }')")
            fi
            for t in "${tools[@]}"; do
                case $s in
                edit) edit_file "$ctx/$file" ;;
                touch) touch -d "@$((BENCH_EPOCH + i + 1000))" "$ctx/$file" ;;
                esac
                if [ "$s" = cold ]; then
                    build_cmd "$t" "$case" --no-cache
                    # kiln's clean builds of the same inputs: the same digest?
                    [ "$t" = kiln ] && CMD+=(--iidfile "$BENCH_TMP/$case.iid.$i")
                else
                    build_cmd "$t" "$case"
                fi
                bench_time "$BENCH_TMP/$case.$s.$t" "${CMD[@]}" || true
                # the next tool's run starts from its own previous state: a no-op
                # for unchanged, one changed file for edit and touch (as for this one)
            done
        done
        for t in "${tools[@]}"; do
            local f=$BENCH_TMP/$case.$s.$t
            if awk '$3 != 0 { bad = 1 } END { exit !bad }' "$f"; then
                bench_na build "$case" "$s" "$t" "a build failed (see bench log)"
                continue
            fi
            bench_record bench=build case="$case" scenario="$s" tool="$t" unit=s \
                runs="$(awk '{ printf "%s ", $1 }' "$f")" rss_kb="$(awk '{ printf "%s ", $2 }' "$f")" \
                own_rss_kb="$(awk '{ printf "%s ", $5 + 0 }' "$f")" \
                cpu_s="$(awk '{ printf "%s ", $4 }' "$f")" load="$(cut -d' ' -f1 /proc/loadavg)"
            bench_log "$case $s $t: $(awk '{ printf "%s ", $1 }' "$f")s (cpu $(awk '{ printf "%s ", $4 }' "$f")s, load $(cut -d' ' -f1 /proc/loadavg))"
        done
        if [ "$s" = cold ] && [ "${tools[0]}" = kiln ]; then
            local ids
            ids=$(cat "$BENCH_TMP/$case".iid.* 2>/dev/null | sort -u)
            if [ -n "$ids" ]; then
                bench_record bench=size case="$case" scenario=reproducible tool=kiln unit=bool \
                    value="$([ "$(wc -l <<<"$ids")" = 1 ] && echo yes || echo no)" \
                    note="$(ls "$BENCH_TMP/$case".iid.* | wc -l) clean builds (cold runs): $(cut -c8-19 <<<"$ids" | tr '\n' ' ')"
            fi
        fi
    done
}

prepare_contexts
if [ "$BENCH_QUICK" = 1 ]; then
    cases=(files5k dataenv-prod)
else
    # The four-stage cases take minutes per build: run-all runs them last
    # (BENCH_PASS=long). seedlike-prod (cold only) is the target the peer
    # baseline's cold figure is for.
    cases=(files20k dataenv-prod)
    [ "${BENCH_PASS:-all}" = long ] && cases=(seedlike-prod seedlike-dev dataenv-dev)
    [ "${BENCH_PASS:-all}" = all ] && cases+=(seedlike-prod seedlike-dev dataenv-dev)
fi
[ -n "${BENCH_CASES:-}" ] && read -r -a cases <<<"$BENCH_CASES"
for c in "${cases[@]}"; do measure_case "$c" || bench_log "$c: skipped after a failure"; done
