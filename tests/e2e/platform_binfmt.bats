#!/usr/bin/env bats
# Where no binfmt_misc handler for a foreign platform is registered: kiln as root
# mounts binfmt_misc and registers Debian's handler; not root, it stops before the
# first step with one message naming the package and the command to run.
# The machine's real handlers are never touched: each case runs in a mount
# namespace of its own (unshare -m) where /proc/sys/fs/binfmt_misc is an empty
# tmpfs, which is how kiln sees a machine with no handler (and no binfmt_misc).
# Root's registering is tested as root of a user namespace (unshare -Ur), whose
# binfmt_misc is an instance of its own (Linux 6.7+): kiln registers into it,
# the machine's handlers neither seen nor changed.
load platform_helpers

setup() {
    setup_store
    [ "$(id -u)" -eq 0 ] || skip "needs root (unshare -m, setpriv)"
    command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
    # a context and a store the unprivileged user (nobody) can reach, read and write
    # (bats' own directories are private to root)
    T=$(mktemp -d /tmp/kiln-binfmt.XXXXXX)
    chmod 755 "$T"
    mkdir -p "$T/ctx"
    printf 'FROM scratch\nCOPY f /f\nCOPY f /g\n' >"$T/ctx/Dockerfile"
    echo x >"$T/ctx/f"
    chown -R 65534:65534 "$T"
    # "${NOBODY[@]}" CMD...: CMD as nobody with $T as home and $T/store as its store
    NOBODY=(env HOME="$T" KILN_ROOT="$T/store" setpriv --reuid=65534 --regid=65534 --clear-groups)
}

teardown() {
    [ -n "${T:-}" ] && rm -rf "$T"
}


# in_own_binfmt CMD...: CMD as root of a new user namespace where
# /proc/sys/fs/binfmt_misc is an empty tmpfs: kiln mounts binfmt_misc there, which
# gives the namespace an instance of its own, empty (Linux 6.7+)
in_own_binfmt() {
    unshare -Urm --propagation private sh -c \
        'mount -t tmpfs -o size=64k kiln-test-own-binfmt /proc/sys/fs/binfmt_misc && exec "$@"' sh "$@"
}

own_binfmt_or_skip() {
    # an older kernel refuses binfmt_misc in a user namespace (and kiln's mount fails)
    in_own_binfmt sh -c 'mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc &&
        [ "$(ls /proc/sys/fs/binfmt_misc | tr "\n" " ")" = "register status " ]' 2>/dev/null ||
        skip "no binfmt_misc instance per user namespace (Linux 6.7+)"
}

# $T/store (nobody's) with bb:arm64, an arm64 busybox image
arm64_image() {
    local bb
    bb=$(arm64_busybox) || skip "could not fetch busybox-static:arm64"
    make_bb_rootfs "$T/rf" "$bb"
    KILN_ROOT="$T/store" kiln import --platform linux/arm64 "$T/rf" -t bb:arm64 >/dev/null
    chown -R 65534:65534 "$T"
}

# in_empty_binfmt CMD...: CMD in a private mount namespace whose binfmt_misc is empty
in_empty_binfmt() {
    unshare -m --propagation private sh -c \
        'mount -t tmpfs -o size=64k kiln-test-empty-binfmt /proc/sys/fs/binfmt_misc && exec "$@"' sh "$@"
}

@test "binfmt: not root and no handler: one message naming the package and the command, before the first step" {
    run in_empty_binfmt env HOME="$T" KILN_ROOT="$T/store" \
        setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$KILN" build --progress=plain --platform linux/arm64 -t x:1 "$T/ctx"
    [ "$status" -eq 1 ] || { echo "$output"; false; }
    [[ "$output" == *"platform linux/arm64 needs QEMU user emulation: binfmt_misc handler qemu-aarch64 is not registered"* ]]
    [[ "$output" == *'`apt-get install qemu-user-static binfmt-support`'* ]]
    [[ "$output" == *'`update-binfmts --enable qemu-aarch64`'* ]]
    [ "$(grep -c 'qemu-user-static' <<<"$output")" -eq 1 ]
    # nothing ran: no step line of the progress, no image
    ! grep -Eq '^#[0-9]+ ' <<<"$output"
    [ ! -e "$T/store/index.json" ] || [ "$(jq '.manifests | length' "$T/store/index.json")" -eq 0 ]
    # a multi-platform build stops the same way (the native platform does not start either)
    run in_empty_binfmt env HOME="$T" KILN_ROOT="$T/store" \
        setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$KILN" build --progress=plain --platform linux/amd64,linux/riscv64 -t x:2 "$T/ctx"
    [ "$status" -eq 1 ] || { echo "$output"; false; }
    [[ "$output" == *"platform linux/riscv64 needs QEMU user emulation"*'update-binfmts --enable qemu-riscv64'* ]]
    ! grep -Eq '^#[0-9]+ ' <<<"$output"
    # the host's own platform needs no handler
    run in_empty_binfmt env HOME="$T" KILN_ROOT="$T/store" \
        setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$KILN" build -q --platform linux/amd64 -t x:3 "$T/ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ "$output" != *"QEMU"* ]]
}

