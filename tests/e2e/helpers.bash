# Shared set-up for kiln's end-to-end tests: a fresh store per test.
: "${KILN:=$BATS_TEST_DIRNAME/../../build/kiln}"

setup_store() {
    export KILN_ROOT="$BATS_TEST_TMPDIR/store"
    export SOURCE_DATE_EPOCH=1700000000
}

kiln() {
    "$KILN" "$@"
}
