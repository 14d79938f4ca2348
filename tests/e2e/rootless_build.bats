#!/usr/bin/env bats
# kiln build (and run) without the host's privileges: a non-root user with a
# subuid range, and root of a user namespace kiln did not create (kiln inside
# `unshare -U` or a rootless container). RUN steps with other users, chown, an
# opaque directory (rm -rf then mkdir), a pty, and a layer with an opaque
# directory unpacked again into a fresh store.

load helpers
load run_lib
bats_require_minimum_version 1.5.0

setup_file() {
    run_fixture_file
    cat >"$BATS_FILE_TMPDIR/Dockerfile" <<'DF'
FROM bb
RUN echo hi >/x
RUN echo bob:x:1234:1234::/:/bin/sh >>/etc/passwd && chown bob:data /x && stat -c '%u:%g' /x >/owner
RUN mkdir -p /d/e && touch /d/e/old /d/f
RUN rm -rf /d && mkdir -p /d/e && touch /d/e/new
RUN ls -ld /dev/pts/ptmx >/ptmx && ls -R /d >/tree
RUN --mount=type=cache,target=/cache echo cached >/cache/c && cp /cache/c /c
RUN --mount=type=cache,target=/cache mkdir -p /cache/p && touch /cache/p/f && chown -R 1234 /cache/p && chmod 700 /cache/p
RUN mkdir /priv && touch /priv/f && chown -R 1234:2000 /priv && chmod 700 /priv
COPY --chown=bob:data Dockerfile /home/bob/df
DF
}

setup() {
    run_fixture_store
}

# check_image K: the image rb made from the Dockerfile above, K a script
# running kiln (as the user, or in the user namespace).
check_image() {
    local k=$1
    run "$k" run --rm rb sh -c 'cat /x /owner; ls -R /d'
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'hi\n1234:2000\n/d:\ne\n\n/d/e:\nnew')" ]
    run "$k" run --rm rb cat /c
    [ "$output" = cached ]
    # unpacked from the COPY's layer with its owner
    run "$k" run --rm rb stat -c %u:%g /home/bob/df
    [ "$output" = 1234:2000 ]
    run "$k" run --rm rb tty
    [ "$output" = "not a tty" ]
    command -v script >/dev/null || skip "script(1) missing"
    run script -qec "$k run --rm -t rb tty" /dev/null
    [ "$status" -eq 0 ]
    [[ "$output" == *"/dev/pts/0"* ]]
}

@test "rootless build: a user with a subuid range builds RUN steps with users, chown, opaque dirs; -t works" {
    local user=kilnrb-e2e home
    id "$user" >/dev/null 2>&1 || useradd -m "$user"
    grep -q "^$user:" /etc/subuid || echo "$user:400000:65536" >>/etc/subuid
    grep -q "^$user:" /etc/subgid || echo "$user:400000:65536" >>/etc/subgid
    home=$(getent passwd "$user" | cut -d: -f6)
    rm -rf "$home/kr" "$home/kr2" "$home/rootfs" "$home/ctx" "$home/rb.tar"
    # root's files: the user imports the same base layer as root does
    cp -a "$RUN_FIXTURE/rootfs" "$home/rootfs"
    mkdir "$home/ctx"
    cp "$BATS_FILE_TMPDIR/Dockerfile" "$home/ctx/"
    # k: kiln as the user, in its own store ($KR picks another).
    printf '#!/bin/sh\nexec su -s /bin/sh -c '"'"'cd && KILN_ROOT=$HOME/${KR:-kr} exec "$0" "$@"'"'"' -- %s %s "$@"\n' \
        "$user" "$KILN" >"$home/k"
    chmod 755 "$home/k"
    chown -R "$user": "$home/ctx"
    "$home/k" import "$home/rootfs" -t bb -c 'CMD ["sh"]' >/dev/null
    run "$home/k" build -t rb "$home/ctx"
    [ "$status" -eq 0 ]
    check_image "$home/k"
    # The same image as root builds: the layers record the ids inside the
    # namespace (0, 1234:2000), not the user's own and its subuid range.
    local rootless_id root_id
    rootless_id=$("$home/k" build -q -t rb "$home/ctx")
    root_id=$(kiln build -q -t rb "$home/ctx")
    [ "$rootless_id" = "$root_id" ]
    # A cache mount of another owner (the build runs in the user namespace).
    printf 'FROM bb\nRUN --mount=type=cache,target=/c,uid=1234 stat -c %%u /c >/cu\n' >"$home/ctx/Dockerfile.uid"
    run "$home/k" build -t cu -f "$home/ctx/Dockerfile.uid" "$home/ctx"
    [ "$status" -eq 0 ]
    run "$home/k" run --rm cu cat /cu
    [ "$output" = 1234 ]
    # The layer with the opaque directory unpacked again: a user may not set
    # trusted.overlay.opaque, so the snapshot marks it user.overlay.opaque.
    "$home/k" save rb -o "$home/rb.tar"
    KR=kr2 "$home/k" load -i "$home/rb.tar" >/dev/null
    run env KR=kr2 "$home/k" run --rm rb ls -R /d
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '/d:\ne\n\n/d/e:\nnew')" ]
    # What RUN steps gave to 1234 with mode 0700 (a cache mount's dir, as apt's
    # partial/, and a snapshot's) belongs to a subuid on the host: prune deletes
    # it from a user namespace with the same map.
    "$home/k" rmi rb cu bb >/dev/null
    run "$home/k" prune --cache
    [ "$status" -eq 0 ]
    [ -z "$(find "$home/kr/snapshots" "$home/kr/cache/mounts" -mindepth 1 -maxdepth 1)" ]
    [ -z "$(find "$home/kr" ! -user "$user")" ]
    rm -rf "$home/kr" "$home/kr2" "$home/rootfs" "$home/ctx" "$home/rb.tar" "$home/k"
}

@test "rootless build: root of a user namespace kiln did not create builds and runs as a rootless user does" {
    local k="$BATS_TEST_TMPDIR/k"
    printf '#!/bin/sh\nexec %s 65536 %s "$@"\n' "$BATS_TEST_DIRNAME/userns_root.py" "$KILN" >"$k"
    chmod 755 "$k"
    mkdir "$BATS_TEST_TMPDIR/ctx"
    cp "$BATS_FILE_TMPDIR/Dockerfile" "$BATS_TEST_TMPDIR/ctx/"
    # Without userxattr this root's overlay could not mark /d opaque (EIO).
    run "$k" build -t rb "$BATS_TEST_TMPDIR/ctx"
    [ "$status" -eq 0 ]
    check_image "$k"
    "$k" save rb -o "$BATS_TEST_TMPDIR/rb.tar"
    export KILN_ROOT="$BATS_TEST_TMPDIR/store2"
    "$k" load -i "$BATS_TEST_TMPDIR/rb.tar" >/dev/null
    run "$k" run --rm rb ls -R /d
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '/d:\ne\n\n/d/e:\nnew')" ]
}

@test "rootless build: root of a user namespace mapping only itself runs RUN steps (devpts without gid=5)" {
    mkdir "$BATS_TEST_TMPDIR/ctx"
    printf 'FROM bb\nRUN echo hi >/x && ls /dev/pts/ptmx\n' >"$BATS_TEST_TMPDIR/ctx/Dockerfile"
    run "$BATS_TEST_DIRNAME/userns_root.py" 1 "$KILN" build -t one "$BATS_TEST_TMPDIR/ctx"
    [ "$status" -eq 0 ]
    run "$BATS_TEST_DIRNAME/userns_root.py" 1 "$KILN" run --rm one cat /x
    [ "$output" = hi ]
}
