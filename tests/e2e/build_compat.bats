#!/usr/bin/env bats
# Where kiln once differed from BuildKit's documented behaviour (found by the
# same-output cases, build_same_output.bats): each check here stands without
# buildah.
load build_helpers

setup() {
    setup_store
    import_busybox
}

# Builds $BATS_TEST_TMPDIR/ctx as t, and into out/ (the root file system).
build_ctx() {
    run kiln build -q -t t "$BATS_TEST_TMPDIR/ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    run kiln build -q --output "type=local,dest=$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
}

config() { kiln inspect t | jq -c ".[0].config.config$1"; }

@test "compat: a base without PATH gets BuildKit's default PATH, in the config and in RUN" {
    mkdir -p "$BATS_TEST_TMPDIR/ctx"
    printf 'FROM busybox:test\nENV A=1\nRUN echo "$PATH" > /path\nFROM scratch\nCOPY --from=0 /path /path\n' \
        >"$BATS_TEST_TMPDIR/ctx/Dockerfile"
    build_ctx
    [ "$(cat "$BATS_TEST_TMPDIR/out/path")" = /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ]
    [ "$(config .Env)" = '["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]' ]
    # a PATH of the base is kept, and ENV PATH replaces it in place
    printf 'FROM busybox:test AS base\nENV PATH=/a:/b X=1\nFROM base\nENV Y=2 PATH=/c:$PATH\n' >"$BATS_TEST_TMPDIR/ctx/Dockerfile"
    build_ctx
    [ "$(config .Env)" = '["PATH=/c:/a:/b","X=1","Y=2"]' ]
}

@test "compat: WORKDIR makes its missing directories as the USER (names from /etc/passwd)" {
    mkdir -p "$BATS_TEST_TMPDIR/ctx"
    cat >"$BATS_TEST_TMPDIR/ctx/Dockerfile" <<'DF'
FROM busybox:test
RUN mkdir -p /existing && echo 'svc:x:4001:4002::/:/bin/sh' >> /etc/passwd
USER 1000:1001
WORKDIR /made/by/uid
WORKDIR /existing
USER svc
WORKDIR /named
USER 3000
WORKDIR /uid-only
USER root
WORKDIR /rooted
DF
    build_ctx
    o="$BATS_TEST_TMPDIR/out"
    [ "$(stat -c %u:%g "$o/made" "$o/made/by" "$o/made/by/uid" | sort -u)" = 1000:1001 ]
    [ "$(stat -c %u:%g "$o/existing")" = 0:0 ]
    [ "$(stat -c %u:%g "$o/named")" = 4001:4002 ]
    [ "$(stat -c %u:%g "$o/uid-only")" = 3000:3000 ]
    [ "$(stat -c %u:%g "$o/rooted")" = 0:0 ]
    # an unknown user name is one clear error
    printf 'FROM busybox:test\nUSER nobody-here\nWORKDIR /x\n' >"$BATS_TEST_TMPDIR/ctx/Dockerfile"
    run kiln build -q "$BATS_TEST_TMPDIR/ctx"
    [ "$status" -ne 0 ]
    [[ $output == *'no user "nobody-here"'* ]]
}

