# Multi-platform fixtures: an arm64 busybox-static (Debian's .deb, fetched once
# with a throwaway apt configuration and cached in /var/tmp; the host's apt
# configuration is not touched) and a two-platform busybox base index built by
# kiln itself (FROM scratch + COPY of the platform's root file system).
load build_helpers

ARM64_BUSYBOX_CACHE=${KILN_TEST_ARM64_BUSYBOX:-/var/tmp/kiln-test-busybox-arm64}

# deb_busybox ARCH: prints the path of Debian's busybox-static binary for the
# Debian architecture ARCH (arm64, armhf, ...), fetched the first time into
# /var/tmp/kiln-test-busybox-ARCH with a throwaway apt configuration.
deb_busybox() {
    local arch="$1" c="/var/tmp/kiln-test-busybox-$1"
    [ "$arch" = arm64 ] && c="$ARM64_BUSYBOX_CACHE"
    if [ ! -x "$c/busybox" ]; then
        local t
        t=$(mktemp -d)
        mkdir -p "$t/lists/partial" "$t/cache/archives/partial"
        local o=(-o "Dir::State::Lists=$t/lists" -o "Dir::Cache=$t/cache" -o "Dir::State::Status=/dev/null"
            -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -qq)
        # update's status aside: one list out of sync on the mirror (security's,
        # say) fails it while the main archive's list, which has busybox, is there
        apt-get "${o[@]}" update >/dev/null 2>&1
        (cd "$t" && apt-get "${o[@]}" download "busybox-static:$arch" >/dev/null 2>&1) &&
            dpkg-deb -x "$t"/busybox-static_*_"$arch".deb "$t/x" &&
            mkdir -p "$c" && cp "$t/x/bin/busybox" "$c/busybox.tmp" && mv "$c/busybox.tmp" "$c/busybox"
        rm -rf "$t"
    fi
    [ -x "$c/busybox" ] && echo "$c/busybox"
}

# Prints the path of an aarch64 busybox binary (fetching it the first time).
arm64_busybox() {
    deb_busybox arm64
}

# A root file system like make_busybox_rootfs's with the given busybox binary.
make_bb_rootfs() {
    local d="$1" bb="$2"
    mkdir -p "$d/bin" "$d/etc" "$d/tmp" "$d/root" "$d/proc" "$d/dev" "$d/sys"
    chmod 1777 "$d/tmp"
    cp "$bb" "$d/bin/busybox"
    local a
    for a in $(/bin/busybox --list); do
        [ -e "$d/bin/$a" ] || ln -s busybox "$d/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$d/etc/passwd"
    printf 'root:x:0:\n' >"$d/etc/group"
}

# The base's build context (once per file): bb-amd64/ and bb-arm64/.
base_context() {
    local ctx="$BATS_FILE_TMPDIR/basectx"
    if [ ! -f "$ctx/Dockerfile" ]; then
        local bb
        bb=$(arm64_busybox) || return 1
        make_bb_rootfs "$ctx/bb-amd64" /bin/busybox
        make_bb_rootfs "$ctx/bb-arm64" "$bb"
        printf 'FROM scratch\nARG TARGETARCH\nCOPY bb-${TARGETARCH}/ /\nCMD ["/bin/sh"]\n' >"$ctx/Dockerfile"
    fi
    echo "$ctx"
}

# Tags busybox:multi (linux/amd64 + linux/arm64) in the current KILN_ROOT.
build_base_index() {
    local ctx
    ctx=$(base_context) || return 1
    "$KILN" build -q --platform linux/amd64,linux/arm64 -t busybox:multi "$ctx" >/dev/null
}

# The test's Dockerfile: a native cross stage and a per-platform RUN.
app_context() {
    local ctx="$BATS_TEST_TMPDIR/app"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM --platform=$BUILDPLATFORM busybox:multi AS build
ARG TARGETARCH
RUN echo $TARGETARCH $(uname -m) > /out
FROM busybox:multi
RUN uname -m > /arch
COPY --from=build /out /out
DF
    echo "$ctx"
}

# Unpacks the image for linux/$2 of the index tagged $1 in the store; prints the rootfs.
unpack_platform() {
    local out="$BATS_TEST_TMPDIR/u-$2-$RANDOM"
    skopeo copy -q --override-arch "$2" "oci:$KILN_ROOT:$1" "oci:$out:x" &&
        umoci unpack --rootless --image "$out:x" "$out.b" >/dev/null && echo "$out.b/rootfs"
}
