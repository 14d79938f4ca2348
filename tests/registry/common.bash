# Shared by tests/e2e/registry*.bats: test registries, images and store checks.
source "$BATS_TEST_DIRNAME/../registry/registry.bash"
MAKE_LAYOUT="$BATS_TEST_DIRNAME/../registry/make_layout.py"

# The store is consistent: every blob hashes to its name, nothing left in
# ingest/, and `kiln fsck` (when the command exists) is clean.
store_consistent() {
    local f
    for f in "$KILN_ROOT"/blobs/sha256/*; do
        [ -e "$f" ] || continue
        [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || {
            echo "blob $f is corrupt"
            return 1
        }
    done
    if "$KILN" help fsck >/dev/null 2>&1; then
        "$KILN" fsck || return 1
    fi
}

blob_count() {
    find "$KILN_ROOT/blobs/sha256" -type f 2>/dev/null | wc -l
}

# Digest of a tag in a registry, as skopeo sees it.
skopeo_digest() {
    skopeo inspect $(skopeo_tls) "$@" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])'
}

# setup_file of a suite sharing one plain-HTTP registry (REG, REG_DIR exported).
registry_suite_start() {
    export REG_TMP="$BATS_FILE_TMPDIR"
    registry_start plain
    export REG REG_DIR
}

# setup of a test: a fresh store and an empty HOME (no credentials).
registry_test_setup() {
    setup_store
    export HOME="$BATS_TEST_TMPDIR/home"
    mkdir -p "$HOME"
}