@test "compat: a symlink named as a COPY source is followed; one inside a copied directory is kept" {
    c="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$c/real/dir" "$c/tree"
    echo bytes >"$c/real/file"
    echo inner >"$c/real/dir/inner"
    ln -s real/file "$c/file-link"
    ln -s /real/dir "$c/dir-link"
    ln -s file-link "$c/link-to-link"
    ln -s ../real/file "$c/tree/rel-link"
    ln -s ../nowhere "$c/tree/dangling"
    cat >"$c/Dockerfile" <<'DF'
FROM busybox:test
COPY file-link /named/
COPY link-to-link /renamed
COPY dir-link /dir-contents/
COPY *-link /globbed/
COPY tree /tree/
DF
    build_ctx
    o="$BATS_TEST_TMPDIR/out"
    [ -f "$o/named/file-link" ] && [ ! -L "$o/named/file-link" ] && [ "$(cat "$o/named/file-link")" = bytes ]
    [ -f "$o/renamed" ] && [ ! -L "$o/renamed" ] && [ "$(cat "$o/renamed")" = bytes ]
    [ "$(cat "$o/dir-contents/inner")" = inner ]
    [ ! -L "$o/globbed/file-link" ] && [ "$(cat "$o/globbed/file-link")" = bytes ]
    [ "$(cat "$o/globbed/inner")" = inner ]
    [ "$(readlink "$o/tree/rel-link")" = ../real/file ]
    [ "$(readlink "$o/tree/dangling")" = ../nowhere ]
    # a named dangling link is an error naming it
    printf 'FROM busybox:test\nCOPY tree/dangling /x\n' >"$c/Dockerfile"
    run kiln build -q "$c"
    [ "$status" -ne 0 ]
    [[ $output == *'"tree/dangling" is a symbolic link to "../nowhere"'* ]]
}

@test "compat: hard links among the files of one COPY stay hard links, from the context and --from" {
    c="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$c/d/sub"
    echo same >"$c/d/a"
    ln "$c/d/a" "$c/d/sub/b"
    echo other >"$c/d/c"
    cat >"$c/Dockerfile" <<'DF'
FROM busybox:test AS s
COPY d /d/
RUN echo x > /x && ln /x /y
FROM busybox:test
COPY --from=s /d /from-stage/
COPY --from=s /x /y /pair/
COPY d /ctx/
DF
    build_ctx
    o="$BATS_TEST_TMPDIR/out"
    [ "$(stat -c %i "$o/ctx/a")" = "$(stat -c %i "$o/ctx/sub/b")" ]
    [ "$(stat -c %h "$o/ctx/a")" = 2 ] && [ "$(stat -c %h "$o/ctx/c")" = 1 ]
    [ "$(stat -c %i "$o/from-stage/a")" = "$(stat -c %i "$o/from-stage/sub/b")" ]
    [ "$(stat -c %i "$o/pair/x")" = "$(stat -c %i "$o/pair/y")" ]
    # and so in the image's layer: one regular file, one hard link entry
    run kiln build -q -t t "$c"
    [ "$status" -eq 0 ]
    umoci unpack --image "$KILN_ROOT:t:latest" "$BATS_TEST_TMPDIR/bundle" >/dev/null
    [ "$(stat -c %i "$BATS_TEST_TMPDIR/bundle/rootfs/ctx/a")" = "$(stat -c %i "$BATS_TEST_TMPDIR/bundle/rootfs/ctx/sub/b")" ]
}

@test "compat: the directory a directory is copied into: new ones 0755 (--chown's), existing ones kept" {
    c="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$c/src/sub"
    echo f >"$c/src/sub/f"
    chmod 0750 "$c/src"
    chmod 0700 "$c/src/sub"
    cat >"$c/Dockerfile" <<'DF'
FROM busybox:test
RUN mkdir /existing && chmod 0701 /existing && chown 5:6 /existing
COPY --chown=1000:1001 --chmod=0640 src /existing
COPY --chown=1000:1001 src /new
COPY src /plain/
DF
    build_ctx
    o="$BATS_TEST_TMPDIR/out"
    [ "$(stat -c '%a %u:%g' "$o/existing")" = "701 5:6" ]
    [ "$(stat -c '%a %u:%g' "$o/existing/sub")" = "640 1000:1001" ]
    [ "$(stat -c '%a %u:%g' "$o/new")" = "755 1000:1001" ]
    [ "$(stat -c '%a %u:%g' "$o/new/sub")" = "700 1000:1001" ]
    [ "$(stat -c '%a %u:%g' "$o/plain")" = "755 0:0" ]
}
