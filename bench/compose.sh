#!/usr/bin/env bash
# bench/compose.sh: the data environment's stack (dataenv/compose.yaml: api,
# jupyter, prometheus), side by side in one run (not run by make test):
#
#   up     `kiln compose up -d --wait` until every service is healthy, vs
#          `podman-compose up -d` and then waiting until each container passes its
#          health check (no systemd runs podman's health timers here: the wait runs
#          `podman healthcheck run` every 100 ms, as a timer would)
#   down   `kiln compose down` vs `podman-compose down`
#   rss    the runtime's own processes while the stack runs, peak of their summed
#          RSS over 3 s after healthy: kiln's supervisors, namespace holder and
#          slirp4netns; podman's conmon (the services' processes themselves are the same
#          programs in both and are not counted)
#
# The images are already in both stores (kiln load and skopeo copy, untimed), and
# one untimed up/down of each tool comes first (kiln's first start after a load
# unpacks the images into its snapshots).
# Runs alternate (kiln, podman, kiln, ...). Goal (issue 19): kiln's up and down at
# most 0.3x podman-compose's. podman-compose runs inside a network namespace kiln
# makes (tests/e2e/podman_compose.bash: podman's CNI bridge would route to
# 10.89.x from the host's namespace, which this machine forbids); kiln publishes
# on the host's 127.0.0.1. Same ports, same file.
#
#   bench/compose.sh        BENCH_QUICK=1 bench/compose.sh
# The images come from BENCH_DATAENV_STORE (a kiln store holding dataenv:latest,
# dataenv:latest-prod and dataenv-prometheus:latest; default: built with make into
# $KILN_TEST_IMAGES/store when set, else into the bench's scratch directory).
set -euo pipefail
standalone=1
[ -n "${BENCH_TMP:-}" ] && standalone=0
. "$(dirname "$0")/lib.sh"

work=$BENCH_TMP/compose
mkdir -p "$work"
export KILN_ROOT=$work/kiln-store
file=$BENCH_ROOT/dataenv/compose.yaml
images=(dataenv:latest-prod dataenv:latest dataenv-prometheus:latest)

if ! "$KILN" help compose 2>&1 | grep -qE '^ +up( |$)'; then
    for s in up down rss; do bench_na compose dataenv "$s" kiln "kiln compose up not available"; done
    bench_log "compose: kiln compose up is not in $KILN; nothing measured"
    exit 0
fi
for t in podman-compose skopeo nsenter; do
    command -v $t >/dev/null || { bench_log "compose: $t missing (scripts/deps.sh test)"; exit 1; }
done

src=${BENCH_DATAENV_STORE:-}
if [ -z "$src" ]; then
    src=${KILN_TEST_IMAGES:+$KILN_TEST_IMAGES/store}
    src=${src:-$work/images}
    for target in ml-build-prod ml-build ml-build-prometheus; do
        bench_log "compose: make $target (KILN_ROOT=$src)"
        env -u SOURCE_DATE_EPOCH KILN_ROOT="$src" make -s -C "$BENCH_ROOT" --no-print-directory \
            KILN_BIN="$KILN" "$target" >"$work/$target.log" 2>&1 ||
            { bench_log "compose: make $target failed ($work/$target.log)"; exit 1; }
    done
fi
for t in "${images[@]}"; do
    KILN_ROOT=$src "$KILN" save -o - "$t" | "$KILN" load -i - >/dev/null
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
API_PORT=$(free_port) JUPYTER_PORT=$(free_port) PROMETHEUS_PORT=$(free_port)
# podman-compose mounts secret files as they are (no uid/mode): readable by the notebook user
JUPYTER_TOKEN_FILE=$work/jupyter_token
openssl rand -hex 24 >"$JUPYTER_TOKEN_FILE"
chmod 644 "$JUPYTER_TOKEN_FILE"
export API_PORT JUPYTER_PORT PROMETHEUS_PORT JUPYTER_TOKEN_FILE

# podman's side: its store, the namespace it runs in, the images copied in
. "$BENCH_ROOT/tests/e2e/podman_compose.bash"
export PC_PODMAN_ARGS="--runtime $(buildah_runtime)"
pc_setup "$work/podman" dataenv:latest-prod
for t in "${images[@]}"; do pc_copy_image "$t"; done
proj=kilnbench$$
kproj=kilnbench$$
cleanup() {
    "$KILN" compose -f "$file" -p "$kproj" down -v >/dev/null 2>&1 || true
    pc_teardown "$proj" "$file"
    podman --root "$work/podman/root" --runroot "$work/podman/run" rmi -a -f >/dev/null 2>&1 || true
    findmnt -rn -o TARGET | grep -F "$work/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$work"
    [ "$standalone" = 0 ] || rm -rf "$BENCH_TMP"
}
trap cleanup EXIT
export -f pc_in pc_podman pc_compose pc_wait_healthy
export PC_DIR PC_PID PC_PODMAN_ARGS file proj kproj

