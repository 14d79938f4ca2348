#!/bin/bash
# Benchmark: importing a Debian minbase root file system (mmdebstrap, ~78 MB,
# ~4,200 entries) with kiln, podman import and umoci, in alternating rounds.
# Prints the median of each and kiln's ratio to the others. Not part of
# `make test`. Needs root, mmdebstrap (first run only: the rootfs is cached),
# podman and umoci.
#
#   bench/import.sh [ROUNDS]        (default 5)
#   KILN=build/kiln BENCH_CACHE=/var/tmp/kiln-bench bench/import.sh
set -euo pipefail

ROUNDS=${1:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
KILN=${KILN:-$HERE/../build/kiln}
CACHE=${BENCH_CACHE:-/var/tmp/kiln-bench}
WORK=$(mktemp -d /var/tmp/kiln-bench-run.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}

mkdir -p "$CACHE"
if [ ! -s "$CACHE/rootfs.tar" ]; then
    echo "bench: building the minbase rootfs once into $CACHE (about 30 s)" >&2
    mmdebstrap --quiet --variant=minbase --mode=root --format=tar \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        bookworm "$CACHE/rootfs.tar.partial" /etc/apt/sources.list.d/debian.sources
    mv "$CACHE/rootfs.tar.partial" "$CACHE/rootfs.tar"
fi
if [ ! -d "$CACHE/rootfs" ]; then
    mkdir -p "$CACHE/rootfs.partial"
    tar --numeric-owner --xattrs --xattrs-include='*' -xpf "$CACHE/rootfs.tar" -C "$CACHE/rootfs.partial"
    mv "$CACHE/rootfs.partial" "$CACHE/rootfs"
fi
TAR=$CACHE/rootfs.tar
DIR=$CACHE/rootfs
echo "rootfs: $(du -sh --apparent-size "$DIR" | cut -f1), $(tar tf "$TAR" | wc -l) entries" >&2

now() { date +%s.%N; }

# Each runner gets a fresh store (not timed) and prints its wall time.
run_kiln_dir() {
    rm -rf "$WORK/kiln"
    local t0; t0=$(now)
    KILN_ROOT="$WORK/kiln" "$KILN" import "$DIR" -t bench/minbase >/dev/null
    echo "$(now) - $t0" | bc
}
run_kiln_tar() {
    rm -rf "$WORK/kilnt"
    local t0; t0=$(now)
    KILN_ROOT="$WORK/kilnt" "$KILN" import "$TAR" -t bench/minbase >/dev/null
    echo "$(now) - $t0" | bc
}
run_podman() {
    podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" rmi -a -f >/dev/null 2>&1 || true
    rm -rf "$WORK/podman"
    mkdir -p "$WORK/podman"
    local t0; t0=$(now)
    podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" import "$TAR" bench/minbase >/dev/null
    echo "$(now) - $t0" | bc
}
run_umoci() {
    rm -rf "$WORK/umoci"
    local t0; t0=$(now)
    umoci init --layout "$WORK/umoci"
    umoci new --image "$WORK/umoci:minbase"
    umoci insert --rootless=false --image "$WORK/umoci:minbase" "$DIR" / >/dev/null
    echo "$(now) - $t0" | bc
}

TOOLS="kiln_dir kiln_tar podman umoci"
declare -A times
for r in $(seq 1 "$ROUNDS"); do
    for t in $TOOLS; do
        v=$(run_"$t")
        times[$t]="${times[$t]:-} $v"
        printf 'round %d %-9s %.3f s\n' "$r" "$t" "$v" >&2
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A med
for t in $TOOLS; do med[$t]=$(echo "${times[$t]}" | median); done
echo "median of $ROUNDS rounds (seconds):"
for t in $TOOLS; do printf '  %-9s %.3f\n' "$t" "${med[$t]}"; done
for t in podman umoci; do
    printf 'kiln import (dir) / %s = %.2f\n' "$t" "$(echo "${med[kiln_dir]} / ${med[$t]}" | bc -l)"
done
printf 'kiln import (tar) / podman = %.2f\n' "$(echo "${med[kiln_tar]} / ${med[podman]}" | bc -l)"
