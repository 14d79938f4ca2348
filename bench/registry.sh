#!/usr/bin/env bash
# bench/registry.sh: push then pull of one image through a local docker-registry,
# kiln push/pull vs skopeo copy, alternating kiln skopeo kiln skopeo ...
# The image: the data-environment image if an earlier bench step built it into
# $KILN_ROOT (bench-dataenv-prod:kiln), else the base image (kiln import of the
# mmdebstrap tar), else (or with BENCH_REGISTRY_IMAGE=synthetic) a synthetic one
# (4 uncompressed layers of 24 MB of random bytes each).
# Scenarios (each run against a fresh registry, so no blob is already there):
#   push-cold  local layers are plain tars: both tools gzip them; kiln forgets
#              its remembered gzip blobs first
#   pull       then the pushed image into an empty store (kiln) / an empty OCI
#              layout (skopeo)
#   push+pull  the two together, per round (issue 6's goal: kiln at most as long
#              as skopeo copy)
#   push       again to a fresh registry: kiln remembers the gzip blobs of earlier
#              pushes (skopeo cannot)
# Prints median seconds per tool and the ratio kiln/skopeo; records figures
# through bench/lib.sh when run by bench/run-all.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$BENCH_ROOT/tests/registry/registry.bash"

export KILN_ROOT=${KILN_ROOT:-$BENCH_TMP/kiln-store}
export REG_TMP=$BENCH_TMP
mkdir -p "$KILN_ROOT"

if ! kiln_has push || ! command -v skopeo >/dev/null || ! command -v docker-registry >/dev/null; then
    bench_na registry image push kiln "kiln push, skopeo or docker-registry missing"
    exit 0
fi

# ---- the image -----------------------------------------------------------
pick_image() {
    if [ "${BENCH_REGISTRY_IMAGE:-auto}" != synthetic ]; then
        if "$KILN" inspect bench-dataenv-prod:kiln >/dev/null 2>&1; then
            echo "bench-dataenv-prod:kiln dataenv"
            return
        fi
        if bench_base_kiln 2>/dev/null && "$KILN" inspect "$BASE_REF" >/dev/null 2>&1; then
            echo "$BASE_REF base"
            return
        fi
    fi
    local size=$((24 * 1000 * 1000))
    [ "$BENCH_QUICK" = 1 ] && size=$((4 * 1000 * 1000))
    python3 "$BENCH_ROOT/tests/registry/make_layout.py" "$KILN_ROOT" localhost/bench-registry:synthetic \
        --plain --layers 4 --size "$size" >/dev/null
    echo "localhost/bench-registry:synthetic synthetic"
}
read -r IMAGE CASE < <(pick_image)
# skopeo reads the store as the OCI layout it is; index.json names are familiar.
OCI_NAME=$IMAGE
bench_log "registry: image $IMAGE ($CASE)"

runs=$(bench_runs 10) # quick 2, full 5
declare -A T
for k in kiln-push-cold skopeo-push-cold kiln-push skopeo-push kiln-pull skopeo-pull kiln-push+pull skopeo-push+pull; do T[$k]=""; done

time_of() { tail -n 1 "$1" | cut -d' ' -f1; }

kiln_push() { # $1 scenario
    [ "$1" = push-cold ] && rm -f "$KILN_ROOT/registry/compressed"
    bench_time "$BENCH_TMP/t" "$KILN" push -q "$IMAGE" "$REG/bench:kiln"
    T[kiln-$1]+="$(time_of "$BENCH_TMP/t") "
}

skopeo_push() {
    bench_time "$BENCH_TMP/t" skopeo copy -q --dest-tls-verify=false "oci:$KILN_ROOT:$OCI_NAME" "docker://$REG/bench:skopeo"
    T[skopeo-$1]+="$(time_of "$BENCH_TMP/t") "
}

kiln_pull() {
    local store=$BENCH_TMP/pull-kiln
    rm -rf "$store"
    bench_time "$BENCH_TMP/t" env KILN_ROOT="$store" "$KILN" pull -q "$REG/bench:kiln"
    T[kiln-pull]+="$(time_of "$BENCH_TMP/t") "
    rm -rf "$store"
}

skopeo_pull() {
    local dir=$BENCH_TMP/pull-skopeo
    rm -rf "$dir"
    bench_time "$BENCH_TMP/t" skopeo copy -q --src-tls-verify=false "docker://$REG/bench:skopeo" "oci:$dir:bench"
    T[skopeo-pull]+="$(time_of "$BENCH_TMP/t") "
    rm -rf "$dir"
}

# One round: a fresh registry, both tools push (order alternating), both pull.
round() { # $1 scenario, $2 round number
    registry_start plain >/dev/null
    if [ $(($2 % 2)) -eq 0 ]; then
        kiln_push "$1"; skopeo_push "$1"
        [ "$1" = push-cold ] && { kiln_pull; skopeo_pull; }
    else
        skopeo_push "$1"; kiln_push "$1"
        [ "$1" = push-cold ] && { skopeo_pull; kiln_pull; }
    fi
    if [ "$1" = push-cold ]; then
        local t
        for t in kiln skopeo; do
            local a b
            a=$(awk '{ print $NF }' <<<"${T[$t-push-cold]}") b=$(awk '{ print $NF }' <<<"${T[$t-pull]}")
            T[$t-push+pull]+="$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", a + b }') "
        done
    fi
    registry_stop
    rm -rf "$REG_DIR"
}

for i in $(seq "$runs"); do round push-cold "$i"; done
for i in $(seq "$runs"); do round push "$i"; done

median() { python3 -c 'import statistics,sys; print("%.3f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

printf '%-10s %10s %10s %8s   (%s, %s runs, median seconds)\n' scenario kiln skopeo ratio "$CASE" "$runs"
for sc in push-cold pull push+pull push; do
    k=$(median ${T[kiln-$sc]}) s=$(median ${T[skopeo-$sc]})
    printf '%-10s %10s %10s %8s\n' "$sc" "$k" "$s" "$(python3 -c "print('%.2f' % ($k / $s))")"
    bench_record bench=registry case="$CASE" scenario="$sc" tool=kiln unit=s runs="${T[kiln-$sc]}"
    bench_record bench=registry case="$CASE" scenario="$sc" tool=skopeo unit=s runs="${T[skopeo-$sc]}"
done
