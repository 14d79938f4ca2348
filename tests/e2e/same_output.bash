# Same output as buildah: builds a Dockerfile with kiln and with
# `buildah build --layers --format docker` from the same base image, then
# compares the images' root file systems (tests/e2e/tree_compare.py over
# `umoci unpack` of each: paths, types, bytes, modes, owners, link targets,
# hard links, xattrs; mtimes aside) and their configs (`skopeo inspect --config`).
#
# A case is a directory tests/e2e/dockerfiles/NAME holding the Dockerfile and its
# context, plus these files, which are not part of the context:
#   build-args        flags for both builds, one and its value a line (--build-arg K=V,
#                     --target T)
#   prepare.sh        run (sh) in the context first: what git cannot keep
#                     (hard links, modes, dangling links, tars)
#   Dockerfile.buildah  what buildah builds instead of the Dockerfile, where buildah
#                     1.28 lacks a feature or differs from BuildKit's documented
#                     behaviour (its header says why); the result must be the same
#   config.skip       config fields left out of the comparison, one a line with
#                     the reason after it
#   config.unordered  config arrays compared as sets (one field a line): where
#                     buildah orders them differently from BuildKit
#   config.kiln-only  config fields (jq paths) left out of kiln's config only: what
#                     buildah 1.28 cannot give (a flag newer than it)
#   buildah.extra     paths buildah 1.28 puts in the image and BuildKit does not
#                     (e.g. VOLUME directories), one a line with the reason after
#                     it: left out of buildah's tree, and kiln's must lack them
load build_helpers

