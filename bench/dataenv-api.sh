#!/usr/bin/env bash
# bench/dataenv-api.sh: from `kiln run -d` of the production image to healthy.
# For each run: start the image detached, then poll every 20 ms until
#   answer   /health answers 200 (tools/healthcheck from the host)
#   healthy  `kiln ps` shows the container (healthy), i.e. the supervisor's own
#            HEALTHCHECK probe passed
# and stop it. Prints each run and the medians (seconds). Goal: healthy < 2 s.
#
#   bench/dataenv-api.sh [IMAGE] [RUNS]   (default dataenv:latest-prod, 5 runs)
# Environment: KILN (default build/kiln), KILN_ROOT, HEALTHCHECK (build/healthcheck),
# DATAENV_API_PORT (8000, the port the image serves on the host network).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
image=${1:-dataenv:latest-prod}
runs=${2:-5}
kiln=${KILN:-$root/build/kiln}
hc=${HEALTHCHECK:-$root/build/healthcheck}
port=${DATAENV_API_PORT:-8000}
name=dataenv-bench-api-$$

now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.2f", e - s }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

"$kiln" inspect "$image" >/dev/null 2>&1 || { echo "dataenv-api: no image $image (make ml-build-prod)" >&2; exit 1; }
if "$hc" -q -t 0.5 "http://127.0.0.1:$port/health"; then
    echo "dataenv-api: something already answers on 127.0.0.1:$port (make ml-stop?)" >&2
    exit 1
fi
trap '"$kiln" rm -f "$name" >/dev/null 2>&1 || true' EXIT

echo "# kiln run -d $image -> /health answers -> kiln ps healthy ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
answers=() healthies=()
for i in $(seq "$runs"); do
    "$kiln" rm -f "$name" >/dev/null 2>&1 || true
    t0=$(now)
    "$kiln" run -d --name "$name" "$image" >/dev/null
    started=$(since "$t0")
    answer="" healthy=""
    for _ in $(seq 1500); do
        [ -z "$answer" ] && "$hc" -q -t 1 "http://127.0.0.1:$port/health" && answer=$(since "$t0")
        if "$kiln" ps 2>/dev/null | grep "$name" | grep -q '(healthy)'; then
            healthy=$(since "$t0")
            [ -n "$answer" ] || answer=$healthy
            break
        fi
        sleep 0.02
    done
    [ -n "$healthy" ] || { echo "dataenv-api: run $i never became healthy in 30 s" >&2; exit 1; }
    printf 'run %d: run -d returned %s s, answers %s s, healthy %s s\n' "$i" "$started" "$answer" "$healthy"
    answers+=("$answer") healthies+=("$healthy")
    "$kiln" rm -f "$name" >/dev/null
done
printf 'median: answers %s s, healthy %s s (%d runs)\n' \
    "$(printf '%s\n' "${answers[@]}" | median)" "$(printf '%s\n' "${healthies[@]}" | median)" "$runs"
