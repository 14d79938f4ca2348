#!/bin/sh
# Makes debian:bookworm-slim without a registry: an mmdebstrap minbase rootfs (merged
# /usr, no docs/man/locales) as a tar, bit-identical for one package set and epoch,
# cached outside the repo keyed by everything that goes into it. No /dev entries:
# device nodes do not belong in a layer (runtimes make /dev).
#
#   scripts/ml-base.sh [--arch ARCH] [--print-key] [--print-path]   prints the tar path
#
# --arch ARCH (a Debian architecture: arm64, armhf, riscv64 ...; default the host's)
# makes a foreign root file system: mmdebstrap --architectures=ARCH runs the
# packages' maintainer scripts under QEMU through binfmt_misc (qemu-user-static).
#
# Environment: KILN_BASE_CACHE (default /var/tmp/kiln-base), KILN_BASE_TRIES (mmdebstrap
# runs before giving up, default 3: mirrors have hiccups), BASE_SOURCE_DATE_EPOCH
# (default: dataenv/config/versions.conf's; never SOURCE_DATE_EPOCH, which is the
# app build's and would make a new base, and rebuild everything, per commit), BASE_SUITE,
# BASE_SOURCES (apt sources file; default the host's /etc/apt/sources.list.d/debian.sources).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
conf="$here/dataenv/config/versions.conf"
confval() { sed -n "s/^$1=//p" "$conf" | tail -n 1; }

cache=${KILN_BASE_CACHE:-/var/tmp/kiln-base}
suite=${BASE_SUITE:-$(confval BASE_SUITE)}
epoch=${BASE_SOURCE_DATE_EPOCH:-$(confval BASE_SOURCE_DATE_EPOCH)}
sources=${BASE_SOURCES:-/etc/apt/sources.list.d/debian.sources}
[ -r "$sources" ] || { echo "ml-base: apt sources $sources not readable; set BASE_SOURCES" >&2; exit 1; }

arch=""
if [ "${1:-}" = "--arch" ]; then
    [ -n "${2:-}" ] || { echo "ml-base: --arch needs a Debian architecture (e.g. arm64)" >&2; exit 2; }
    arch=$2
    shift 2
    [ "$arch" = "$(dpkg --print-architecture)" ] && arch=""
fi
opts="--variant=minbase --mode=root --format=tar --skip=output/dev
--dpkgopt=path-exclude=/usr/share/man/*
--dpkgopt=path-exclude=/usr/share/doc/*
--dpkgopt=path-include=/usr/share/doc/*/copyright
--dpkgopt=path-exclude=/usr/share/locale/*
--dpkgopt=path-exclude=/usr/share/info/*
--dpkgopt=path-exclude=/usr/share/lintian/*
--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr"
# the host's tar keeps its name (and cache key) from before --arch existed
[ -n "$arch" ] && opts="$opts
--architectures=$arch"

key=$( { echo "$suite $epoch"; echo "$opts"; cat "$sources"; } | sha256sum | cut -c1-16)
out="$cache/bookworm-slim-${arch:+$arch-}$key.tar"
case "${1:-}" in
--print-key) echo "$key"; exit 0 ;;
--print-path) echo "$out"; exit 0 ;;
esac

if [ ! -s "$out" ]; then
    command -v mmdebstrap >/dev/null || { echo "ml-base: mmdebstrap missing (apt-get install mmdebstrap)" >&2; exit 1; }
    mkdir -p "$cache"
    tmp="$out.tmp.$$"
    trap 'rm -f "$tmp"' EXIT
    # A mirror hiccup ("apt download failed") passes on a second try: up to
    # KILN_BASE_TRIES (3) runs, each failure said.
    tries=${KILN_BASE_TRIES:-3}
    n=1
    set -f
    # shellcheck disable=SC2086
    until SOURCE_DATE_EPOCH=$epoch mmdebstrap ${MMDEBSTRAP_VERBOSE:---quiet} $opts "$suite" "$tmp" "$sources" >&2; do
        rm -f "$tmp"
        if [ "$n" -ge "$tries" ]; then
            echo "ml-base: mmdebstrap failed $n times (its errors are above); check the mirror in $sources and run make ml-base again" >&2
            exit 1
        fi
        echo "ml-base: mmdebstrap failed (attempt $n of $tries, errors above); retrying in $((n * 10)) s" >&2
        sleep $((n * 10))
        n=$((n + 1))
    done
    set +f
    mv "$tmp" "$out"
    trap - EXIT
fi
echo "$out"
