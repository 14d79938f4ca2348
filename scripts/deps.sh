#!/bin/sh
# Installs the Debian packages kiln needs to build and test, only those missing.
# Idempotent and quick when everything is there. Needs root (or sudo) for apt.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev
libarchive-dev libcurl4-openssl-dev libjansson-dev libssl-dev libzstd-dev zlib1g-dev libdeflate-dev
libseccomp-dev libcap-dev
bats busybox-static skopeo umoci crun python3-jsonschema
golang-github-opencontainers-image-spec-dev jq uidmap iproute2 util-linux
docker-registry apache2-utils openssl python3 git mmdebstrap curl attr libcap2-bin
musl-tools file zstd podman catatonit openssh-client buildah runc
qemu-user-static binfmt-support arch-test gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils"
# ^ multi-platform builds (docs/build.md "Platforms"): QEMU user emulation through
#   binfmt_misc, arch-test for mmdebstrap --architectures=arm64 (make ml-base), the
#   arm64 cross compiler for the production image's healthcheck (ml-stage.sh),
#   readelf for tests/e2e/platform.bats

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
# shellcheck disable=SC2086
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing
