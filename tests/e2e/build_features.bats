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