SAME_DIR="$BATS_TEST_DIRNAME/dockerfiles"
SAME_META="build-args prepare.sh Dockerfile.buildah config.skip config.unordered config.kiln-only buildah.extra"
# buildah 1.28 leaves the mount points of /etc/hosts, /etc/hostname,
# /etc/resolv.conf and /run in the image (BuildKit and kiln do not).
SAME_SKIP=(--skip etc/hosts --skip etc/hostname --skip etc/resolv.conf --skip run)
# The config fields compared (io.buildah.version is buildah's own label).
SAME_CONFIG_JQ='.config // {}
  | {Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes,
     Labels: ((.Labels // {}) | del(."io.buildah.version")),
     StopSignal, Healthcheck, Shell, OnBuild}
  | with_entries(if .value == [] or .value == {} or .value == "" then .value = null else . end)'

same_output_setup() {
    command -v buildah >/dev/null || skip "buildah is not installed"
    command -v umoci >/dev/null || skip "umoci is not installed"
    setup_store
    B_ROOT="$BATS_TEST_TMPDIR/buildah"
    export BUILDAH_RUNTIME=${BUILDAH_RUNTIME:-$(if [ -d /sys/fs/cgroup/unified ] && command -v runc >/dev/null; then echo runc; else echo crun; fi)}
    B_STORE="overlay@$B_ROOT/root+$B_ROOT/run"
}

same_output_teardown() {
    [ -n "${B_ROOT:-}" ] || return 0
    bh rm -a >/dev/null 2>&1 || true
    bh rmi -a -f >/dev/null 2>&1 || true
    umount -R "$B_ROOT/root/overlay" 2>/dev/null || true
}

# buildah keeps RUN --mount=type=cache directories under TMPDIR: a private one,
# so that two test runs at once (two checkouts) never share apt's cache and its
# lock (apt-get fails at once on a held lock).
bh() {
    mkdir -p "$B_ROOT/tmp"
    TMPDIR="$B_ROOT/tmp" buildah --root "$B_ROOT/root" --runroot "$B_ROOT/run" \
        --storage-driver overlay "$@"
}

# Imports the busybox base into kiln's store and buildah's, as localhost/busybox:test.
same_base_busybox() {
    if [ ! -d "$BATS_FILE_TMPDIR/bbroot" ]; then
        make_busybox_rootfs "$BATS_FILE_TMPDIR/bbroot"
    fi
    SOURCE_DATE_EPOCH=1700000000 "$KILN" import "$BATS_FILE_TMPDIR/bbroot" -t localhost/busybox:test >/dev/null
    skopeo copy -q "oci:$KILN_ROOT:localhost/busybox:test" "containers-storage:[$B_STORE]localhost/busybox:test"
}

# same_context NAME: a prepared copy of the case's context; its meta files go
# to $SAME_META_DIR. Prints nothing; sets SAME_CTX.
same_context() {
    local name=$1 f
    SAME_CTX="$BATS_TEST_TMPDIR/ctx-$name"
    SAME_META_DIR="$BATS_TEST_TMPDIR/meta-$name"
    rm -rf "$SAME_CTX" "$SAME_META_DIR"
    mkdir -p "$SAME_META_DIR"
    cp -a "$SAME_DIR/$name" "$SAME_CTX"
    if [ -f "$SAME_CTX/prepare.sh" ]; then
        (cd "$SAME_CTX" && sh -e ./prepare.sh)
    fi
    for f in $SAME_META; do
        if [ -e "$SAME_CTX/$f" ]; then mv "$SAME_CTX/$f" "$SAME_META_DIR/$f"; fi
    done
}

# same_output NAME [EXTRA BUILD ARGS...]: builds the case with both tools and
# compares. On a difference prints the diffs (and fails).
same_output() {
    local name=$1
    shift
    same_context "$name"
    local args=() flag value
    if [ -f "$SAME_META_DIR/build-args" ]; then
        while read -r flag value; do
            [ -n "$flag" ] && args+=("$flag" "$value")
        done <"$SAME_META_DIR/build-args"
    fi
    args+=("$@")
    local bdf=$SAME_CTX/Dockerfile
    [ -f "$SAME_META_DIR/Dockerfile.buildah" ] && bdf=$SAME_META_DIR/Dockerfile.buildah
    same_build_compare "$name" "$SAME_CTX" "$SAME_CTX/Dockerfile" "$bdf" "${args[@]}"
}

# same_build_compare NAME CONTEXT KILN-DOCKERFILE BUILDAH-DOCKERFILE [BUILD ARGS...]:
# the builds and the comparison, with the meta files in $SAME_META_DIR (see
# above) and, when $SAME_VOLATILE names a file, the paths it lists (extended
# regular expressions, one a line, the reason after it) left out of both trees.
same_build_compare() {
    local name=$1 ctx=$2 kdf=$3 bdf=$4
    shift 4
    local out="$BATS_TEST_TMPDIR/out-$name"
    mkdir -p "$out"
    # --timestamp: buildah's RUN steps see SOURCE_DATE_EPOCH, as kiln's do
    if ! bh build --layers --pull=never --format docker -q --timestamp "${SOURCE_DATE_EPOCH:-0}" \
        -f "$bdf" -t "localhost/same-$name:b" "$@" "$ctx" >"$out/buildah.log" 2>&1; then
        echo "buildah build of $name failed:"
        tail -n 20 "$out/buildah.log"
        return 1
    fi
    if ! "$KILN" build --progress=plain -f "$kdf" -t "same-$name:k" "$@" "$ctx" >"$out/kiln.log" 2>&1; then
        echo "kiln build of $name failed:"
        tail -n 20 "$out/kiln.log"
        return 1
    fi

    # root file systems, both through umoci unpack of the image
    bh push -q "localhost/same-$name:b" "oci:$out/b-oci:b" >/dev/null 2>&1 ||
        { echo "buildah push of $name failed"; return 1; }
    umoci unpack --image "$out/b-oci:b" "$out/b-bundle" >/dev/null
    umoci unpack --image "$KILN_ROOT:same-$name:k" "$out/k-bundle" >/dev/null
    python3 "$BATS_TEST_DIRNAME/tree_compare.py" "${SAME_SKIP[@]}" "$out/b-bundle/rootfs" >"$out/buildah.tree"
    python3 "$BATS_TEST_DIRNAME/tree_compare.py" "${SAME_SKIP[@]}" "$out/k-bundle/rootfs" >"$out/kiln.tree"
    rm -rf "$out/b-bundle" "$out/k-bundle" "$out/b-oci"
    if [ -n "${SAME_VOLATILE:-}" ]; then
        local re
        re=$(awk '!/^#/ && NF { printf "%s%s", sep, $1; sep = "|" }' "$SAME_VOLATILE")
        local t
        for t in buildah kiln; do
            awk -v re="^($re) " '$0 !~ re' "$out/$t.tree" >"$out/$t.tree.tmp"
            mv "$out/$t.tree.tmp" "$out/$t.tree"
        done
    fi

    local rc=0 p k
    if [ -f "$SAME_META_DIR/buildah.extra" ]; then
        for p in $(awk '!/^#/ && NF { print $1 }' "$SAME_META_DIR/buildah.extra"); do
            awk -v p="$p" '$1 != p' "$out/buildah.tree" >"$out/buildah.tree.tmp"
            mv "$out/buildah.tree.tmp" "$out/buildah.tree"
            if awk -v p="$p" '$1 == p { found = 1 } END { exit !found }' "$out/kiln.tree"; then
                echo "kiln's $name image has $p, which BuildKit does not make"
                rc=1
            fi
        done
    fi

    # configs
    local skipped='.'
    if [ -f "$SAME_META_DIR/config.skip" ]; then
        for k in $(awk '!/^#/ && NF { print $1 }' "$SAME_META_DIR/config.skip"); do
            skipped="$skipped | del(.$k)"
        done
    fi
    if [ -f "$SAME_META_DIR/config.unordered" ]; then
        for k in $(awk '!/^#/ && NF { print $1 }' "$SAME_META_DIR/config.unordered"); do
            skipped="$skipped | if .$k then .$k |= sort else . end"
        done
    fi
    local kiln_only='.'
    if [ -f "$SAME_META_DIR/config.kiln-only" ]; then
        for k in $(awk '!/^#/ && NF { print $1 }' "$SAME_META_DIR/config.kiln-only"); do
            kiln_only="$kiln_only | del(.$k)"
        done
    fi
    skopeo inspect --config "containers-storage:[$B_STORE]localhost/same-$name:b" |
        jq -S "$SAME_CONFIG_JQ | $skipped" >"$out/buildah.config"
    skopeo inspect --config "oci:$KILN_ROOT:same-$name:k" |
        jq -S "$SAME_CONFIG_JQ | $skipped | $kiln_only" >"$out/kiln.config"

    diff -u --label "buildah $name" --label "kiln $name" "$out/buildah.tree" "$out/kiln.tree" || rc=1
    diff -u --label "buildah $name config" --label "kiln $name config" "$out/buildah.config" "$out/kiln.config" || rc=1
    return $rc
}
