#!/usr/bin/env bash
# bench/run.sh: container start-to-exit, `kiln run --rm IMAGE true` against
# `crun run` on the same unpacked root file system (an OCI bundle) and
# `podman run --rm IMAGE true` on the same rootfs imported as an image. Runs
# alternate (kiln crun podman kiln ...); medians and the ratios are printed and
# recorded. Goal: kiln within 1.5x of crun and at most a tenth of podman.
#
#   bench/run.sh            (or through bench/run-all.sh)
#   BENCH_QUICK=1 bench/run.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# each run is milliseconds (podman's about half a second): 21 runs in both modes, as
# hyperfine would, so that the medians are steady
runs=${BENCH_RUN_RUNS:-21}
work=$BENCH_TMP/run
export KILN_ROOT=$work/kiln-store
mkdir -p "$work" "$KILN_ROOT"

# The same root for everyone: busybox-static with passwd/group.
bundle=$work/bundle
rootfs=$bundle/rootfs
if [ ! -d "$rootfs" ]; then
    mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp"
    cp /bin/busybox "$rootfs/bin/"
    for a in $("$rootfs/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$rootfs/bin/$a"; done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\n' >"$rootfs/etc/group"
fi

have_kiln=0 have_crun=0 have_podman=0
if kiln_has run && kiln_has import; then
    "$KILN" import "$rootfs" -t bench-run >/dev/null && have_kiln=1
fi

# crun refuses "hybrid mode" while cgroup2 owns hugetlb: give hugetlb its own v1
# hierarchy like the machine's other controllers (needs root).
if grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null && [ "$(id -u)" = 0 ]; then
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb 2>/dev/null || true
fi
if command -v crun >/dev/null; then
    (cd "$bundle" && rm -f config.json && crun spec >/dev/null 2>&1)
    # not a terminal; `true`; rlimits this machine allows (hard nofile is 20000)
    jq '.process.terminal=false | .process.args=["/bin/true"]
        | .process.rlimits=[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}]' \
        "$bundle/config.json" >"$bundle/config.json.new" && mv "$bundle/config.json.new" "$bundle/config.json"
    crun run -b "$bundle" "kiln-bench-probe-$$" >/dev/null 2>&1 && have_crun=1
fi
# its own tmpdir too: `system reset` removes the tmpdir, by default the machine's /run/libpod
pod=(podman --root "$work/podman/root" --runroot "$work/podman/run" --tmpdir "$work/podman/tmp")
podrun=("${pod[@]}" run --rm --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
if command -v podman >/dev/null; then
    tar -C "$rootfs" -cf "$work/rootfs.tar" .
    "${pod[@]}" import "$work/rootfs.tar" localhost/bench-run >/dev/null 2>&1 &&
        "${podrun[@]}" localhost/bench-run true >/dev/null 2>&1 && have_podman=1
fi

# one TOOL: appends the seconds of one start-to-exit to $work/TOOL.times
now() { echo "${EPOCHREALTIME/./}"; } # microseconds, no fork
one() {
    local t0 t1 rc=0
    t0=$(now)
    case $1 in
    kiln) "$KILN" run --rm bench-run true >/dev/null 2>>"$work/err.log" || rc=$? ;;
    crun) crun run -b "$bundle" "kiln-bench-$$-$i" >/dev/null 2>>"$work/err.log" || rc=$? ;;
    podman) "${podrun[@]}" localhost/bench-run true >/dev/null 2>>"$work/err.log" || rc=$? ;;
    esac
    t1=$(now)
    [ "$rc" -eq 0 ] || { bench_log "run: $1 failed (exit $rc), see $work/err.log"; return 1; }
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f ", (b - a) / 1e6 }' >>"$work/$1.times"
}

tools=()
[ $have_kiln = 1 ] && tools+=(kiln) || bench_na run true start-to-exit kiln "kiln run/import not available"
[ $have_crun = 1 ] && tools+=(crun) || bench_na run true start-to-exit crun "crun cannot start containers here"
[ $have_podman = 1 ] && tools+=(podman) || bench_na run true start-to-exit podman "podman cannot start containers here"
rm -f "$work"/*.times
i=warm
for t in "${tools[@]}"; do one "$t" >/dev/null 2>&1 || true; rm -f "$work/$t.times"; done # warm-up
for ((i = 0; i < runs; i++)); do
    for t in "${tools[@]}"; do one "$t" || true; done
done

median() { tr ' ' '\n' <"$work/$1.times" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A med
for t in "${tools[@]}"; do
    [ -s "$work/$t.times" ] || continue
    med[$t]=$(median "$t")
    bench_record bench=run case=true scenario=start-to-exit tool="$t" unit=s runs="$(cat "$work/$t.times")"
    printf 'run: %-7s median %7.1f ms over %d runs\n' "$t" "$(awk -v m="${med[$t]}" 'BEGIN{print m*1000}')" \
        "$(wc -w <"$work/$t.times")"
done
if [ -n "${med[kiln]:-}" ]; then
    for peer in crun podman; do
        [ -n "${med[$peer]:-}" ] || continue
        r=$(awk -v k="${med[kiln]}" -v p="${med[$peer]}" 'BEGIN { printf "%.2f", k / p }')
        echo "run: kiln/$peer = ${r}x"
    done
fi
"$KILN" ps -a -q 2>/dev/null | xargs -r "$KILN" rm -f >/dev/null 2>&1 || true
# podman's throw-away storage (its overlay mounts go with it)
"${pod[@]}" system reset -f >/dev/null 2>&1 || true
