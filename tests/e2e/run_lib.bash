# Helpers for the runtime's end-to-end tests (tests/e2e/run*.bats).

# make_busybox_rootfs DIR: a busybox-static root with /etc/passwd and /etc/group.
make_busybox_rootfs() {
    local r=$1 a
    mkdir -p "$r/bin" "$r/etc" "$r/home/app" "$r/tmp" "$r/root"
    cp /bin/busybox "$r/bin/"
    for a in $("$r/bin/busybox" --list); do
        [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n' >"$r/etc/passwd"
    printf 'root:x:0:\napp:x:1000:\ndata:x:2000:app\n' >"$r/etc/group"
    chmod 1777 "$r/tmp"
}

# The busybox fixture the run tests share: run_fixture_file in setup_file makes
# the root once per file (RUN_FIXTURE), run_fixture_store in setup gives each
# test a fresh store holding it as bb; remove_containers in teardown leaves no
# supervisor behind, whatever failed.
run_fixture_file() {
    export RUN_FIXTURE="$BATS_FILE_TMPDIR/fixture"
    make_busybox_rootfs "$RUN_FIXTURE/rootfs"
}
run_fixture_store() {
    setup_store
    kiln import "$RUN_FIXTURE/rootfs" -t bb -c 'CMD ["sh"]' >/dev/null
}
remove_containers() {
    local id
    for id in $(kiln ps -q 2>/dev/null); do kiln rm -f "$id" >/dev/null 2>&1 || true; done
}

# remove_pods: every pod of $KILN_ROOT, forced (a test's teardown).
remove_pods() {
    local p
    for p in $(kiln pod ps 2>/dev/null | awk 'NR>1{print $1}'); do kiln pod rm -f "$p" >/dev/null 2>&1 || true; done
}

# put_blob FILE: stores FILE as a blob in $KILN_ROOT, prints its digest.
put_blob() {
    local hex
    hex=$(sha256sum "$1" | cut -d' ' -f1)
    cp "$1" "$KILN_ROOT/blobs/sha256/$hex"
    echo "sha256:$hex"
}

# retag_with_config FROM TO JQ: tags TO as FROM with its image config edited by
# the jq filter (for what `kiln import --change` cannot set, e.g. HEALTHCHECK).
# Works on the plain OCI layout, as any OCI tool could.
retag_with_config() {
    local from=$1 to=$2 filter=$3 idx=$KILN_ROOT/index.json tmp=$BATS_TEST_TMPDIR
    local mdig cdig newc newm size
    mdig=$(jq -r --arg n "$from:latest" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]==$n) | .digest' "$idx")
    jq -c . "$KILN_ROOT/blobs/sha256/${mdig#sha256:}" >"$tmp/m.json"
    cdig=$(jq -r .config.digest "$tmp/m.json")
    jq -cj "$filter" "$KILN_ROOT/blobs/sha256/${cdig#sha256:}" >"$tmp/c.json"
    newc=$(put_blob "$tmp/c.json")
    size=$(stat -c %s "$tmp/c.json")
    jq -cj --arg d "$newc" --argjson s "$size" '.config.digest=$d | .config.size=$s' "$tmp/m.json" >"$tmp/m2.json"
    newm=$(put_blob "$tmp/m2.json")
    size=$(stat -c %s "$tmp/m2.json")
    jq -c --arg d "$newm" --argjson s "$size" --arg n "$to:latest" \
        '.manifests += [{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":$d,"size":$s,"annotations":{"org.opencontainers.image.ref.name":$n}}]' \
        "$idx" >"$tmp/idx.json"
    mv "$tmp/idx.json" "$idx"
}

# podman with its own throw-away store and the ulimits this machine needs
# (root lacks CAP_SYS_RESOURCE; RLIMIT_NOFILE's hard limit is 20000).
kiln_podman() {
    local pr=${KILN_TEST_PODMAN_ROOT:-/var/tmp/kiln-e2e-podman}
    local sub=$1
    shift
    podman --root "$pr/root" --runroot "$pr/run" "$sub" \
        --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 "$@"
}

# podman_usable: podman can start a container. crun refuses while the
# cgroup2 mount of this hybrid machine owns the hugetlb controller; giving
# hugetlb its own v1 hierarchy (as the other v1 controllers have) fixes that.
podman_usable() {
    command -v podman >/dev/null || return 1
    local r=$BATS_FILE_TMPDIR/podman-probe
    [ -d "$r" ] || { mkdir -p "$r/bin" && cp /bin/busybox "$r/bin/true"; }
    kiln_podman run --rm --rootfs "$r" /bin/true >/dev/null 2>&1 && return 0
    if grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null &&
        [ "$(id -u)" -eq 0 ]; then
        mkdir -p /sys/fs/cgroup/hugetlb
        mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb 2>/dev/null || true
    fi
    kiln_podman run --rm --rootfs "$r" /bin/true >/dev/null 2>&1
}
