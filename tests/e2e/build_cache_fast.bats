#!/usr/bin/env bats
# kiln build's fast paths keep the cache semantics: an unchanged rebuild
# writes nothing, the stat cache never hides a change, a context of many
# files is digested once.
load build_helpers

setup() {
    setup_store
    import_busybox
}

many_files_ctx() {
    local ctx="$BATS_TEST_TMPDIR/many"
    mkdir -p "$ctx/files"
    for d in 0 1 2 3 4 5 6 7 8 9; do
        mkdir -p "$ctx/files/d$d"
        for f in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19; do
            echo "file $d/$f" >"$ctx/files/d$d/f$f.txt"
        done
    done
    printf 'FROM busybox:test\nCOPY files/ /data/\nRUN find /data -type f | wc -l > /count\n' >"$ctx/Dockerfile"
    echo "$ctx"
}

@test "build cache: an unchanged rebuild leaves index.json and the stat cache alone" {
    ctx=$(many_files_ctx)
    sleep 3 # the files leave the stat cache's racy window
    run kiln build --progress=plain -t fast:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(head -c 8 "$KILN_ROOT/cache/statcache")" = "KILNSC2" ]
    # header + 200 records of 72 bytes
    [ "$(stat -c %s "$KILN_ROOT/cache/statcache")" -eq $((8 + 200 * 72)) ]
    idx=$(stat -c '%i %Y' "$KILN_ROOT/index.json")
    sc=$(stat -c '%i %Y' "$KILN_ROOT/cache/statcache")
    first=$(tag_digest "$KILN_ROOT" fast:1)
    run kiln build --progress=plain -t fast:1 "$ctx"
    [ "$status" -eq 0 ]
    [ "$(count_done "$output")" -eq 0 ]
    [ "$(tag_digest "$KILN_ROOT" fast:1)" = "$first" ]
    [ "$(stat -c '%i %Y' "$KILN_ROOT/index.json")" = "$idx" ]
    [ "$(stat -c '%i %Y' "$KILN_ROOT/cache/statcache")" = "$sc" ]
    # a new tag does rewrite index.json
    run kiln build --progress=plain -t fast:2 "$ctx"
    [ "$status" -eq 0 ]
    [ "$(stat -c '%i %Y' "$KILN_ROOT/index.json")" != "$idx" ]
    [ "$(tag_digest "$KILN_ROOT" fast:2)" = "$first" ]
}

@test "build cache: same size, same mtime, new bytes: the COPY runs again" {
    ctx=$(many_files_ctx)
    sleep 3
    run kiln build --progress=plain -t fast:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    f="$ctx/files/d5/f7.txt"
    old=$(stat -c %y "$f")
    echo "FILE 5/7" >"$f" # same length as "file 5/7"
    touch -d "$old" "$f"
    run kiln build --progress=plain -t fast:1 "$ctx"
    [ "$status" -eq 0 ]
    [ "$(count_done "$output")" -eq 2 ]
    out="$BATS_TEST_TMPDIR/out"
    run kiln build -q --output "type=local,dest=$out" "$ctx"
    [ "$status" -eq 0 ]
    [ "$(cat "$out/data/d5/f7.txt")" = "FILE 5/7" ]
    [ "$(cat "$out/count")" = 200 ]
}

@test "build cache: a file rewritten right after a build (racy window) is still noticed" {
    ctx=$(many_files_ctx)
    run kiln build --progress=plain -t fast:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    f="$ctx/files/d1/f2.txt"
    old=$(stat -c %y "$f")
    echo "FILE 1/2" >"$f"
    touch -d "$old" "$f"
    run kiln build --progress=plain -t fast:1 "$ctx"
    [ "$status" -eq 0 ]
    [ "$(count_done "$output")" -eq 2 ]
    # and then, unchanged, nothing runs
    run kiln build --progress=plain -t fast:1 "$ctx"
    [ "$status" -eq 0 ]
    [ "$(count_done "$output")" -eq 0 ]
}

