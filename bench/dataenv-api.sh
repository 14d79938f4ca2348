#!/usr/bin/env bash
# bench/dataenv-api.sh: from `kiln run -d` of the production image to healthy.
# For each run: start the image detached, then poll every 20 ms until
#   answer   /health answers 200 (tools/healthcheck from the host)
#   healthy  `kiln ps` shows the container (healthy), i.e. the supervisor's own
#            HEALTHCHECK probe passed
# and stop it. Prints each run and the medians (seconds). Goal (issue 7): healthy < 2 s.
#
#   bench/dataenv-api.sh [IMAGE] [RUNS]   (default dataenv:latest-prod, 5 runs)
# Environment: KILN (default build/kiln), KILN_ROOT, HEALTHCHECK (build/healthcheck),
# DATAENV_API_PORT (8000, the port the image serves on the host network; another
# port is passed to the container as UVICORN_PORT and HEALTHCHECK_URL).
# Under bench/run-all.sh (BENCH_OUT set) it measures the production image that
# bench/build.sh built (bench-dataenv-prod:kiln), on a free port, and records the
# medians.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
harness=0
if [ -n "${BENCH_OUT:-}" ]; then
    harness=1
    . "$root/bench/lib.sh"
fi
image=${1:-$([ $harness = 1 ] && echo bench-dataenv-prod:kiln || echo dataenv:latest-prod)}
runs=${2:-5}
kiln=${KILN:-$root/build/kiln}
hc=${HEALTHCHECK:-$root/build/healthcheck}
if [ $harness = 1 ] && [ -z "${DATAENV_API_PORT:-}" ]; then
    DATAENV_API_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
port=${DATAENV_API_PORT:-8000}
name=dataenv-bench-api-$$
portenv=()
[ "$port" = 8000 ] || portenv=(-e "UVICORN_PORT=$port" -e "HEALTHCHECK_URL=http://127.0.0.1:$port/health")

now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.2f", e - s }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

if ! "$kiln" inspect "$image" >/dev/null 2>&1; then
    if [ $harness = 1 ]; then
        bench_na dataenv-api dataenv-prod healthy kiln "no image $image (the dataenv-prod build failed or did not run)"
        exit 0
    fi
    echo "dataenv-api: no image $image (make ml-build-prod)" >&2
    exit 1
fi
[ -x "$hc" ] || make -s -C "$root" healthcheck
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
    "$kiln" run -d --name "$name" "${portenv[@]}" "$image" >/dev/null
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
if [ $harness = 1 ]; then
    bench_record bench=dataenv-api case=dataenv-prod scenario=answers tool=kiln unit=s \
        runs="${answers[*]}" load="$(cut -d' ' -f1 /proc/loadavg)" note="kiln run -d to /health answering"
    bench_record bench=dataenv-api case=dataenv-prod scenario=healthy tool=kiln unit=s \
        runs="${healthies[*]}" load="$(cut -d' ' -f1 /proc/loadavg)" note="kiln run -d to (healthy) in kiln ps"
fi
