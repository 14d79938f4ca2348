#!/usr/bin/env bash
# bench/kube.sh: `kiln kube play` of the rendered dev overlay (dataenv/deploy) to
# ready vs `podman kube play` of the same YAML on the same image (podman 4.3 from
# Debian, a private storage, rootful, --network slirp4netns: podman's default
# bridge would send the host's traffic to a private-range address, which this
# machine forbids). For each run, alternating kiln podman kiln podman ...:
#   ready    from the play command's start until /health answers 200 on the
#            published 127.0.0.1 port (the same poll, every 20 ms, for both)
#   play     until the play command returned (pods started; the app still starting)
#   healthy  kiln only: until `kiln ps` shows the container (healthy), i.e. its
#            readiness probe passed
#   app      from the app's process start (its /proc start time) until that
#            same 200: the app's own start (uvicorn importing the app), which
#            is the same image and interpreter for both tools; the ratio's
#            floor, were a tool's own part zero, is app / podman's ready
#   app CPU  the app's CPU time (user+sys, /proc/PID/schedstat) at that 200:
#            what a loaded machine inflates least
# then the pods go (kiln kube play --down / podman kube down, timed apart as "down").
# One untimed play of each comes first (warm-up).
# The YAML is the overlay as kubectl kustomize renders it, with three edits podman
# needs: the image by a tag both stores have (podman's copy of the image has another
# manifest digest), a hostPort on the container port (podman 4.3 publishes hostPorts
# only) and the versions ConfigMap mounted as a directory (podman 4.3 cannot mount
# one key with subPath). Goal (issue 21): kiln at most 0.3x podman's time to ready.
#
#   bench/kube.sh [IMAGE] [RUNS]   (default dataenv:latest-prod, 5 runs; 3 with BENCH_QUICK=1)
# Environment: KILN (default build/kiln), KILN_ROOT. Under bench/run-all.sh
# (BENCH_OUT set) it uses bench/build.sh's bench-dataenv-prod:kiln and records the
# medians.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
harness=0
if [ -n "${BENCH_OUT:-}" ]; then
    harness=1
    . "$root/bench/lib.sh"
fi
image=${1:-$([ $harness = 1 ] && echo bench-dataenv-prod:kiln || echo dataenv:latest-prod)}
runs=${2:-$([ "${BENCH_QUICK:-0}" = 1 ] && echo 3 || echo 5)}
kiln=${KILN:-$root/build/kiln}
work=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/kube-bench.XXXXXX")
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.3f", e - s }'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
na() {
    if [ $harness = 1 ]; then bench_na kube dataenv-dev ready "$1" "$2"; fi
    echo "kube: $1: $2" >&2
}

if ! "$kiln" inspect "$image" >/dev/null 2>&1; then
    na kiln "no image $image (make ml-build-prod)"
    exit $((1 - harness))
fi
for t in kubectl podman curl; do
    command -v $t >/dev/null || { na podman "$t is missing"; exit $((1 - harness)); }
