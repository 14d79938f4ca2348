# Shared set-up of the compose test files (load after helpers and run_lib): a
# project directory per test on the busybox fixture, and a teardown that takes
# the project, its containers and its pods down whatever the test left.

setup_file() {
    run_fixture_file
}

setup() {
    run_fixture_store
    P=$BATS_TEST_TMPDIR/proj
    mkdir -p "$P"
    cd "$P"
}

teardown() {
    cd "$BATS_TEST_TMPDIR"
    [ -f "$P/compose.yaml" ] && kiln compose --project-directory "$P" down -v >/dev/null 2>&1
    remove_containers
    for p in $(kiln pod ps 2>/dev/null | awk 'NR>1{print $1}'); do kiln pod rm -f "$p" >/dev/null 2>&1 || true; done
}

# state FIELD CONTAINER: a field of the container's state.json
state() {
    local id
    id=$(readlink "$KILN_ROOT/containers/names/$2")
    jq -r ".$1" "$KILN_ROOT/containers/$id/state.json"
}
