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
    remove_pods
}

# state FIELD CONTAINER: a field of the container's state.json
state() {
    local id
    id=$(readlink "$KILN_ROOT/containers/names/$2")
    jq -r ".$1" "$KILN_ROOT/containers/$id/state.json"
}

# line_of TEXT: the number of the first line of $output holding TEXT
line_of() {
    printf '%s\n' "$output" | grep -n -F -- "$1" | head -1 | cut -d: -f1
}

# remember_pids PROJECT SERVICE...: the pid of each service's replica 1, for
# restarted and kept to compare with (in the global array PIDS)
remember_pids() {
    local proj=$1 s
    shift
    declare -gA PIDS
    for s in "$@"; do PIDS[$s]=$(state Pid "$proj-$s-1"); done
}

# restarted PROJECT SERVICE...: each one's replica 1 runs, with a new pid
restarted() {
    local proj=$1 s
    shift
    for s in "$@"; do
        [ "$(state Status "$proj-$s-1")" = running ] || { echo "$proj-$s-1 is not running" >&2; return 1; }
        [ "$(state Pid "$proj-$s-1")" != "${PIDS[$s]}" ] || { echo "$proj-$s-1 kept its pid" >&2; return 1; }
    done
}

# kept PROJECT SERVICE...: each one's replica 1 still has the pid remembered
kept() {
    local proj=$1 s
    shift
    for s in "$@"; do
        [ "$(state Pid "$proj-$s-1")" = "${PIDS[$s]}" ] || { echo "$proj-$s-1 was restarted" >&2; return 1; }
    done
}

# n_containers: how many container records the store holds
n_containers() {
    ls "$KILN_ROOT/containers" | grep -vc '^names$'
}
