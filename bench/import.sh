#!/bin/bash
# bench/import.sh: importing a Debian minbase root file system (the mmdebstrap tar
# of scripts/ml-base.sh, ~78 MB, ~4,200 entries, the bench's base image) with kiln,
# podman import and umoci, in alternating rounds:
#   minbase-dir  kiln import DIR     vs umoci insert DIR (umoci takes a directory)
#   minbase-tar  kiln import TAR     vs podman import TAR (podman takes a tar)
# Each run gets a fresh store (not timed). Prints the medians (wall and CPU) and
# kiln's ratios; under bench/run-all.sh it also records the figures. Goal (issue 2):
# kiln no slower than the fastest of them. Not part of `make test`.
#
#   bench/import.sh [ROUNDS]        (default 5; BENCH_QUICK=1: 2)
set -euo pipefail
own_tmp=${BENCH_TMP:-yes}
. "$(dirname "$0")/lib.sh"
[ "$own_tmp" = yes ] && trap 'rm -rf "$BENCH_TMP"' EXIT

ROUNDS=${1:-$([ "$BENCH_QUICK" = 1 ] && echo 2 || echo 5)}
WORK=$BENCH_TMP/import
mkdir -p "$WORK"
export SOURCE_DATE_EPOCH=$BENCH_EPOCH

TAR=$(bench_base_tar)
DIR=$WORK/rootfs
if [ ! -d "$DIR" ]; then
    mkdir -p "$DIR.partial"
    tar --numeric-owner --xattrs --xattrs-include='*' -xpf "$TAR" -C "$DIR.partial"
    mv "$DIR.partial" "$DIR"
fi
bench_log "import: rootfs $(du -sh --apparent-size "$DIR" | cut -f1), $(tar tf "$TAR" | wc -l) entries"

# timed OUTFILE CMD...: "wall cpu" seconds (cpu = user + sys of the tool and its
# children: steadier than wall time on a busy machine)
timed() {
    local out=$1
    shift
    bench_time "$WORK/t" "$@" || { bench_log "import: $* failed (see $BENCH_TMP/cmd.log)"; return 1; }
    tail -n 1 "$WORK/t" | awk '{ print $1, $4 }' >>"$out"
}
# its own tmpdir too: `system reset` removes the tmpdir, by default the machine's /run/libpod
pod=(podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" --tmpdir "$WORK/podman/tmp")
run_kiln_dir() {
    rm -rf "$WORK/kiln"
    KILN_ROOT="$WORK/kiln" timed "$WORK/kiln_dir.times" "$KILN" import "$DIR" -t bench/minbase
}
run_kiln_tar() {
    rm -rf "$WORK/kilnt"
    KILN_ROOT="$WORK/kilnt" timed "$WORK/kiln_tar.times" "$KILN" import "$TAR" -t bench/minbase
}
run_podman() {
    "${pod[@]}" system reset -f >/dev/null 2>&1 || true
    rm -rf "$WORK/podman"
    mkdir -p "$WORK/podman"
    timed "$WORK/podman.times" "${pod[@]}" import "$TAR" bench/minbase
}
run_umoci() {
    rm -rf "$WORK/umoci"
    timed "$WORK/umoci.times" sh -c 'umoci init --layout "$1" && umoci new --image "$1:minbase" &&
                 umoci insert --image "$1:minbase" "$2" /' umoci "$WORK/umoci" "$DIR"
}

TOOLS="kiln_dir umoci kiln_tar podman"
kiln_has import || TOOLS="umoci podman"
rm -f "$WORK"/*.times
for r in $(seq 1 "$ROUNDS"); do
    for t in $TOOLS; do run_"$t" || true; done
done

median() { awk '{ print $1 }' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "import: median of $ROUNDS rounds, wall seconds (load average now: $(cut -d' ' -f1 /proc/loadavg))"
for t in $TOOLS; do
    [ -s "$WORK/$t.times" ] && printf '  %-9s %8.3f\n' "$t" "$(median <"$WORK/$t.times")"
done
record() { # CASE TOOL FILE
    if [ -s "$WORK/$3.times" ]; then
        bench_record bench=import case="$1" scenario=import tool="$2" unit=s \
            runs="$(awk '{ printf "%s ", $1 }' "$WORK/$3.times")" cpu_s="$(awk '{ printf "%s ", $2 }' "$WORK/$3.times")" \
            load="$(cut -d' ' -f1 /proc/loadavg)"
    else
        bench_na import "$1" import "$2" "not available or failed"
    fi
}
record minbase-dir kiln kiln_dir
record minbase-dir umoci umoci
record minbase-tar kiln kiln_tar
record minbase-tar podman podman
"${pod[@]}" system reset -f >/dev/null 2>&1 || true
rm -rf "$WORK"
