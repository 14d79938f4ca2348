#!/usr/bin/env bash
# bench/app-start.sh: the production API's own start, inside its image, with no tool's
# part in it (what bench/kube.sh's ratio cannot go under). For each image, round by
# round (so that load hits the images alike): one `kiln run --network none` whose shell
# starts the image's ENTRYPOINT and polls the image's healthcheck every 3 ms; printed:
#   ready  ms from the app's exec to the first /health 200
#   cpu    the app's CPU time (user+sys, /proc/PID/schedstat) at that moment (work the
#          app does right after its answer, such as a deferred import, may be in it)
# then the medians. Run it niced on a shared machine; CPU is what load inflates least.
#
#   bench/app-start.sh [-n RUNS] [IMAGE...]   (default 10 runs, dataenv:latest-prod)
# Environment: KILN (default build/kiln), KILN_ROOT.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kiln=${KILN:-$root/build/kiln}
runs=10
if [ "${1:-}" = -n ]; then
    runs=$2
    shift 2
fi
[ $# -gt 0 ] || set -- dataenv:latest-prod
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# one start, run by the container's sh (APP: the image's argv, shell-quoted)
# shellcheck disable=SC2016
probe='t0=$(date +%s%N)
eval "exec $APP" >/dev/null 2>&1 &
pid=$!
until healthcheck -t 1 >/dev/null 2>&1; do
    kill -0 $pid 2>/dev/null || { echo "the app exited before answering" >&2; exit 1; }
    sleep 0.003
done
t1=$(date +%s%N)
cpu=$(cut -d" " -f1 /proc/$pid/schedstat)
kill $pid; wait $pid 2>/dev/null || true
echo "$(( (t1 - t0) / 1000000 )) $(( cpu / 1000000 ))"'

declare -A argv
for image in "$@"; do
    ep=$("$kiln" inspect "$image" | jq -r '.[0].config.config | ((.Entrypoint // []) + (.Cmd // [])) | @sh') || {
        echo "app-start: no image $image (make ml-build-prod)" >&2
        exit 1
    }
    argv[$image]=$ep
done
echo "# app start inside the image, $runs rounds ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
for i in $(seq "$runs"); do
    for image in "$@"; do
        r=$("$kiln" run --rm --network none -e APP="${argv[$image]}" --entrypoint "" "$image" sh -c "$probe")
        echo "$image $r" >>"$out"
        echo "round $i: $image ready ${r% *} ms, cpu ${r#* } ms"
    done
done
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for image in "$@"; do
    echo "median $image: ready $(awk -v i="$image" '$1 == i { print $2 }' "$out" | median) ms," \
        "cpu $(awk -v i="$image" '$1 == i { print $3 }' "$out" | median) ms (load $(cut -d' ' -f1 /proc/loadavg))"
done