@test "binfmt: root with binfmt_misc not mounted: kiln mounts it and finds the registered handler" {
    grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null || skip "no qemu-aarch64 handler on this machine"
    run in_empty_binfmt "$KILN" build -q --platform linux/arm64 -t r:1 "$T/ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ "$output" != *"QEMU"* ]]
    kiln inspect r:1 | jq -e '.[0].architecture == "arm64"' >/dev/null
}

@test "binfmt: kiln run of a foreign image with no handler: the same message, nothing started" {
    arm64_image
    for args in "--platform linux/arm64" "" "-d --name c1 --platform linux/arm64"; do
        # shellcheck disable=SC2086
        run in_empty_binfmt "${NOBODY[@]}" "$KILN" run --rm $args bb:arm64 uname -m
        [ "$status" -ne 0 ] || { echo "$args: $output"; false; }
        [[ "$output" == *"platform linux/arm64 needs QEMU user emulation: binfmt_misc handler qemu-aarch64 is not registered"* ]]
        [[ "$output" == *'`apt-get install qemu-user-static binfmt-support`'*'`update-binfmts --enable qemu-aarch64`'* ]]
        [ "$(grep -c 'qemu-user-static' <<<"$output")" -eq 1 ]
        ! grep -qx aarch64 <<<"$output"
        # nothing started, nothing left
        [ -z "$("${NOBODY[@]}" "$KILN" ps -a -q)" ]
    done
}

@test "binfmt: root and no handler registered: kiln registers Debian's, with the F flag; linux/arm/v7 too" {
    own_binfmt_or_skip
    [ -r /usr/lib/binfmt.d/qemu-aarch64.conf ] && [ -r /usr/lib/binfmt.d/qemu-arm.conf ] ||
        skip "qemu-user-static not installed"
    a64=$(arm64_busybox) || skip "could not fetch busybox-static:arm64"
    a32=$(deb_busybox armhf) || skip "could not fetch busybox-static:armhf"
    before=$(ls /proc/sys/fs/binfmt_misc)
    mkdir "$T/argctx"
    printf 'FROM scratch\nARG TARGETPLATFORM TARGETARCH TARGETVARIANT\nLABEL p=$TARGETPLATFORM a=$TARGETARCH v=$TARGETVARIANT\n' \
        >"$T/argctx/Dockerfile"
    chown -R 0:0 "$T"
    B=/proc/sys/fs/binfmt_misc
    run in_own_binfmt sh -c '
        "$1" build -q --platform linux/arm64 -t r:arm64 "$2" >/dev/null || exit 1
        echo "== aarch64"; cat '$B'/qemu-aarch64; "$3" uname -m
        "$1" build -q --platform linux/amd64,armhf -t r:multi "$5" >/dev/null || exit 1
        echo "== arm"; cat '$B'/qemu-arm; "$4" uname -m' sh "$KILN" "$T/ctx" "$a64" "$a32" "$T/argctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ "$output" != *"QEMU"* ]]
    # registered, with F (the emulator opened at registration: it works in a
    # container's mount namespace), and working
    sed -n '/^== aarch64/,/^== arm/p' <<<"$output" | grep -Eq '^flags: [A-Z]*F'
    sed -n '/^== aarch64/,/^== arm/p' <<<"$output" | grep -qx 'interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P'
    sed -n '/^== aarch64/,/^== arm/p' <<<"$output" | grep -qx aarch64
    sed -n '/^== arm$/,$p' <<<"$output" | grep -Eq '^flags: [A-Z]*F'
    sed -n '/^== arm$/,$p' <<<"$output" | grep -qx armv7l
    # the images: armhf is linux/arm/v7 in the index and in the image's config
    [ "$(kiln inspect -f .architecture r:arm64)" = arm64 ]
    [ "$(kiln inspect -f .platforms r:multi)" = '["linux/amd64","linux/arm/v7"]' ]
    raw=$(skopeo inspect --raw "oci:$KILN_ROOT:r:multi")
    [ "$(jq -c '.manifests[1].platform' <<<"$raw")" = '{"architecture":"arm","os":"linux","variant":"v7"}' ]
    [ "$(kiln inspect --platform linux/arm/v7 -f .architecture r:multi)" = arm ]
    [ "$(kiln inspect --platform linux/arm/v7 r:multi | jq -r '.[0].variant')" = v7 ]
    [ "$(kiln inspect --platform linux/arm/v7 r:multi | jq -c '.[0].config.config.Labels')" = '{"a":"arm","p":"linux/arm/v7","v":"v7"}' ]
    [ "$(kiln inspect --platform linux/amd64 r:multi | jq -c '.[0].config.config.Labels')" = '{"a":"amd64","p":"linux/amd64","v":""}' ]
    # the machine's handlers: as they were
    [ "$(ls /proc/sys/fs/binfmt_misc)" = "$before" ]
}

