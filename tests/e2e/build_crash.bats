#!/usr/bin/env bats
# kiln build under SIGKILL and with two builds on one store at once.
load build_helpers

setup() {
    setup_store
    import_busybox
}

crash_context() {
    local ctx="$BATS_TEST_TMPDIR/crash"
    mkdir -p "$ctx/files"
    for i in $(seq 1 200); do echo "file $i" >"$ctx/files/f$i"; done
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test AS a
COPY files/ /files/
RUN sleep 0.2 && for i in 1 2 3 4 5 6 7 8; do mkdir -p /gen/$i && cp -r /files /gen/$i/; done
RUN sleep 0.2 && rm -rf /gen/3 && echo done > /gen/marker

FROM busybox:test AS b
RUN sleep 0.3 && echo b > /b

FROM a
COPY --from=b /b /b
RUN sleep 0.2 && cat /b /gen/marker > /final
DF
    echo "$ctx"
}

@test "build: SIGKILL at random moments leaves the store whole; the next build succeeds" {
    ctx=$(crash_context)
    for i in $(seq 1 10); do
        # a different cache state each round: some rounds start from scratch
        if [ $((i % 3)) -eq 0 ]; then "$KILN" prune --cache >/dev/null 2>&1 || rm -rf "$KILN_ROOT/cache"; fi
        echo "round $i: $RANDOM" >"$ctx/files/f1"
        "$KILN" build -q -t crash:1 "$ctx" >/dev/null 2>&1 &
        pid=$!
        sleep "0.$(( (RANDOM % 9) + 1 ))$(( RANDOM % 10 ))"
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        run kiln fsck
        [ "$status" -eq 0 ] || { echo "round $i: $output"; false; }
    done
    sleep 0.5 # let containers of killed builds die (their parent death signal)
    run kiln build -q -t crash:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    run kiln fsck
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    out="$BATS_TEST_TMPDIR/out"
    run kiln build -q --output "type=local,dest=$out" "$ctx"
    [ "$status" -eq 0 ]
    [ "$(cat "$out/final")" = "$(printf 'b\ndone')" ]
    [ ! -e "$out/gen/3" ] && [ -f "$out/gen/8/files/f200" ]
}

@test "build: two builds on one store at once both succeed" {
    ctx=$(crash_context)
    ctx2="$BATS_TEST_TMPDIR/crash2"
    cp -a "$ctx" "$ctx2"
    echo other >"$ctx2/files/f2"
    "$KILN" build -q -t one:1 "$ctx" >"$BATS_TEST_TMPDIR/1.out" 2>&1 &
    p1=$!
    "$KILN" build -q -t two:1 "$ctx2" >"$BATS_TEST_TMPDIR/2.out" 2>&1 &
    p2=$!
    s1=0; s2=0
    wait $p1 || s1=$?
    wait $p2 || s2=$?
    cat "$BATS_TEST_TMPDIR/1.out" "$BATS_TEST_TMPDIR/2.out"
    [ "$s1" -eq 0 ] && [ "$s2" -eq 0 ]
    run kiln fsck
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ -n "$(tag_digest "$KILN_ROOT" one:1)" ] && [ -n "$(tag_digest "$KILN_ROOT" two:1)" ]
}

@test "build: independent stages run at the same time with --jobs 2" {
    ctx="$BATS_TEST_TMPDIR/par"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test AS one
RUN sleep 1 && echo one > /one
FROM busybox:test AS two
RUN sleep 1 && echo two > /two
FROM busybox:test
COPY --from=one /one /one
COPY --from=two /two /two
DF
    run kiln build --progress=plain --jobs 2 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    # both RUN steps start before either finishes
    first_done=$(grep -n ' DONE ' <<<"$output" | head -1 | cut -d: -f1)
    one=$(grep -n '\[one 1/1\] RUN' <<<"$output" | cut -d: -f1)
    two=$(grep -n '\[two 1/1\] RUN' <<<"$output" | cut -d: -f1)
    echo "$output"
    [ -n "$one" ] && [ -n "$two" ] && [ "$one" -lt "$first_done" ] && [ "$two" -lt "$first_done" ]
    # and with --jobs 1 they do not: the second waits for the first's job
    run kiln build --progress=plain --no-cache --jobs 1 "$ctx"
    [ "$status" -eq 0 ]
    first_done=$(grep -n ' DONE ' <<<"$output" | head -1 | cut -d: -f1)
    waited=$(grep -n 'waiting for a job' <<<"$output" | head -1 | cut -d: -f1)
    [ -n "$waited" ] && [ "$waited" -lt "$first_done" ]
}

@test "build: SIGKILL during steps in cache mount views leaves the cache usable" {
    ctx="$BATS_TEST_TMPDIR/views"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test AS one
ARG R=0
RUN --mount=type=cache,target=/c echo $R > /c/one-$R && sleep 3 && echo one > /one
FROM busybox:test AS two
ARG R=0
RUN --mount=type=cache,target=/c mkdir -p /c/d-$R && echo $R > /c/d-$R/two && sleep 3 && echo two > /two
FROM busybox:test
COPY --from=one /one /one
COPY --from=two /two /two
RUN --mount=type=cache,target=/c ls /c > /list
DF
    "$KILN" build -q --jobs 2 --build-arg R=1 "$ctx" >/dev/null 2>&1 &
    pid=$!
    # both steps are in the cache, one of them through a view
    for _ in $(seq 1 100); do
        ls -d "$KILN_ROOT"/cache/mounts/*/view-1/upper >/dev/null 2>&1 && break
        sleep 0.1
    done
    sleep 0.5
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    sleep 0.5 # the killed build's containers die with it
    [ -n "$(ls -d "$KILN_ROOT"/cache/mounts/*/view-1)" ]
    run kiln fsck
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    run kiln build -q --jobs 2 --build-arg R=2 -t views:2 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    run kiln run --rm views:2 cat /list
    echo "$output"
    # this build's files merged; the killed build's view was dropped whole
    [[ "$output" == *one-2* ]] && [[ "$output" == *d-2* ]]
    [ -z "$(ls -d "$KILN_ROOT"/cache/mounts/*/view-*/ 2>/dev/null)" ]
    run kiln fsck
    [ "$status" -eq 0 ] || { echo "$output"; false; }
}
