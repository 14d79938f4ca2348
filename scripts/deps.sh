#!/bin/sh
# Installs the Debian packages a make target needs, only those missing, one group
# per purpose. Idempotent and quick when everything is there. Needs root (or sudo).
#
#   scripts/deps.sh [GROUP...]   build clang dataenv test bench, or all (the default)
#   scripts/deps.sh --list [GROUP...]   print the groups' packages, one a line
#
# One line per group that installs something ("deps: installing 9 packages for
# building kiln ..."); apt's own output is kept in a log and shown in full only
# when apt fails, with the command to retry.
set -eu

# The groups. "GROUP: package package ...  # what for"; a group may take several
# lines. Adding a package to a group is adding a word (or a line) here. "a|b": either
# one will do (b, e.g. nodejs from another source, provides what a does); a is installed.
table() {
    cat <<'EOF'
build:   build-essential pkg-config                                # compiler, make
build:   libarchive-dev libcurl4-openssl-dev libjansson-dev libssl-dev libzstd-dev
build:   zlib1g-dev libdeflate-dev libseccomp-dev libcap-dev        # kiln's libraries
build:   libyaml-dev                                               # compose and kube files
clang:   clang libclang-rt-14-dev                                  # make check-clang, make fuzz
dataenv: mmdebstrap                                                # the base image (scripts/ml-base.sh)
dataenv: musl-tools                                                # the images' static healthcheck
dataenv: npm|nodejs                                                # DuckDB's library (scripts/ml-stage.sh)
dataenv: jq git curl openssl                                       # build script, ml-* targets
dataenv: qemu-user-static binfmt-support arch-test                 # make ml-base's arm64 base (mmdebstrap under QEMU)
test:    bats busybox-static jq python3 python3-jsonschema git curl file zstd attr libcap2-bin
test:    uidmap iproute2 util-linux openssh-client apache2-utils openssl
test:    skopeo umoci crun runc podman catatonit buildah           # peers the tests compare with
test:    golang-github-opencontainers-image-spec-dev               # OCI JSON schemas
test:    docker-registry                                           # a registry on loopback
test:    chromium                                                  # the API's /docs page, headless
test:    podman-compose                                            # dataenv_stack.bats: the stack by the peer
test:    libdpkg-dev                                               # dpkg's version order (kiln scan)
test:    npm|nodejs                                                # schemas from npm at test time
test:    kubernetes-client|kubectl                                 # Kustomize (a Cloud SDK kubectl will do)
test:    slirp4netns                                               # --network private, -p, pods: the namespace's outbound traffic and DNS
test:    qemu-user-static binfmt-support arch-test                 # other platforms under emulation
test:    gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils      # the arm64 image's static healthcheck
bench:   buildah podman crun runc skopeo umoci mmdebstrap docker-registry # peers (bench/run-all.sh)
bench:   hyperfine time gnuplot-nox jq python3 catatonit
bench:   iperf3                                                    # bench/net.sh: one TCP stream
bench:   podman-compose                                            # bench/compose.sh: the stack by the peer
EOF
}

# What each group is for, as the install line says it.
purpose() {
    case $1 in
    build) echo "building kiln" ;;
    clang) echo "building kiln with clang and fuzzing" ;;
    dataenv) echo "building the data environment" ;;
    test) echo "the tests" ;;
    bench) echo "the benchmarks" ;;
    *) echo "$1" ;;
    esac
}

all_groups() { table | sed -n 's/^\([a-z][a-z0-9-]*\):.*/\1/p' | awk '!seen[$0]++'; }
packages() { table | sed 's/#.*//' | awk -v g="$1:" '$1 == g { for (i = 2; i <= NF; i++) print $i }'; }

list=0
if [ "${1:-}" = --list ]; then
    list=1
    shift
fi
[ $# -gt 0 ] || set -- all
for g in "$@"; do
    [ "$g" = all ] || all_groups | grep -qx "$g" || {
        echo "deps: unknown group '$g' (groups: $(all_groups | tr '\n' ' ')all)" >&2
        exit 2
    }
done
# the groups asked for, in the table's order
groups=""
for g in $(all_groups); do
    case " $* " in *" $g "* | *" all "*) groups="$groups $g" ;; esac
done

if [ $list = 1 ]; then
    for g in $groups; do packages "$g"; done | sed 's/|.*//' | awk '!seen[$0]++'
    exit 0
fi

# Installed packages, in one dpkg-query call.
installed=" $(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null |
    awk '$1 == "ii" { printf "%s ", $2 }') "
is_installed() { case $installed in *" $1 "*) return 0 ;; esac; return 1; }

missing="" lines=""
for g in $groups; do
    want=""
    n=0
    for p in $(packages "$g"); do
        first=${p%%|*}
        case " $missing " in *" $first "*) continue ;; esac
        have=0
        rest=$p
        while [ -n "$rest" ]; do
            is_installed "${rest%%|*}" && have=1
            case $rest in *"|"*) rest=${rest#*|} ;; *) rest="" ;; esac
        done
        [ $have = 0 ] || continue
        p=$first
        want="$want $p"
        n=$((n + 1))
    done
    [ $n -gt 0 ] || continue
    missing="$missing$want"
    word=packages
    [ $n -eq 1 ] && word=package
    lines="${lines}deps: installing $n $word for $(purpose "$g"):$want
"
done
[ -n "$missing" ] || exit 0
printf '%s' "$lines"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp "${TMPDIR:-/tmp}/kiln-deps.XXXXXX")
trap 'rm -f "$log"' EXIT
apt="$SUDO apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0"
retry="${SUDO:+sudo }apt-get update && ${SUDO:+sudo }apt-get install --no-install-recommends$missing"
# shellcheck disable=SC2086
if ! $apt update >"$log" 2>&1 ||
    ! $apt install -y --no-install-recommends $missing >>"$log" 2>&1; then
    cat "$log" >&2
    echo "deps: apt-get failed (its output is above); to retry: $retry" >&2
    exit 1
fi