done
pod=(podman --root "$work/podman/root" --runroot "$work/podman/run" --tmpdir "$work/podman/tmp")
# rlimits this machine allows (hard nofile is 20000; crun refuses podman's default),
# as bench/run.sh passes them with --ulimit, which kube play has not
mkdir -p "$work/podman"
printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n' >"$work/podman/containers.conf"
export CONTAINERS_CONF="$work/podman/containers.conf"
cleanup() {
    "$kiln" kube play --down "$work/dev.yaml" >/dev/null 2>&1 || true
    "${pod[@]}" kube down "$work/dev.yaml" >/dev/null 2>&1 || true
    "${pod[@]}" rm -af >/dev/null 2>&1 || true
    "${pod[@]}" rmi -af >/dev/null 2>&1 || true
    "$kiln" rmi localhost/kube-bench:1 >/dev/null 2>&1 || true
    findmnt -rn -o TARGET | grep -F "$work/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# ---- the YAML: the dev overlay for this image, a free port as hostPort
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/deploy"
cp -r "$root/dataenv/deploy/base" "$root/dataenv/deploy/overlays" "$work/deploy/"
KILN="$kiln" "$root/scripts/ml-deploy-manifests.sh" --image "$image" --name localhost/kube-bench \
    --deploy "$work/deploy" >/dev/null
kubectl kustomize "$work/deploy/overlays/dev" 2>/dev/null >"$work/rendered.yaml"
sed -e "s|image: localhost/kube-bench@sha256:.*|image: localhost/kube-bench:1|" \
    -e "s|^        - containerPort: 8000\$|        - containerPort: 8000\n          hostPort: $port|" \
    -e "s|mountPath: /etc/dataenv/versions.conf\$|mountPath: /etc/dataenv/deploy|" -e '/subPath: versions.conf$/d' \
    "$work/rendered.yaml" >"$work/dev.yaml"
grep -q "hostPort: $port" "$work/dev.yaml" && grep -q 'image: localhost/kube-bench:1' "$work/dev.yaml" || {
    na kiln "the rendered overlay did not take the edits"
    exit $((1 - harness))
}

# ---- the same image in both stores
"$kiln" tag "$image" localhost/kube-bench:1
"$kiln" save --format docker-archive -o "$work/image.tar" localhost/kube-bench:1
"${pod[@]}" load -q -i "$work/image.tar" >/dev/null
"${pod[@]}" image exists localhost/kube-bench:1
rm -f "$work/image.tar"

# app_start PID: the process's start, seconds since boot (as /proc/uptime)
app_start() {
    sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", $20 / hz }'
}
# app_cpu PID: the process's CPU time so far in ms ("-" when it is gone)
app_cpu() {
    [ -n "$1" ] && [ -r "/proc/$1/schedstat" ] || { echo "-"; return; }
    awk '{ printf "%.0f", $1 / 1e6 }' "/proc/$1/schedstat"
}
# app_secs READY_UPTIME PID: from the app's start to ready
app_secs() {
    local s
    [ -n "$2" ] && s=$(app_start "$2" 2>/dev/null) || { echo "-"; return; }
    awk -v r="$1" -v s="$s" 'BEGIN { printf "%.2f", r - s }'
}

# wait_ready: until /health answers (60 s at most); prints nothing, fails on timeout.
wait_ready() {
    local i
    for i in $(seq 3000); do
        curl -fs --max-time 1 "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
        sleep 0.02
    done
    return 1
}

# one untimed play of each first, so that both start warm: kiln's snapshot of the
# image unpacked, podman's pause image built (its first pod builds it: 1-3 s more)
"$kiln" kube play "$work/dev.yaml" >/dev/null 2>"$work/kiln.err" || { cat "$work/kiln.err" >&2; exit 1; }
wait_ready || { echo "kube: kiln: /health did not answer" >&2; exit 1; }
"$kiln" kube play --down "$work/dev.yaml" >/dev/null
"${pod[@]}" kube play --network slirp4netns "$work/dev.yaml" >/dev/null 2>"$work/podman.err" ||
    { cat "$work/podman.err" >&2; exit 1; }
wait_ready || { echo "kube: podman: /health did not answer" >&2; exit 1; }
"${pod[@]}" kube down "$work/dev.yaml" >/dev/null 2>&1

echo "# kube play of the dev overlay ($image) -> /health answers on 127.0.0.1:$port ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
k_ready=() k_healthy=() k_down=() p_ready=() p_down=() k_cmd=() p_cmd=() k_app=() p_app=() k_cpu=() p_cpu=()
for i in $(seq "$runs"); do
    t0=$(now)
    "$kiln" kube play "$work/dev.yaml" >/dev/null 2>"$work/kiln.err" || { cat "$work/kiln.err" >&2; exit 1; }
    k_cmd+=("$(since "$t0")")
    wait_ready || { echo "kube: kiln: /health did not answer" >&2; exit 1; }
    k_ready+=("$(since "$t0")")
    up=$(cut -d' ' -f1 /proc/uptime)
    # the app is the child of the container's init (kiln inspect's Pid)
    ipid=$("$kiln" inspect dataenv-api-pod-api | sed -n 's/.*"Pid": \([0-9]*\).*/\1/p' | head -1)
    apid=$(cut -d' ' -f1 "/proc/$ipid/task/$ipid/children" 2>/dev/null)
    k_cpu+=("$(app_cpu "$apid")")
    k_app+=("$(app_secs "$up" "$apid")")
    until "$kiln" ps | grep -q '(healthy).*dataenv-api-pod-api$'; do sleep 0.02; done
    k_healthy+=("$(since "$t0")")
    t0=$(now)
    "$kiln" kube play --down "$work/dev.yaml" >/dev/null
    k_down+=("$(since "$t0")")

    t0=$(now)
    "${pod[@]}" kube play --network slirp4netns "$work/dev.yaml" >/dev/null 2>"$work/podman.err" ||
        { cat "$work/podman.err" >&2; exit 1; }
    p_cmd+=("$(since "$t0")")
    wait_ready || { echo "kube: podman: /health did not answer" >&2; "${pod[@]}" pod ps >&2; exit 1; }
    p_ready+=("$(since "$t0")")
    up=$(cut -d' ' -f1 /proc/uptime)
    apid=$("${pod[@]}" ps --format '{{.Pid}} {{.IsInfra}}' | awk '$2 == "false" { print $1; exit }')
    p_cpu+=("$(app_cpu "$apid")")
    p_app+=("$(app_secs "$up" "$apid")")
    t0=$(now)
    "${pod[@]}" kube down "$work/dev.yaml" >/dev/null
    p_down+=("$(since "$t0")")
    echo "run $i: kiln play ${k_cmd[-1]} s, ready ${k_ready[-1]} s (app ${k_app[-1]} s, ${k_cpu[-1]} ms CPU, healthy ${k_healthy[-1]} s, down ${k_down[-1]} s); podman play ${p_cmd[-1]} s, ready ${p_ready[-1]} s (app ${p_app[-1]} s, ${p_cpu[-1]} ms CPU, down ${p_down[-1]} s); load $(cut -d' ' -f1 /proc/loadavg)"
done
km=$(echo "${k_ready[*]}" | median)
pm=$(echo "${p_ready[*]}" | median)
ratio=$(awk -v k="$km" -v p="$pm" 'BEGIN { printf "%.2f", k / p }')
echo "median ready: kiln $km s, podman $pm s, kiln/podman $ratio (goal <= 0.3); kiln healthy $(echo "${k_healthy[*]}" | median) s"
ka=$(echo "${k_app[*]}" | tr ' ' '\n' | grep -v '^-$' | median)
pa=$(echo "${p_app[*]}" | tr ' ' '\n' | grep -v '^-$' | median)
echo "median app start (process start to 200): kiln $ka s, podman $pa s; floor of the ratio (app / podman ready): $(awk -v a="$ka" -v p="$pm" 'BEGIN { printf "%.2f", a / p }')"
echo "median app CPU at that 200 (user+sys): kiln $(echo "${k_cpu[*]}" | tr ' ' '\n' | grep -v '^-$' | median) ms, podman $(echo "${p_cpu[*]}" | tr ' ' '\n' | grep -v '^-$' | median) ms"
echo "median play command: kiln $(echo "${k_cmd[*]}" | median) s, podman $(echo "${p_cmd[*]}" | median) s; down: kiln $(echo "${k_down[*]}" | median) s, podman $(echo "${p_down[*]}" | median) s"
if [ $harness = 1 ]; then
    load=$(cut -d' ' -f1 /proc/loadavg)
    bench_record bench=kube case=dataenv-dev scenario=ready tool=kiln unit=s runs="${k_ready[*]}" load="$load"
    bench_record bench=kube case=dataenv-dev scenario=ready tool=podman unit=s runs="${p_ready[*]}" load="$load"
    bench_record bench=kube case=dataenv-dev scenario=play-command tool=kiln unit=s runs="${k_cmd[*]}" load="$load"
    bench_record bench=kube case=dataenv-dev scenario=play-command tool=podman unit=s runs="${p_cmd[*]}" load="$load"
    bench_record bench=kube case=dataenv-dev scenario=healthy tool=kiln unit=s runs="${k_healthy[*]}" load="$load"
    bench_record bench=kube case=dataenv-dev scenario=down tool=kiln unit=s runs="${k_down[*]}" load="$load"
    bench_record bench=kube case=dataenv-dev scenario=down tool=podman unit=s runs="${p_down[*]}" load="$load"
fi
