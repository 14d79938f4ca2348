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

# Each runner gets a fresh store (not timed) and prints "wall cpu" seconds
# (cpu = user + sys of the tool and its children: fairer on a busy machine).
timed() {
    /usr/bin/time -f '%e %U %S' -o "$WORK/time" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; return 1; }
    awk '{printf "%s %.3f\n", $1, $2 + $3}' "$WORK/time"
}
run_kiln_dir() {
    rm -rf "$WORK/kiln"
    KILN_ROOT="$WORK/kiln" timed "$KILN" import "$DIR" -t bench/minbase
}
run_kiln_tar() {
    rm -rf "$WORK/kilnt"
    KILN_ROOT="$WORK/kilnt" timed "$KILN" import --allow-devices "$TAR" -t bench/minbase
}
run_podman() {
    podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" rmi -a -f >/dev/null 2>&1 || true
    rm -rf "$WORK/podman"
    mkdir -p "$WORK/podman"
    timed podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" import "$TAR" bench/minbase
}
run_umoci() {
    rm -rf "$WORK/umoci"
    timed sh -c 'umoci init --layout "$1" && umoci new --image "$1:minbase" &&
                 umoci insert --image "$1:minbase" "$2" /' umoci "$WORK/umoci" "$DIR"
}

TOOLS="kiln_dir kiln_tar podman umoci"
declare -A wall cpu
for r in $(seq 1 "$ROUNDS"); do
    for t in $TOOLS; do
        read -r w c < <(run_"$t")
        wall[$t]="${wall[$t]:-} $w"
        cpu[$t]="${cpu[$t]:-} $c"
        printf 'round %d %-9s %6.3f s wall %6.3f s cpu\n' "$r" "$t" "$w" "$c" >&2
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A mw mc
for t in $TOOLS; do
    mw[$t]=$(echo "${wall[$t]}" | median)
    mc[$t]=$(echo "${cpu[$t]}" | median)
done
echo "median of $ROUNDS rounds (load average now: $(cut -d' ' -f1 /proc/loadavg)):"
printf '  %-9s %8s %8s\n' tool wall cpu
for t in $TOOLS; do printf '  %-9s %8.3f %8.3f\n' "$t" "${mw[$t]}" "${mc[$t]}"; done
for t in podman umoci; do
    printf 'kiln import (dir) / %-6s wall %.2f  cpu %.2f\n' "$t" \
        "$(echo "${mw[kiln_dir]} / ${mw[$t]}" | bc -l)" "$(echo "${mc[kiln_dir]} / ${mc[$t]}" | bc -l)"
done
printf 'kiln import (tar) / podman wall %.2f  cpu %.2f\n' \
    "$(echo "${mw[kiln_tar]} / ${mw[podman]}" | bc -l)" "$(echo "${mc[kiln_tar]} / ${mc[podman]}" | bc -l)"
