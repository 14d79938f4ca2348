#!/bin/sh
# Stages what dataenv/Dockerfile copies from dataenv/.stage/ (git-ignored):
#   bin/healthcheck        tools/healthcheck, static (built by `make healthcheck`)
#   lib/duckdb/libduckdb.so  from the npm package in versions.conf, integrity checked,
#                          without its static symbol table
#   bin/duckdb             tools/duckdb/duckdb.c linked against it
#   swagger-ui/            the API's /docs assets from npm's swagger-ui-dist (versions.conf),
#                          integrity checked, so the page needs no CDN
#   bin/ARCH/healthcheck   the production image's, per target platform (ARCH is
#                          $TARGETARCH$TARGETVARIANT: amd64, arm64, armv7 ...): the
#                          host's, or cross-compiled (gcc-aarch64-linux-gnu etc.)
#   apt.lock               the apt lock with --locked (DATAENV_APT_LOCK, default
#                          dataenv/locks/apt.lock), else empty
# The npm tarball is cached in KILN_NPM_CACHE (default /var/tmp/kiln-npm).
#   scripts/ml-stage.sh [--locked] [--platform linux/amd64,linux/arm64]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
conf="$root/dataenv/config/versions.conf"
stage="$root/dataenv/.stage"
confval() { eval "v=\${$1:-}"; [ -n "$v" ] && { echo "$v"; return; }; sed -n "s/^$1=//p" "$conf" | tail -n 1; }
die() { echo "ml-stage: $*" >&2; exit 1; }

locked=0 platforms=""
while [ $# -gt 0 ]; do
    case "$1" in
    --locked) locked=1 ;;
    --platform) platforms=${2:-}; shift ;;
    *) die "unknown option $1" ;;
    esac
    shift
done

cache=${KILN_NPM_CACHE:-/var/tmp/kiln-npm}
mkdir -p "$stage/bin" "$stage/lib/duckdb" "$cache"

# npm_fetch PKG VERSION INTEGRITY: the package's tarball in the cache (fetched with
# `npm pack` once), its sha512 checked against INTEGRITY; prints the path.
npm_fetch() {
    tgz="$cache/$(echo "$1" | sed 's|^@||; s|/|-|')-$2.tgz"
    if [ ! -s "$tgz" ]; then
        command -v npm >/dev/null || die "npm is needed to fetch $1@$2 (apt-get install npm)"
        tmp=$(mktemp -d "$cache/pack.XXXXXX")
        (cd "$tmp" && npm pack --silent "$1@$2" >/dev/null) || { rm -rf "$tmp"; die "npm pack $1@$2 failed (is the npm registry reachable?)"; }
        mv "$tmp"/*.tgz "$tgz" && rm -rf "$tmp"
    fi
    got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
    if [ -n "$3" ] && [ "$got" != "$3" ]; then
        rm -f "$tgz"
        die "$1@$2: integrity $got does not match the one in versions.conf ($3)"
    fi
    echo "$tgz"
}

build=${BUILD:-build}
case $build in /*) ;; *) build="$root/$build" ;; esac
# BUILD on the command line: a caller's MAKEFLAGS (e.g. `make asan`'s
# BUILD=build-asan) would otherwise win over the environment's.
make -s -C "$root" BUILD="$build" healthcheck
cp "$build/healthcheck" "$stage/bin/healthcheck.tmp" || die "no $build/healthcheck (make healthcheck failed?)"
mv "$stage/bin/healthcheck.tmp" "$stage/bin/healthcheck"

# The production image's healthcheck per target platform: the host's, else built
# static with Debian's cross compiler for that architecture.
host_arch=$(dpkg --print-architecture)
for p in $(echo "${platforms:-linux/$host_arch}" | tr ',' ' '); do
    a=${p#*/}
    case $a in
    amd64 | x86_64) dir=amd64 deb=amd64 ;;
    arm64 | arm64/v8 | aarch64) dir=arm64 deb=arm64 ;;
    arm | arm/v7 | armhf) dir=armv7 deb=armhf ;;
    arm/v6 | armel) dir=armv6 deb=armel ;;
    386 | i386) dir=386 deb=i386 ;;
    ppc64le) dir=ppc64le deb=ppc64el ;;
    s390x | riscv64) dir=$a deb=$a ;;
    *) die "platform $p: architecture $a is not supported (no healthcheck build for it; the data environment builds for amd64, arm64, arm/v6, arm/v7, 386, ppc64le, s390x, riscv64)" ;;
    esac
    mkdir -p "$stage/bin/$dir"
    out="$stage/bin/$dir/healthcheck"
    if [ "$deb" = "$host_arch" ]; then
        cp "$stage/bin/healthcheck" "$out.tmp" && mv "$out.tmp" "$out"
        continue
    fi
    [ -x "$out" ] && [ "$out" -nt "$root/tools/healthcheck/healthcheck.c" ] && continue
    cc="$(dpkg-architecture -a"$deb" -qDEB_HOST_GNU_TYPE 2>/dev/null)-gcc"
    command -v "$cc" >/dev/null ||
        die "platform $p: $cc is missing (apt-get install gcc-$(dpkg-architecture -a"$deb" -qDEB_HOST_GNU_TYPE | tr _ -))"
    "$cc" -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Os -static -s -ffunction-sections \
        -fdata-sections -fno-asynchronous-unwind-tables -Wl,--gc-sections -Wl,--build-id=none \
        -o "$out.tmp" "$root/tools/healthcheck/healthcheck.c" && mv "$out.tmp" "$out"
