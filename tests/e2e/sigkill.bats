#!/usr/bin/env bats
# SIGKILL at random moments during import and load: afterwards no tag may
# point at a missing blob and the store must check clean, every time.
load helpers
load layer_helpers

setup() {
    setup_store
    src="$BATS_TEST_TMPDIR/src"
    mkdir -p "$src/d"
    for i in $(seq 1 200); do head -c 50000 /dev/urandom >"$src/d/f$i"; done
    head -c 8000000 /dev/urandom >"$src/big"
}

# Runs "$@" in the background and kills it with SIGKILL after a random delay
# of up to $1 milliseconds (shifted off); returns once it is gone.
kill_at_random() {
    local max_ms=$1
    shift
    "$@" >/dev/null 2>&1 &
    local pid=$!
    local ms=$((RANDOM % max_ms))
    sleep "$(printf '0.%03d' "$ms")"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

@test "sigkill: 20 kills during import never break the store" {
    for i in $(seq 1 20); do
        # Each round has its own content so there is always work to interrupt.
        echo "$i" >"$src/round"
        kill_at_random 400 "$KILN" import "$src" -t "kill/import:$i"
        store_is_clean
    done
    # The store still works afterwards.
    echo final >"$src/round"
    kiln import "$src" -t kill/import:final
    store_is_clean
    run store_tags
    [[ "$output" == *"kill/import:final"* ]]
}

@test "sigkill: 20 kills during load never break the store" {
    kiln import "$src" -t kill/load:1 >/dev/null
    kiln save -o "$BATS_TEST_TMPDIR/img.tar" kill/load:1
    for i in $(seq 1 20); do
        export KILN_ROOT="$BATS_TEST_TMPDIR/load-store-$((i % 3))"
        kill_at_random 400 "$KILN" load -i "$BATS_TEST_TMPDIR/img.tar"
        store_is_clean
    done
    kiln load -i "$BATS_TEST_TMPDIR/img.tar"
    store_is_clean
    [ "$(store_tags)" = "kill/load:1" ]
}