@test "build cache: a damaged stat cache is ignored, never trusted" {
    ctx=$(many_files_ctx)
    sleep 3
    run kiln build --progress=plain -t fast:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    first=$(tag_digest "$KILN_ROOT" fast:1)
    head -c 1000 /dev/urandom >>"$KILN_ROOT/cache/statcache"
    run kiln build --progress=plain -t fast:1 "$ctx"
    [ "$status" -eq 0 ]
    [ "$(count_done "$output")" -eq 0 ]
    [ "$(tag_digest "$KILN_ROOT" fast:1)" = "$first" ]
}

@test "build cache: a --no-cache build does not spoil the cache" {
    ctx="$BATS_TEST_TMPDIR/nc"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test AS a
RUN cat /proc/sys/kernel/random/uuid > /stamp
FROM a AS b
RUN cp /stamp /b
FROM busybox:test AS c
COPY --from=a /stamp /stamp
DF
    run kiln build --progress=plain --target c -t nc:c "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    first=$(tag_digest "$KILN_ROOT" nc:c)
    # a --no-cache build of another target rebuilds stage a (a new stamp)
    run kiln build --progress=plain --no-cache --target b -t nc:b "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(count_done "$output")" -eq 2 ]
    run kiln build --progress=plain --no-cache --target c -t nc:c2 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(tag_digest "$KILN_ROOT" nc:c2)" != "$first" ]
    # the cache still holds the first build: nothing runs, same image
    run kiln build --progress=plain --target c -t nc:c "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(count_done "$output")" -eq 0 ]
    [ "$(tag_digest "$KILN_ROOT" nc:c)" = "$first" ]
    # and stage b, first stored by a --no-cache build, is a hit too
    run kiln build --progress=plain --target b -t nc:b "$ctx"
    [ "$status" -eq 0 ]
    [ "$(count_done "$output")" -eq 0 ]
}

@test "build cache: a cached RUN with a bind mount from a stage copies nothing" {
    ctx=$(many_files_ctx)
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test AS big
COPY files/ /files/
FROM busybox:test
RUN --mount=type=bind,from=big,source=/files,target=/mnt find /mnt -type f | wc -l > /count
DF
    run kiln build --progress=plain -t bind:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ $output == *"--mount from=big: copied 211 entries of /files"* ]] || { echo "$output"; false; }
    run kiln build --progress=plain -t bind:1 "$ctx"
    [ "$status" -eq 0 ]
    [ "$(count_done "$output")" -eq 0 ]
    [[ $output != *"copied"* ]] || { echo "$output"; false; }
}

@test "build cache: a one-file edit in a COPY links the unchanged files from the last snapshot" {
    ctx=$(many_files_ctx)
    run kiln build --progress=plain -t fast:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    echo "changed" >>"$ctx/files/d3/f4.txt"
    run kiln build --progress=plain -t fast:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(count_done "$output")" -eq 2 ]
    # two snapshots of the COPY: the unchanged file is one inode, the edited one two
    mapfile -t same < <(find "$KILN_ROOT/snapshots" -path '*/data/d1/f1.txt' -printf '%i %n\n')
    [ "${#same[@]}" -eq 2 ]
    [ "${same[0]}" = "${same[1]}" ]
    [ "${same[0]#* }" -eq 2 ]
    mapfile -t edited < <(find "$KILN_ROOT/snapshots" -path '*/data/d3/f4.txt' -printf '%i\n')
    [ "${#edited[@]}" -eq 2 ]
    [ "${edited[0]}" != "${edited[1]}" ]
    [ "$(find "$KILN_ROOT/snapshots" -path '*/data/d3/f4.txt' -exec cat {} + | grep -c changed)" -eq 1 ]
    run kiln fsck
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    # the same image as a build from scratch in another store
    digest=$(tag_digest "$KILN_ROOT" fast:1)
    export KILN_ROOT="$BATS_TEST_TMPDIR/other-store"
    import_busybox
    run kiln build --progress=plain -t fast:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(tag_digest "$KILN_ROOT" fast:1)" = "$digest" ]
}