# the summed RSS (kB) of pids, and its peak over 3 s
rss_sum() {
    local p s=0 v
    for p in "$@"; do
        v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
        s=$((s + ${v:-0}))
    done
    echo "$s"
}
peak_rss() {
    local fn=$1 i m=0 v
    for i in $(seq 15); do
        # shellcheck disable=SC2046
        v=$(rss_sum $($fn))
        [ "$v" -gt "$m" ] && m=$v
        sleep 0.2
    done
    echo "$m"
}
kiln_pids() {
    cat "$KILN_ROOT"/containers/*/state.json "$KILN_ROOT"/pods/*/state.json 2>/dev/null |
        jq -r '[.Supervisor, .NetHolder, .NetHelper][] | select(. != null and . > 0)' | sort -u
}
podman_pids() { pgrep -f "conmon .*$PC_DIR/" || true; }

# One untimed round first: kiln unpacks an image into its snapshot on the first
# run after a load (podman did that at the skopeo copy); both then start warm.
bench_log "compose: warm-up round (untimed)"
"$KILN" compose -f "$file" -p "$kproj" up -d --wait >/dev/null 2>&1 || bench_log "compose: kiln warm-up up failed"
"$KILN" compose -f "$file" -p "$kproj" down >/dev/null 2>&1 || true
pc_compose -f "$file" -p "$proj" up -d >/dev/null 2>&1 &&
    pc_wait_healthy 300 "${proj}_api_1" "${proj}_jupyter_1" "${proj}_prometheus_1" || bench_log "compose: podman warm-up failed"
pc_compose -f "$file" -p "$proj" down >/dev/null 2>&1 || true

runs=$(bench_runs 30)
: >"$work/k_up" >"$work/k_down" >"$work/p_up" >"$work/p_down"
k_rss="" p_rss="" k_n="" p_n=""
for i in $(seq "$runs"); do
    bench_log "compose: round $i/$runs (load $(cut -d' ' -f1 /proc/loadavg))"
    if bench_time "$work/k_up" "$KILN" compose -f "$file" -p "$kproj" up -d --wait; then
        k_rss="$k_rss $(peak_rss kiln_pids)"
        k_n=$(kiln_pids | wc -l)
    else
        bench_log "compose: kiln compose up failed (run $i)"
    fi
    bench_time "$work/k_down" "$KILN" compose -f "$file" -p "$kproj" down ||
        bench_log "compose: kiln compose down failed (run $i)"
    if bench_time "$work/p_up" bash -c 'pc_compose -f "$file" -p "$proj" up -d >/dev/null &&
        pc_wait_healthy 300 "${proj}_api_1" "${proj}_jupyter_1" "${proj}_prometheus_1"'; then
        p_rss="$p_rss $(peak_rss podman_pids)"
        p_n=$(podman_pids | wc -l)
    else
        bench_log "compose: podman-compose up failed (run $i)"
    fi
    bench_time "$work/p_down" bash -c 'pc_compose -f "$file" -p "$proj" down >/dev/null' ||
        bench_log "compose: podman-compose down failed (run $i)"
done

col() { awk -v c="$2" '{ printf "%s ", $c }' "$1"; }
load=$(cut -d' ' -f1 /proc/loadavg)
for s in up down; do
    bench_record bench=compose case=dataenv scenario="$s" tool=kiln unit=s runs="$(col "$work/k_$s" 1)" \
        rss_kb="$(col "$work/k_$s" 2)" own_rss_kb="$(col "$work/k_$s" 5)" cpu_s="$(col "$work/k_$s" 4)" load="$load"
    bench_record bench=compose case=dataenv scenario="$s" tool=podman-compose unit=s runs="$(col "$work/p_$s" 1)" \
        rss_kb="$(col "$work/p_$s" 2)" own_rss_kb="$(col "$work/p_$s" 5)" cpu_s="$(col "$work/p_$s" 4)" load="$load"
done
max() { tr ' ' '\n' <<<"$1" | sort -n | tail -n 1; }
bench_record bench=compose case=dataenv scenario=runtime-rss tool=kiln unit=kB value="$(max "$k_rss")" \
    note="supervisors, holder, slirp4netns: $k_n processes"
bench_record bench=compose case=dataenv scenario=runtime-rss tool=podman-compose unit=kB value="$(max "$p_rss")" \
    note="conmon: $p_n processes"

med() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo "compose (dataenv/compose.yaml, $runs runs each, load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores):"
for s in up down; do
    k=$(med "$(col "$work/k_$s" 1)") p=$(med "$(col "$work/p_$s" 1)")
    awk -v s="$s" -v k="$k" -v p="$p" 'BEGIN { r = k / p; printf "  %-5s kiln %6.2f s   podman-compose %6.2f s   ratio %.2fx  (goal <= 0.3x: %s)\n", s, k, p, r, (r <= 0.3 ? "met" : "NOT met") }'
done
echo "  runtime RSS while the stack runs: kiln $(($(max "$k_rss") / 1024)) MB ($k_n processes: supervisors, holder, slirp4netns)" \
    "  podman $(($(max "$p_rss") / 1024)) MB ($p_n conmon)"
