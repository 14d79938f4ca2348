#!/usr/bin/env bats
# kiln build features beyond the basics: heredoc scripts, COPY --parents,
# symbolic --chmod, RUN --mount from images and ssh, ADD of git URLs.

load build_helpers

setup() {
    setup_store
    import_busybox
}

# busybox plus a minimal python3 (the host's interpreter, its libraries and
# the few stdlib modules it needs to start), imported as pybox:test.
import_pybox() {
    local d="$BATS_TEST_TMPDIR/pyroot" py lib
    make_busybox_rootfs "$d"
    py=$(readlink -f /usr/bin/python3)
    mkdir -p "$d/usr/bin"
    cp "$py" "$d/usr/bin/python3"
    for lib in $(ldd "$py" | grep -o '/[^ ]*'); do
        mkdir -p "$d$(dirname "$lib")"
        cp "$lib" "$d$lib"
    done
    local std
    std=$(/usr/bin/python3 -c 'import sys; print("/usr/lib/python%d.%d" % sys.version_info[:2])')
    mkdir -p "$d$std/encodings" "$d$std/lib-dynload"
    cp "$std/os.py" "$d$std/"
    cp "$std/encodings/__init__.py" "$std/encodings/aliases.py" "$std/encodings/utf_8.py" "$d$std/encodings/"
    ln -sf /bin/busybox "$d/usr/bin/env"
    SOURCE_DATE_EPOCH=1700000000 "$KILN" import "$d" -t pybox:test >/dev/null
}

@test "build: RUN <<EOF with #! runs the heredoc as a script; RUN python3 <<EOF feeds stdin" {
    import_pybox
    ctx="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM pybox:test
RUN <<EOF
#!/usr/bin/env python3
import sys
open("/py-shebang", "w").write("argv0=%s\n" % sys.argv[0])
EOF
RUN python3 <<EOF
print("from stdin", file=open("/py-stdin", "w"))
EOF
RUN <<-'EOT'
	#!/bin/awk -f
	BEGIN { print "awk ran" > "/awk-out" }
	EOT
RUN <<EOF
echo "plain $((1 + 2))" > /sh-out
EOF
DF
    out="$BATS_TEST_TMPDIR/out"
    run kiln build --progress=plain --output "type=local,dest=$out" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(cat "$out/py-shebang")" = "argv0=/dev/pipes/EOF" ]
    [ "$(cat "$out/py-stdin")" = "from stdin" ]
    [ "$(cat "$out/awk-out")" = "awk ran" ]
    [ "$(cat "$out/sh-out")" = "plain 3" ]
    [ ! -e "$out/dev/pipes" ]
    # The script's body is part of the step's cache key.
    sed -i 's/argv0=/ARGV0=/' "$ctx/Dockerfile"
    run kiln build --progress=plain --output "type=local,dest=$out.2" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(cat "$out.2/py-shebang")" = "ARGV0=/dev/pipes/EOF" ]
}

@test "build: COPY --parents keeps source paths, from a /./ pivot on, with globs and --from" {
    ctx="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$ctx/a/b" "$ctx/x/d/e" "$ctx/x/f"
    echo c >"$ctx/a/b/c.txt"
    echo top >"$ctx/x/top.txt"
    echo deep >"$ctx/x/d/e/deep.txt"
    echo no >"$ctx/x/d/e/skip.md"
    echo f >"$ctx/x/f/g.txt"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test AS src
RUN mkdir -p /srv/app/conf && echo conf > /srv/app/conf/app.ini
FROM busybox:test
COPY --parents a/b/c.txt /full/
COPY --parents ./a/./b/c.txt /piv/
COPY --parents x/./**/*.txt /glob/
COPY --parents x/*/g.txt /one/
COPY --parents --from=src /srv/./app/conf/app.ini /fromsrc/
DF
    out="$BATS_TEST_TMPDIR/out"
    run kiln build -q --output "type=local,dest=$out" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(cat "$out/full/a/b/c.txt")" = c ]
    [ "$(cat "$out/piv/b/c.txt")" = c ]
    [ ! -e "$out/piv/a" ]
    [ "$(cat "$out/glob/top.txt")" = top ]
    [ "$(cat "$out/glob/d/e/deep.txt")" = deep ]
    [ "$(cat "$out/glob/f/g.txt")" = f ]
    [ ! -e "$out/glob/d/e/skip.md" ] && [ ! -e "$out/glob/x" ]
    [ "$(cat "$out/one/x/f/g.txt")" = f ]
    [ "$(cat "$out/fromsrc/app/conf/app.ini")" = conf ]
    [ ! -e "$out/fromsrc/srv" ]
}

@test "build: --chmod takes symbolic modes (u=rwx,go=rx, +x, a-w, X) as well as octal" {
    ctx="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$ctx/tree/sub"
    printf 'data\n' >"$ctx/f"
    printf '#!/bin/sh\n' >"$ctx/tree/run.sh"
    printf 'x\n' >"$ctx/tree/sub/plain"
    chmod 0640 "$ctx/f"
    chmod 0744 "$ctx/tree/run.sh"
    chmod 0600 "$ctx/tree/sub/plain"
    chmod 0700 "$ctx/tree/sub"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test
COPY --chmod=u=rwx,go=rx f /m/sym
COPY --chmod=+x f /m/plusx
COPY --chmod=a-w f /m/nowrite
COPY --chmod=0751 f /m/octal
COPY --chmod=go=u-w f /m/copy
COPY --chmod=a+rX tree /t/
COPY --chmod=g+w <<EOF /m/heredoc
hi
EOF
ADD --chmod=o+r f /m/added
DF
    out="$BATS_TEST_TMPDIR/out"
    run kiln build -q --output "type=local,dest=$out" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(stat -c %a "$out/m/sym")" = 755 ]
    [ "$(stat -c %a "$out/m/plusx")" = 751 ]
    [ "$(stat -c %a "$out/m/nowrite")" = 440 ]
    [ "$(stat -c %a "$out/m/octal")" = 751 ]
    [ "$(stat -c %a "$out/m/copy")" = 644 ]
    [ "$(stat -c %a "$out/t/run.sh")" = 755 ]
    [ "$(stat -c %a "$out/t/sub/plain")" = 644 ]
    [ "$(stat -c %a "$out/t/sub")" = 755 ]
    [ "$(stat -c %a "$out/m/heredoc")" = 664 ]
    [ "$(stat -c %a "$out/m/added")" = 644 ]
    printf 'FROM busybox:test\nCOPY --chmod=u+q f /x\n' >"$ctx/Dockerfile"
    run kiln build -q "$ctx"
    [ "$status" -ne 0 ]
    [[ "$output" == *"--chmod=u+q"*"not a mode"* ]]
}