done

tgz=$(npm_fetch "$(confval DUCKDB_NPM_PACKAGE)" "$(confval DUCKDB_NPM_VERSION)" "$(confval DUCKDB_NPM_INTEGRITY)")
lib="$stage/lib/duckdb/libduckdb.so"
# Without its static symbol table (.symtab/.strtab: 11 of its 70 MB): the dynamic symbols
# that programs link and load it by stay; a debugger names fewer internal functions.
if [ ! -s "$lib" ] || [ "$tgz" -nt "$lib" ] || readelf -S -W "$lib" | grep -q ' \.symtab '; then
    tar -xzf "$tgz" -O package/libduckdb.so > "$lib.tmp" &&
        strip --strip-unneeded "$lib.tmp" && mv "$lib.tmp" "$lib"
    chmod 0644 "$lib"
fi
# Swagger UI: only the files the page loads (the bundle, the CSS, the icon) and its licence.
swagger=$(npm_fetch "$(confval SWAGGER_UI_NPM_PACKAGE)" "$(confval SWAGGER_UI_NPM_VERSION)" "$(confval SWAGGER_UI_NPM_INTEGRITY)")
ui="$stage/swagger-ui"
if [ ! -s "$ui/swagger-ui-bundle.js" ] || [ "$swagger" -nt "$ui/swagger-ui-bundle.js" ]; then
    rm -rf "$ui.tmp" && mkdir -p "$ui.tmp"
    tar -xzf "$swagger" -C "$ui.tmp" --strip-components=1 package/swagger-ui-bundle.js package/swagger-ui.css \
        package/favicon-32x32.png package/LICENSE
    chmod 0644 "$ui.tmp"/*
    rm -rf "$ui" && mv "$ui.tmp" "$ui"
fi

cli="$stage/bin/duckdb"
if [ ! -x "$cli" ] || [ "$root/tools/duckdb/duckdb.c" -nt "$cli" ] || [ "$lib" -nt "$cli" ]; then
    ${CC:-cc} -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -Wl,--build-id=none \
        -o "$cli.tmp" "$root/tools/duckdb/duckdb.c" \
        -L"$stage/lib/duckdb" -l:libduckdb.so -Wl,-rpath,/usr/local/lib/duckdb
    strip "$cli.tmp" && mv "$cli.tmp" "$cli"
fi

if [ $locked = 1 ]; then
    lockfile=${DATAENV_APT_LOCK:-$root/dataenv/locks/apt.lock}
    [ -s "$lockfile" ] || die "--locked: $lockfile is missing or empty (make ml-lock)"
    cp "$lockfile" "$stage/apt.lock.tmp" && mv "$stage/apt.lock.tmp" "$stage/apt.lock"
else
    : > "$stage/apt.lock"
fi
