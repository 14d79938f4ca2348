#!/usr/bin/env bats
# kiln build's scheduling: a step waits only for what it uses, --jobs bounds
# the steps running at once, and steps of one build take turns at a shared
# cache mount (the stages others depend on first).
load build_helpers

setup() {
    setup_store
    import_busybox
}

# The line number of the first line of $output matching $1 (empty if none).
line_of() {
    grep -n -m1 -e "$1" <<<"$output" | cut -d: -f1
}

@test "build: a stage's steps run before the stage a later COPY --from names is built" {
    ctx="$BATS_TEST_TMPDIR/early"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test AS dep
RUN sleep 2 && echo dep > /dep
FROM busybox:test
RUN echo early > /early
COPY --from=dep /dep /dep
RUN cat /early /dep > /both
DF
    run kiln build --progress=plain -t sched:early "$ctx"
    echo "$output"
    [ "$status" -eq 0 ]
    early=$(line_of '^#[0-9]* \[stage-1 1/3\] RUN echo early')
    early_id=$(sed -n "${early}p" <<<"$output" | cut -d' ' -f1)
    dep_id=$(grep -m1 '\[dep 1/1\] RUN' <<<"$output" | cut -d' ' -f1)
    # the independent RUN finished while dep's was still running
    [ "$(line_of "^$early_id DONE")" -lt "$(line_of "^$dep_id DONE")" ]
    # the COPY --from waited for dep, and says so
    [ -n "$(line_of 'waiting for stage dep')" ]
    run kiln run --rm sched:early cat /both
    [ "$output" = "$(printf 'early\ndep')" ]
    # all cached the second time, in any order
    run kiln build --progress=plain -t sched:early "$ctx"
    [ "$status" -eq 0 ]
    [ "$(grep -c ' CACHED' <<<"$output")" -eq 4 ]
}

@test "build: --jobs 1 runs one step at a time, even across stages that wait for each other" {
    ctx="$BATS_TEST_TMPDIR/jobs1"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test AS a
RUN sleep 1 && echo a > /a
FROM busybox:test AS b
COPY --from=a /a /a
RUN sleep 1 && cat /a > /b
FROM busybox:test
RUN sleep 1 && echo c > /c
COPY --from=b /b /b
DF
    start=$(date +%s%N)
    run timeout 60 "$KILN" build --progress=plain --jobs 1 "$ctx"
    end=$(date +%s%N)
    echo "$output"
    [ "$status" -eq 0 ]
    # three one-second RUN steps, one at a time
    [ $(((end - start) / 1000000)) -ge 3000 ]
    [ -n "$(line_of 'waiting for a job (--jobs)')" ]
}

@test "build: steps of one build take turns at a shared cache mount, its users' dependencies first" {
    ctx="$BATS_TEST_TMPDIR/turns"
    mkdir -p "$ctx"
    # mkdir fails at once when the lock directory exists, as apt-get does on
    # a held lock of its lists or archives: two steps in the cache together
    # would fail.
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test AS dep
RUN sleep 1
RUN --mount=type=cache,target=/c mkdir /c/lock && sleep 1 && echo dep > /dep && rmdir /c/lock
FROM busybox:test
RUN --mount=type=cache,target=/c mkdir /c/lock && sleep 1 && echo t > /t && rmdir /c/lock
COPY --from=dep /dep /dep
DF
    run kiln build --progress=plain -t sched:turns "$ctx"
    echo "$output"
    [ "$status" -eq 0 ]
    dep_id=$(grep -m1 '\[dep 2/2\] RUN' <<<"$output" | cut -d' ' -f1)
    t_id=$(grep -m1 '\[stage-1 1/2\] RUN' <<<"$output" | cut -d' ' -f1)
    # the target's step was ready first, but dep (which the target needs)
    # will use the cache: dep's step goes first
    [ -n "$(line_of "^$t_id waiting for its turn at cache /c")" ]
    [ "$(line_of "^$dep_id DONE")" -lt "$(line_of "^$t_id DONE")" ]
    # a step's time is its own work, not its wait
    grep -q "^$t_id DONE 1\.[0-9]s" <<<"$output"
    run kiln run --rm sched:turns cat /dep /t
    [ "$output" = "$(printf 'dep\nt')" ]
}

@test "build: sharing=private and locked caches are not held to turns" {
    ctx="$BATS_TEST_TMPDIR/private"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test AS one
RUN --mount=type=cache,target=/c,sharing=private sleep 1 && echo one > /one
FROM busybox:test AS two
RUN --mount=type=cache,target=/c,sharing=private sleep 1 && echo two > /two
FROM busybox:test
COPY --from=one /one /one
COPY --from=two /two /two
DF
    run kiln build --progress=plain --jobs 2 "$ctx"
    echo "$output"
    [ "$status" -eq 0 ]
    [ -z "$(line_of 'waiting for its turn')" ]
}

@test "build: a failing stage stops the stages waiting for it, with its own error" {
    ctx="$BATS_TEST_TMPDIR/fail"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test AS dep
RUN sleep 1 && echo broken >&2 && exit 3
FROM busybox:test
RUN echo ok
COPY --from=dep /nothing /nothing
DF
    run timeout 60 "$KILN" build --progress=plain "$ctx"
    echo "$output"
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ]
    grep -q 'Dockerfile:2: .*exited with status 3' <<<"$output"
    ! grep -q 'cancelled' <<<"$(tail -n 3 <<<"$output")"
    run kiln fsck
    [ "$status" -eq 0 ]
}
