#!/usr/bin/env bash
# bench/net.sh: container networking, side by side in one run (not run by make test).
#
#   1. Throughput of one TCP stream (iperf3, 5 s) through a port published on
#      127.0.0.1: kiln (--network private: slirp4netns, its own forwarder) vs podman -p rootful
#      (slirp4netns, the user-mode network; podman's default bridge would route
#      to a private-range address from the host's namespace, which this machine
#      forbids), and with BENCH_ROOTLESS_USER=NAME (a user with a subuid range)
#      kiln and podman run by that user (podman 4.3's rootless default:
#      slirp4netns with rootlessport), and the host's own loopback as the ceiling.
#   2. Start latency, median of N: `kiln run --rm --network private IMAGE true`
#      vs `--network host` vs `podman run --rm -p ...` (slirp4netns); the
#      rootless user's kiln too when BENCH_ROOTLESS_USER is set.
#
# Every connection goes to 127.0.0.1. The same root (busybox with the host's
# /usr, /lib, /lib64 mounted read-only, for iperf3) serves every tool.
#
#   bench/net.sh              BENCH_QUICK=1 bench/net.sh
#   BENCH_ROOTLESS_USER=kilnnet-e2e bench/net.sh   (tests/e2e/net.bats makes that user)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

runs=${BENCH_NET_RUNS:-11}
secs=5
if [ "$BENCH_QUICK" = 1 ]; then
    runs=5
    secs=2
