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
chromium libdpkg-dev"
# chromium: tests/e2e/dataenv_api.bats renders the API's /docs page headless.
# libdpkg-dev: kiln scan's test compares dpkg version order against libdpkg's own.
# kiln compose and kube (src/compose/, src/kube/): libyaml reads and writes YAML
PKGS="$PKGS libyaml-dev"

# Kubernetes manifests (dataenv/deploy, tests/e2e/kube.bats): kubectl renders them
# with its Kustomize and node/npm run the offline schema check. Debian's
# kubernetes-client (kubectl 1.20) and nodejs/npm only where no kubectl or npm is
# installed already: a Cloud SDK kubectl (/usr/bin/kubectl) or NodeSource's node
# conflicts with them and makes apt fail.
command -v kubectl >/dev/null 2>&1 || PKGS="$PKGS kubernetes-client"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"

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
