#!/usr/bin/env bats
# Files the user names on the command line (-o, --iidfile, --filename): a device
# or a FIFO there is written to, never replaced. `kiln sbom -o /dev/null` renamed
# its temporary file over the host's /dev/null, which then broke every later
# `>/dev/null` (a regular file owned by whoever wrote it next). The devices here
# are made in the test's directory (mknod c 1 3: the null device), never /dev's.
load helpers

setup() {
    setup_store
    ctx="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$ctx/bin"
    printf 'hello\n' >"$ctx/hello"
    printf '#!/bin/sh\necho hi\n' >"$ctx/bin/tool"
    chmod +x "$ctx/bin/tool"
    printf 'FROM scratch\nCOPY hello /hello\nCOPY bin /usr/local/bin\nCMD ["/usr/local/bin/tool"]\n' >"$ctx/Dockerfile"
    kiln build -q -t out:1 "$ctx" >/dev/null
    null="$BATS_TEST_TMPDIR/null"
    mknod "$null" c 1 3
    chmod 666 "$null"
}

# still_null: the test's null device is still a character device 1,3
still_null() {
    [ -c "$null" ] || { ls -l "$null"; return 1; }
    [ "$(stat -c '%t,%T' "$null")" = "1,3" ]
}

@test "output files: save, export, sbom, kube generate, build --iidfile write into a device" {
    run kiln save -o "$null" out:1
    [ "$status" -eq 0 ]
    still_null
    run kiln export -o "$null" out:1
    [ "$status" -eq 0 ]
    still_null
    run kiln sbom out:1 -f cyclonedx-json -o "$null"
    [ "$status" -eq 0 ]
    still_null
    run kiln kube generate -f "$null" out:1
    [ "$status" -eq 0 ]
    still_null
    run kiln build -q --iidfile "$null" "$ctx"
    [ "$status" -eq 0 ]
    still_null
    # nothing left beside it
    [ "$(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'null.*' | wc -l)" -eq 0 ]
}

@test "output files: a FIFO gets the bytes; a symlink stays a link to the new content" {
    fifo="$BATS_TEST_TMPDIR/fifo"
    mkfifo "$fifo"
    cat "$fifo" >"$BATS_TEST_TMPDIR/from-fifo" &
    reader=$!
    run kiln save -o "$fifo" out:1
    [ "$status" -eq 0 ]
    wait "$reader"
    [ -p "$fifo" ]
    tar -tf "$BATS_TEST_TMPDIR/from-fifo" | grep -qx 'index.json'

    echo stale >"$BATS_TEST_TMPDIR/real.json"
    ln -s real.json "$BATS_TEST_TMPDIR/link.json"
    run kiln sbom out:1 -f cyclonedx-json -o "$BATS_TEST_TMPDIR/link.json"
    [ "$status" -eq 0 ]
    [ -L "$BATS_TEST_TMPDIR/link.json" ]
    grep -q '"bomFormat"' "$BATS_TEST_TMPDIR/real.json"
    ! grep -q stale "$BATS_TEST_TMPDIR/real.json"
}

@test "output files: a regular file is replaced whole; a failed write leaves the old one" {
    f="$BATS_TEST_TMPDIR/img.tar"
    echo old >"$f"
    run kiln save -o "$f" out:1
    [ "$status" -eq 0 ]
    tar -tf "$f" | grep -qx 'oci-layout'
    cp "$f" "$BATS_TEST_TMPDIR/before.tar"
    run kiln save -o "$f" no-such:image
    [ "$status" -ne 0 ]
    cmp "$f" "$BATS_TEST_TMPDIR/before.tar"
    [ "$(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'img.tar.*' | wc -l)" -eq 0 ]
    run kiln export -o "$BATS_TEST_TMPDIR/no/such/dir/x.tar" out:1
    [ "$status" -ne 0 ]
    [[ $output == *"no/such/dir/x.tar"* ]]
}

@test "umask 077: a non-root USER still runs (the container's / is not 0700); -o files keep the user's umask" {
    load run_lib
    make_busybox_rootfs "$BATS_TEST_TMPDIR/bb"
    export KILN_ROOT="$BATS_TEST_TMPDIR/store077"
    run bash -c "umask 077 && '$KILN' import '$BATS_TEST_TMPDIR/bb' -t bb -c 'CMD [\"sh\"]' >/dev/null &&
        '$KILN' run --rm -u 1000 bb sh -c 'id -u; stat -c %a /' &&
        '$KILN' save -o '$BATS_TEST_TMPDIR/bb.tar' bb"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 1000 ]
    [ "${lines[1]}" = 755 ]
    [ "$(stat -c %a "$BATS_TEST_TMPDIR/bb.tar")" = 600 ]
}
