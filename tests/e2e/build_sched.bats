#!/usr/bin/env bats
# kiln build's scheduling: a step waits only for what it uses, --jobs bounds
# the steps running at once, and steps of one build use a shared cache mount
# at once (the second in a view of its own).
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

@test "build: steps of one build use a shared cache mount at once, each in a view of its own" {
    ctx="$BATS_TEST_TMPDIR/views"
    mkdir -p "$ctx"
    # mkdir fails at once when the lock directory exists, as apt-get does on
    # a held lock of its lists or archives: each step must see its own. The
    # steps note when they ran (host-wide uptime) to show they overlapped.
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test AS dep
RUN --mount=type=cache,target=/c mkdir /c/lock && cut -d' ' -f1 /proc/uptime > /t0 && sleep 2 && echo dep > /c/dep && cut -d' ' -f1 /proc/uptime > /t1 && rmdir /c/lock
FROM busybox:test
RUN --mount=type=cache,target=/c mkdir /c/lock && cut -d' ' -f1 /proc/uptime > /t0 && sleep 2 && echo t > /c/t && cut -d' ' -f1 /proc/uptime > /t1 && rmdir /c/lock
COPY --from=dep /t0 /dep0
COPY --from=dep /t1 /dep1
RUN --mount=type=cache,target=/c cat /c/dep /c/t > /both && ! test -e /c/lock
DF
    run kiln build --progress=plain --jobs 2 -t sched:views "$ctx"
    echo "$output"
    [ "$status" -eq 0 ]
    [ -z "$(line_of 'waiting for its turn')" ]
    run kiln run --rm sched:views sh -c 'cat /dep0 /dep1 /t0 /t1; cat /both'
    echo "$output"
    read -r d0 d1 t0 t1 both1 both2 <<<"$(tr '\n' ' ' <<<"$output")"
    [ "$both1 $both2" = "dep t" ]
    # the two steps ran at the same time
    awk -v a0="$d0" -v a1="$d1" -v b0="$t0" -v b1="$t1" 'BEGIN { exit !(a0 < b1 && b0 < a1) }'
    # both views' files are in the cache, and no view is left
    [ -z "$(ls -d "$KILN_ROOT"/cache/mounts/*/view-*/ 2>/dev/null)" ]
    [ "$(cat "$KILN_ROOT"/cache/mounts/*/data/dep)" = dep ]
    [ "$(cat "$KILN_ROOT"/cache/mounts/*/data/t)" = t ]
}

@test "build: a view's files never replace a file in the cache" {
    ctx="$BATS_TEST_TMPDIR/noreplace"
    mkdir -p "$ctx"
    # /kind: whether the step had the cache itself or a view (an overlay)
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test AS one
RUN --mount=type=cache,target=/c (grep -q ' /c overlay ' /proc/mounts && echo view || echo direct) > /kind && echo one > /c/f && echo one > /c/one && sleep 2
FROM busybox:test AS two
RUN --mount=type=cache,target=/c (grep -q ' /c overlay ' /proc/mounts && echo view || echo direct) > /kind && sleep 1 && echo two > /c/f && echo two > /c/two
FROM busybox:test
COPY --from=one /kind /one
COPY --from=two /kind /two
RUN --mount=type=cache,target=/c,sharing=locked cat /c/f /c/one /c/two /one /two > /all
DF
    run kiln build --progress=plain --jobs 2 -t sched:noreplace "$ctx"
    echo "$output"
    [ "$status" -eq 0 ]
    run kiln run --rm sched:noreplace cat /all
    echo "$output"
    [ "${lines[1]}" = one ] && [ "${lines[2]}" = two ]
    # f is the direct user's; the view's f stayed in its view (on a machine
    # so loaded that the steps did not overlap, both were direct: either)
    case "${lines[3]} ${lines[4]}" in
    "direct view") [ "${lines[0]}" = one ] ;;
    "view direct") [ "${lines[0]}" = two ] ;;
    "direct direct") [ "${lines[0]}" = one ] || [ "${lines[0]}" = two ] ;;
    *) false ;;
    esac
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
