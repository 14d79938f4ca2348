# Helpers for the image import/export/save/load tests.

# The store is consistent: kiln fsck (when the command exists) and an
# independent check of blobs and tag references.
store_is_clean() {
    if "$KILN" help fsck >/dev/null 2>&1; then
        run "$KILN" fsck
        if [ "$status" -ne 0 ]; then
            echo "kiln fsck failed: $output"
            return 1
        fi
    fi
    run python3 "$BATS_TEST_DIRNAME/store_check.py" "$KILN_ROOT"
    if [ "$status" -ne 0 ]; then
        echo "store check failed: $output"
        return 1
    fi
}

# Tags in index.json, one per line.
store_tags() {
    jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"] // empty' "$KILN_ROOT/index.json"
}

# A busybox root file system with odd modes, an owner change, a hardlink,
# a file capability and a user xattr.
make_busybox_rootfs() {
    local r=$1
    mkdir -p "$r/bin" "$r/sbin" "$r/etc" "$r/tmp" "$r/home/user" "$r/var/empty"
    cp /bin/busybox "$r/bin/busybox"
    for a in sh ls cat echo sleep true; do ln -s busybox "$r/bin/$a"; done
    ln -s /bin/busybox "$r/sbin/abs-link"
    ln "$r/bin/busybox" "$r/sbin/init"
    printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n' >"$r/etc/passwd"
    printf 'secret\n' >"$r/etc/shadow"
    chown 0:42 "$r/etc/shadow"
    chmod 0640 "$r/etc/shadow"
    chmod 1777 "$r/tmp"
    chmod 0555 "$r/var/empty"
    printf 'hello\n' >"$r/home/user/notes"
    chmod 0600 "$r/home/user/notes"
    chown -R 1000:1000 "$r/home/user"
    printf '#!/bin/sh\necho ping\n' >"$r/bin/pinger"
    chmod 0755 "$r/bin/pinger"
    setcap cap_net_raw+ep "$r/bin/pinger"
    cp "$r/bin/pinger" "$r/bin/suid"
    chmod 4755 "$r/bin/suid"
    setfattr -n user.kiln.note -v acceptance "$r/etc/passwd"
    mkfifo "$r/tmp/fifo"
}
