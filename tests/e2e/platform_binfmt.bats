#!/usr/bin/env bats
# Where no binfmt_misc handler for a foreign platform is registered: kiln as root
# mounts binfmt_misc and registers Debian's handler; not root, it stops before the
# first step with one message naming the package and the command to run.
# The machine's real handlers are never touched: each case runs in a mount
# namespace of its own (unshare -m) where /proc/sys/fs/binfmt_misc is an empty
# tmpfs, which is how kiln sees a machine with no handler (and no binfmt_misc).
load helpers

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
}

teardown() {
    [ -n "${T:-}" ] && rm -rf "$T"
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