@test "binfmt: root with a handler kiln cannot use (no F flag, disabled) or none to register: one message, no step, nothing started" {
    own_binfmt_or_skip
    [ -r /usr/lib/binfmt.d/qemu-aarch64.conf ] || skip "qemu-user-static not installed"
    arm64_image
    chown -R 0:0 "$T"
    # Debian's handler with P alone: what binfmt-support registered before it knew F
    noF=$(sed 's/:[A-Z]*$/:P/' /usr/lib/binfmt.d/qemu-aarch64.conf)
    # prereg DISABLE CMD...: CMD where qemu-aarch64 is registered without F (and disabled if DISABLE=1)
    prereg() {
        in_own_binfmt sh -c 'mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc &&
            printf %s "$1" >/proc/sys/fs/binfmt_misc/register &&
            if [ "$2" = 1 ]; then echo 0 >/proc/sys/fs/binfmt_misc/qemu-aarch64; fi && shift 2 && exec "$@"' \
            sh "$noF" "$@"
    }
    export KILN_ROOT="$T/store"
    for d in 0 1; do
        want="lacks the F flag"
        [ $d = 1 ] && want="is disabled"
        run prereg $d "$KILN" build --progress=plain --platform linux/arm64 -t nf "$T/ctx"
        [ "$status" -eq 1 ] || { echo "$output"; false; }
        [[ "$output" == *"platform linux/arm64 needs QEMU user emulation: binfmt_misc handler qemu-aarch64 $want"* ]]
        [[ "$output" == *'`update-binfmts --enable qemu-aarch64`'* ]]
        ! grep -Eq '^#[0-9]+ ' <<<"$output"
        run prereg $d "$KILN" run --rm --platform linux/arm64 bb:arm64 uname -m
        [ "$status" -ne 0 ]
        [[ "$output" == *"binfmt_misc handler qemu-aarch64 $want"* ]] || { echo "$output"; false; }
        [ -z "$(kiln ps -a -q)" ]
    done
    # no handler and nothing to register it from (qemu-user-static not installed:
    # an empty /usr/lib/binfmt.d in the namespace): the message, no step, no container
    mkdir "$T/nobinfmtd"
    for c in "build --progress=plain --platform linux/arm64 -t nf $T/ctx" "run --rm --platform linux/arm64 bb:arm64 uname -m"; do
        # shellcheck disable=SC2086
        run in_own_binfmt sh -c 'mount --bind "$1" /usr/lib/binfmt.d && shift && exec "$@"' sh "$T/nobinfmtd" "$KILN" $c
        [ "$status" -ne 0 ]
        [[ "$output" == *"platform linux/arm64 needs QEMU user emulation: binfmt_misc handler qemu-aarch64 is not registered"* ]] ||
            { echo "$c: $output"; false; }
        [[ "$output" == *'`apt-get install qemu-user-static binfmt-support`'*'`update-binfmts --enable qemu-aarch64`'* ]]
        ! grep -Eq '^#[0-9]+ ' <<<"$output"
        ! grep -qx aarch64 <<<"$output"
    done
    [ -z "$(kiln ps -a -q)" ]
    run kiln images nf
    [ "${#lines[@]}" -eq 1 ]
}
