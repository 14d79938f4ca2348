# Shared by tests/e2e/build*.bats: a busybox-static base image and helpers.
load helpers

FIXTURES="$BATS_TEST_DIRNAME/../fixtures/build"

# A tiny root file system: busybox-static and its applets, passwd/group.
make_busybox_rootfs() {
    local d="$1"
    mkdir -p "$d/bin" "$d/etc" "$d/tmp" "$d/root" "$d/proc" "$d/dev" "$d/sys" "$d/usr/local/bin"
    chmod 1777 "$d/tmp"
    cp /bin/busybox "$d/bin/busybox"
    local a
    for a in $(/bin/busybox --list); do
        [ -e "$d/bin/$a" ] || ln -s busybox "$d/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/app:/bin/sh\n' >"$d/etc/passwd"
    printf 'root:x:0:\napp:x:1000:\n' >"$d/etc/group"
}

# Imports the rootfs as busybox:test into the current KILN_ROOT.
import_busybox() {
    if [ ! -d "$BATS_FILE_TMPDIR/bbroot" ]; then
        make_busybox_rootfs "$BATS_FILE_TMPDIR/bbroot"
    fi
    SOURCE_DATE_EPOCH=1700000000 "$KILN" import "$BATS_FILE_TMPDIR/bbroot" -t busybox:test >/dev/null
}

# Copies a fixture into a fresh directory and prints its path.
fixture() {
    local dst="$BATS_TEST_TMPDIR/ctx-$1-$RANDOM"
    mkdir -p "$dst"
    cp -a "$FIXTURES/$1/." "$dst/"
    echo "$dst"
}

# The manifest digest a tag points at in the store at $1.
tag_digest() {
    jq -r --arg n "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$1/index.json"
}

# Steps that ran ("DONE") and were cached ("CACHED") in plain progress output.
count_done() { grep -c '^#[0-9]* DONE' <<<"$1" || true; }
count_cached() { grep -c '^#[0-9]* CACHED' <<<"$1" || true; }