fi
work=$BENCH_TMP/net
export KILN_ROOT=$work/kiln-store
mkdir -p "$work" "$KILN_ROOT"
rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/usr" "$rootfs/lib" "$rootfs/lib64"
cp /bin/busybox "$rootfs/bin/"
for a in $("$rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\n' >"$rootfs/etc/group"
"$KILN" import "$rootfs" -t bench-net >/dev/null
mounts=(-v /usr:/usr:ro -v /lib:/lib:ro -v /lib64:/lib64:ro)
pod=(podman --runtime "$(buildah_runtime)" --root "$work/podman/root" --runroot "$work/podman/run" --tmpdir "$work/podman/tmp")
# rlimits this machine allows (hard nofile is 20000), as bench/run.sh does
plim=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
# crun refuses "hybrid mode" while cgroup2 owns hugetlb (see bench/run.sh)
if grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null && [ "$(id -u)" = 0 ]; then
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb 2>/dev/null || true
fi
started=()
cleanup() {
    local p
    for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done
    "$KILN" rm -f bench-iperf >/dev/null 2>&1 || true
    "${pod[@]}" rm -f bench-iperf >/dev/null 2>&1 || true
    if [ -n "${rwork:-}" ]; then
        su "$ruser" -s /bin/sh -c "$rk rm -f bench-iperf" >/dev/null 2>&1 || true
        su "$ruser" -s /bin/sh -c "$rpod rm -f bench-iperf" >/dev/null 2>&1 || true
        su "$ruser" -s /bin/sh -c "$rpod unshare rm -rf $rwork/podman-root $rwork/podman-run" >/dev/null 2>&1 || true
        rm -rf "$rwork"
    fi
    rm -rf "$BENCH_TMP"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# iperf_client PORT: bits per second of one stream to 127.0.0.1:PORT.
iperf_client() {
    local i bps=0
    # Until a run that measured something (a server not listening yet gives
    # an error report, or a zero).
    for i in $(seq 50); do
        if iperf3 -c 127.0.0.1 -p "$1" -t "$secs" -J >"$work/iperf.json" 2>/dev/null; then
            bps=$(jq -r '.end.sum_received.bits_per_second // 0' "$work/iperf.json")
            awk -v b="$bps" 'BEGIN{exit !(b > 0)}' && break
        fi
        sleep 0.1
    done
    echo "$bps"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
gbit() { awk -v b="$1" 'BEGIN{printf "%.2f", b/1e9}'; }

declare -A tput
rounds=${BENCH_NET_ROUNDS:-3}
[ "$BENCH_QUICK" = 1 ] && rounds=1
have_podman=0
if "${pod[@]}" run --rm "${plim[@]}" --network slirp4netns --rootfs "$rootfs" /bin/true >/dev/null 2>&1; then
    have_podman=1
else
    bench_log "podman cannot start a container here: $("${pod[@]}" run --rm "${plim[@]}" --network slirp4netns --rootfs "$rootfs" /bin/true 2>&1 | tail -1)"
fi
ruser=${BENCH_ROOTLESS_USER:-}
have_rootless=0 have_kiln_rootless=0
if [ -n "$ruser" ]; then
    # The user's own copy of the root and stores (it cannot read $BENCH_TMP).
    rhome=$(getent passwd "$ruser" | cut -d: -f6)
    rwork=$rhome/kiln-bench-net
    rm -rf "$rwork"
    mkdir -p "$rwork"
    cp -a "$rootfs" "$rwork/rootfs"
    chown -R "$ruser": "$rwork"
    rk="cd && KILN_ROOT=$rwork/kr $KILN"
    rpod="cd && podman --root $rwork/podman-root --runroot $rwork/podman-run"
    if su "$ruser" -s /bin/sh -c "$rk import $rwork/rootfs -t bench-net" >/dev/null 2>&1 &&
        su "$ruser" -s /bin/sh -c "$rk run --rm --network private bench-net true" >/dev/null 2>&1; then
        have_kiln_rootless=1
    else
        bench_log "kiln cannot run a private container as $ruser"
    fi
    if su "$ruser" -s /bin/sh -c "$rpod run --rm --rootfs $rwork/rootfs /bin/true" >/dev/null 2>&1; then
        have_rootless=1
    else
        bench_log "podman cannot run a container as $ruser: $(su "$ruser" -s /bin/sh -c "$rpod run --rm --rootfs $rwork/rootfs /bin/true" 2>&1 | tail -1)"
    fi
fi
# Alternating rounds (loopback kiln podman ...), medians: the machine is shared.
load_tput=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$rounds"); do
    port=$(free_port)
    iperf3 -s -1 -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
    started+=($!)
    tput[loopback]+="$(iperf_client "$port") "

    port=$(free_port)
    "$KILN" run -d --name bench-iperf -p "127.0.0.1:$port:5201" "${mounts[@]}" bench-net \
        /usr/bin/iperf3 -s >/dev/null
    tput[kiln]+="$(iperf_client "$port") "
    "$KILN" rm -f bench-iperf >/dev/null

    if [ $have_podman = 1 ]; then
        port=$(free_port)
        "${pod[@]}" run -d "${plim[@]}" --name bench-iperf --network slirp4netns -p "127.0.0.1:$port:5201" \
            "${mounts[@]}" --rootfs "$rootfs" /usr/bin/iperf3 -s >/dev/null
        tput[podman]+="$(iperf_client "$port") "
        "${pod[@]}" rm -f bench-iperf >/dev/null
    fi
    if [ $have_kiln_rootless = 1 ]; then
        port=$(free_port)
        su "$ruser" -s /bin/sh -c "$rk run -d --name bench-iperf -p 127.0.0.1:$port:5201 ${mounts[*]} bench-net /usr/bin/iperf3 -s" >/dev/null
        tput[kiln-rootless]+="$(iperf_client "$port") "
        su "$ruser" -s /bin/sh -c "$rk rm -f bench-iperf" >/dev/null
    fi
    if [ $have_rootless = 1 ]; then
        port=$(free_port)
        su "$ruser" -s /bin/sh -c "$rpod run -d --name bench-iperf -p 127.0.0.1:$port:5201 ${mounts[*]} --rootfs $rwork/rootfs /usr/bin/iperf3 -s" >/dev/null
        tput[podman-rootless]+="$(iperf_client "$port") "
        su "$ruser" -s /bin/sh -c "$rpod rm -f bench-iperf" >/dev/null
    fi
done

# Start latency: alternating runs, medians; with the CPU time the start used
# (kiln and every process it started: perf stat's task-clock where perf is
# installed, else /usr/bin/time's user+sys at 10 ms resolution), which a loaded
# machine changes far less than the wall time.
declare -A lat
have_perf=0
perf stat -x, -e task-clock -o /dev/null true >/dev/null 2>&1 && have_perf=1
# start_ms KEY CMD...: prints the wall ms; appends the CPU ms to $work/cpu.KEY
start_ms() {
    local key=$1 t0 t1
    shift
    t0=$(date +%s%N)
    if [ $have_perf = 1 ]; then
        perf stat -x, -e task-clock -o "$work/cpu.out" "$@" >/dev/null 2>&1 || return 1
        t1=$(date +%s%N)
        awk -F, '/task-clock/{printf "%.1f ", $1}' "$work/cpu.out" >>"$work/cpu.$key"
    else
        /usr/bin/time -f '%U %S' -o "$work/cpu.out" "$@" >/dev/null 2>&1 || return 1
        t1=$(date +%s%N)
        awk 'END{printf "%.0f ", ($1 + $2) * 1000}' "$work/cpu.out" >>"$work/cpu.$key"
    fi
    echo $(((t1 - t0) / 1000000))
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$runs"); do
    lat[host]+="$(start_ms host "$KILN" run --rm --network host bench-net true) "
    lat[private]+="$(start_ms private "$KILN" run --rm --network private bench-net true) "
    p=$(free_port)
    lat[private-p]+="$(start_ms private-p "$KILN" run --rm -p "127.0.0.1:$p:80" bench-net true) "
    if [ $have_kiln_rootless = 1 ]; then
        lat[rootless-host]+="$(start_ms rootless-host su "$ruser" -s /bin/sh -c "$rk run --rm --network host bench-net true") "
        lat[rootless-private]+="$(start_ms rootless-private su "$ruser" -s /bin/sh -c "$rk run --rm --network private bench-net true") "
    fi
    if [ $have_podman = 1 ]; then
        p=$(free_port)
        lat[podman-p]+="$(start_ms podman-p "${pod[@]}" run --rm "${plim[@]}" --network slirp4netns -p "127.0.0.1:$p:80" --rootfs "$rootfs" /bin/true) "
    fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "== one TCP stream through a published 127.0.0.1 port (iperf3, ${secs}s; load average $load_tput at the start) =="
lo=$(echo "${tput[loopback]}" | median)
for k in loopback kiln podman kiln-rootless podman-rootless; do
    [ -n "${tput[$k]:-}" ] || continue
    m=$(echo "${tput[$k]}" | median)
    printf '%-16s %8s Gbit/s  (%s%% of loopback)  runs: %s\n' "$k" "$(gbit "$m")" \
        "$(awk -v a="$m" -v b="$lo" 'BEGIN{printf "%.0f", 100*a/b}')" \
        "$(for x in ${tput[$k]}; do printf '%s ' "$(gbit "$x")"; done)"
    bench_record bench=net case=throughput scenario=one-tcp-stream tool="$k" \
        bits_per_second="$m"
done
echo "== start to exit, median of $runs (ms; load average $load_before before, $load_after after) =="
for k in host private private-p podman-p rootless-host rootless-private; do
    [ -n "${lat[$k]:-}" ] || continue
    m=$(echo "${lat[$k]}" | median)
    c=$(median <"$work/cpu.$k")
    printf '%-16s %6s ms wall  %6s ms CPU   runs: %s\n' "$k" "$m" "$c" "${lat[$k]}"
    bench_record bench=net case=start scenario="$k" tool="$([ "$k" = podman-p ] && echo podman || echo kiln)" \
        runs="$(echo "${lat[$k]}" | awk '{for(i=1;i<=NF;i++) printf "%s ", $i/1000}')"
done
# The goals, as ratios: kiln's private start over its host start, and kiln's
# throughput over podman's in each mode.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }
echo "== goals =="
if [ -n "${lat[private]:-}" ]; then
    h=$(echo "${lat[host]}" | median)
    p=$(echo "${lat[private]}" | median)
    echo "private start - host start: $((${p%.*} - ${h%.*})) ms wall (goal: at most 30)," \
        "$(awk -v a="$(median <"$work/cpu.private")" -v b="$(median <"$work/cpu.host")" 'BEGIN{printf "%.1f", a - b}') ms CPU"
fi
if [ -n "${lat[rootless-private]:-}" ]; then
    h=$(echo "${lat[rootless-host]}" | median)
    p=$(echo "${lat[rootless-private]}" | median)
    echo "rootless private start - rootless host start: $((${p%.*} - ${h%.*})) ms wall," \
        "$(awk -v a="$(median <"$work/cpu.rootless-private")" -v b="$(median <"$work/cpu.rootless-host")" 'BEGIN{printf "%.1f", a - b}') ms CPU"
fi
[ -n "${tput[podman]:-}" ] &&
    echo "kiln / podman throughput, rootful: $(ratio "$(echo "${tput[kiln]}" | median)" "$(echo "${tput[podman]}" | median)") (goal: at least 1)"
[ -n "${tput[podman-rootless]:-}" ] && [ -n "${tput[kiln-rootless]:-}" ] &&
    echo "kiln / podman throughput, rootless: $(ratio "$(echo "${tput[kiln-rootless]}" | median)" "$(echo "${tput[podman-rootless]}" | median)") (goal: at least 1)"
true
