#!/usr/bin/env bats
# kiln build features beyond the basics: heredoc scripts, COPY --parents,
# symbolic --chmod, RUN --mount from images and ssh, ADD of git URLs.

load build_helpers

setup() {
    setup_store
    import_busybox
}

# Servers and agents a test starts are recorded here and stopped by pid.
teardown() {
    local pid
    if [ -f "$BATS_TEST_TMPDIR/pids" ]; then
        while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$BATS_TEST_TMPDIR/pids"
    fi
}

track() { echo "$1" >>"$BATS_TEST_TMPDIR/pids"; }

# Copies host binaries and the libraries they load into the rootfs at $1.
add_host_bins() {
    local d="$1" bin lib
    shift
    for bin in "$@"; do
        mkdir -p "$d$(dirname "$bin")"
        cp "$(readlink -f "$bin")" "$d$bin"
        for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
            mkdir -p "$d$(dirname "$lib")"
            cp "$(readlink -f "$lib")" "$d$lib"
        done
    done
}

# busybox plus a minimal python3 (the host's interpreter, its libraries and
# the few stdlib modules it needs to start), imported as pybox:test.
import_pybox() {
    local d="$BATS_TEST_TMPDIR/pyroot" std
    make_busybox_rootfs "$d"
    add_host_bins "$d" /usr/bin/python3
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

@test "build: RUN --mount=type=bind from an image and from a stage index" {
    img="$BATS_TEST_TMPDIR/imgroot"
    mkdir -p "$img/data"
    echo from-image >"$img/data/x"
    SOURCE_DATE_EPOCH=1700000000 "$KILN" import "$img" -t other:img >/dev/null
    ctx="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test
RUN echo one > /one.txt
FROM busybox:test
RUN --mount=type=bind,from=0,source=/one.txt,target=/m/one cat /m/one > /from-index
RUN --mount=type=bind,from=other:img,source=/data,target=/d cat /d/x > /from-image
RUN --mount=type=bind,from=other:img,target=/whole,rw echo changed > /whole/data/x && cat /whole/data/x > /rw-seen
RUN --mount=type=bind,from=other:img,source=/data,target=/d cat /d/x > /after-rw
DF
    out="$BATS_TEST_TMPDIR/out"
    run kiln build --progress=plain --output "type=local,dest=$out" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(cat "$out/from-index")" = one ]
    [ "$(cat "$out/from-image")" = from-image ]
    [ "$(cat "$out/rw-seen")" = changed ]
    [ "$(cat "$out/after-rw")" = from-image ]
    [ ! -e "$out/m" ] && [ ! -e "$out/d" ] && [ ! -e "$out/whole" ]
    # A different image under the same name is a cache miss.
    echo other-content >"$img/data/x"
    SOURCE_DATE_EPOCH=1700000000 "$KILN" import "$img" -t other:img >/dev/null
    run kiln build --progress=plain --output "type=local,dest=$out.2" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(cat "$out.2/from-image")" = other-content ]
    run kiln build "$ctx" --progress=plain -f /dev/stdin <<'DF'
FROM busybox:test
RUN --mount=type=bind,from=no-such:image,target=/x true
DF
    [ "$status" -ne 0 ]
    [[ "$output" == *"no-such"* ]]
}

@test "build: RUN --mount=type=ssh forwards the agent given by --ssh; required=true fails clearly" {
    d="$BATS_TEST_TMPDIR/sshroot"
    make_busybox_rootfs "$d"
    add_host_bins "$d" /usr/bin/ssh-add
    SOURCE_DATE_EPOCH=1700000000 "$KILN" import "$d" -t sshbox:test >/dev/null
    ssh-keygen -q -t ed25519 -N '' -C kiln-test-key -f "$BATS_TEST_TMPDIR/key"
    sock="$BATS_TEST_TMPDIR/agent.sock"
    agent_out=$(ssh-agent -s -a "$sock")
    agent_pid=$(sed -n 's/.*SSH_AGENT_PID=\([0-9]*\).*/\1/p' <<<"$agent_out")
    track "$agent_pid"
    SSH_AUTH_SOCK="$sock" ssh-add -q "$BATS_TEST_TMPDIR/key"
    ctx="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM sshbox:test
RUN --mount=type=ssh ssh-add -l > /keys && echo "$SSH_AUTH_SOCK" > /sock
RUN --mount=type=ssh,id=deploy,target=/agent SSH_AUTH_SOCK=/agent ssh-add -l > /keys2
RUN --mount=type=ssh,id=absent test -z "$SSH_AUTH_SOCK" && echo skipped > /absent
DF
    out="$BATS_TEST_TMPDIR/out"
    SSH_AUTH_SOCK="$sock" run kiln build --progress=plain --ssh default --ssh "deploy=$sock" \
        --output "type=local,dest=$out" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    grep -q kiln-test-key "$out/keys"
    grep -q kiln-test-key "$out/keys2"
    [ "$(cat "$out/sock")" = /run/buildkit/ssh_agent.0 ]
    [ "$(cat "$out/absent")" = skipped ]
    [ ! -e "$out/run/buildkit" ] && [ ! -e "$out/agent" ]
    printf 'FROM sshbox:test\nRUN --mount=type=ssh,required=true ssh-add -l\n' >"$ctx/Dockerfile"
    run env -u SSH_AUTH_SOCK "$KILN" build --progress=plain "$ctx"
    [ "$status" -ne 0 ]
    [[ "$output" == *'ssh agent "default" is required'*"--ssh default"* ]]
    run kiln build --ssh "x=$BATS_TEST_TMPDIR/key" "$ctx"
    [ "$status" -eq 2 ]
    [[ "$output" == *"not an agent socket"* ]]
}

# A repository with a tag, a branch and a subdirectory, cloned bare into
# $1/repo.git and prepared for dumb HTTP.
make_git_repo() {
    local src="$BATS_TEST_TMPDIR/gitsrc"
    mkdir -p "$src/docs/api"
    git -C "$src" init -q -b main
    echo "v1 readme" >"$src/README"
    echo "api v1" >"$src/docs/api/index.txt"
    printf '#!/bin/sh\necho tool\n' >"$src/tool.sh"
    chmod 0775 "$src/tool.sh"
    git -C "$src" add -A
    GIT_COMMITTER_DATE=@1600000000 git -C "$src" -c user.name=t -c user.email=t@t commit -q -m v1
    git -C "$src" tag v1
    echo "v2 readme" >"$src/README"
    GIT_COMMITTER_DATE=@1600000100 git -C "$src" -c user.name=t -c user.email=t@t commit -q -am v2
    git clone -q --bare "$src" "$1/repo.git"
    git -C "$1/repo.git" update-server-info
}

@test "build: ADD of a git URL (dumb http, git://): ref, subdir, --keep-git-dir, --checksum, reproducible" {
    www="$BATS_TEST_TMPDIR/www"
    mkdir -p "$www"
    make_git_repo "$www"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$www" >"$BATS_TEST_TMPDIR/http.log" 2>&1 &
    srv=$!
    track "$srv"
    for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/repo.git/HEAD" >/dev/null && break; sleep 0.1; done
    gport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    git daemon --reuseaddr --listen=127.0.0.1 --port="$gport" --base-path="$www" --export-all \
        --pid-file="$BATS_TEST_TMPDIR/gitd.pid" "$www" >/dev/null 2>&1 &
    gitd=$!
    track "$gitd"
    for _ in $(seq 1 50); do git ls-remote "git://127.0.0.1:$gport/repo.git" >/dev/null 2>&1 && break; sleep 0.1; done
    v1=$(git -C "$www/repo.git" rev-parse v1)
    url="http://127.0.0.1:$port/repo.git"
    ctx="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<DF
FROM busybox:test
ADD $url /src/head/
ADD $url#v1 /src/v1/
ADD $url#main:docs/api /src/api/
ADD --keep-git-dir=true $url#v1 /src/kept/
ADD --checksum=$v1 $url#v1 /src/checked/
ADD git://127.0.0.1:$gport/repo.git#v1:docs /src/gitproto/
DF
    out="$BATS_TEST_TMPDIR/out"
    run kiln build --progress=plain -t g:1 --output "type=local,dest=$out" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(cat "$out/src/head/README")" = "v2 readme" ]
    [ "$(cat "$out/src/v1/README")" = "v1 readme" ]
    [ "$(cat "$out/src/api/index.txt")" = "api v1" ] && [ ! -e "$out/src/api/README" ]
    [ ! -e "$out/src/head/.git" ] && [ ! -e "$out/src/v1/.git" ]
    [ "$(git -C "$out/src/kept" rev-parse HEAD)" = "$v1" ]
    [ "$(cat "$out/src/checked/README")" = "v1 readme" ]
    [ "$(cat "$out/src/gitproto/api/index.txt")" = "api v1" ]
    [ "$(stat -c %a "$out/src/v1/tool.sh")" = 755 ]
    [ "$(stat -c %a "$out/src/v1/README")" = 644 ]
    [ "$(stat -c %Y "$out/src/v1/README")" = 1700000000 ]
    # The same inputs in another store give the same image.
    d1=$(tag_digest "$KILN_ROOT" g:1)
    sed -i '/keep-git-dir/d' "$ctx/Dockerfile"
    (export KILN_ROOT="$BATS_TEST_TMPDIR/s2"; import_busybox)
    (export KILN_ROOT="$BATS_TEST_TMPDIR/s3"; import_busybox)
    KILN_ROOT="$BATS_TEST_TMPDIR/s2" run kiln build -q -t g:2 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    KILN_ROOT="$BATS_TEST_TMPDIR/s3" run kiln build -q -t g:2 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(tag_digest "$BATS_TEST_TMPDIR/s2" g:2)" = "$(tag_digest "$BATS_TEST_TMPDIR/s3" g:2)" ]
    [ -n "$d1" ]
    # Unchanged refs: the git steps are cache hits (nothing fetched); a new
    # commit on main reruns the step that names main, and only it.
    printf 'FROM busybox:test\nADD %s#v1 /v1/\nADD %s#main:docs /docs/\n' "$url" "$url" >"$ctx/Dockerfile"
    run kiln build --progress=plain "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    fetches=$(grep -c '/objects/' "$BATS_TEST_TMPDIR/http.log")
    run kiln build --progress=plain "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(count_done "$output")" -eq 0 ] && [ "$(count_cached "$output")" -eq 2 ]
    [ "$(grep -c '/objects/' "$BATS_TEST_TMPDIR/http.log")" -eq "$fetches" ]
    echo "api v3" >"$BATS_TEST_TMPDIR/gitsrc/docs/api/index.txt"
    GIT_COMMITTER_DATE=@1600000200 git -C "$BATS_TEST_TMPDIR/gitsrc" -c user.name=t -c user.email=t@t commit -q -am v3
    git -C "$BATS_TEST_TMPDIR/gitsrc" push -q "$www/repo.git" main
    git -C "$www/repo.git" update-server-info
    run kiln build --progress=plain --output "type=local,dest=$out.3" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(count_done "$output")" -eq 1 ] && [ "$(count_cached "$output")" -eq 1 ]
    [ "$(cat "$out.3/docs/api/index.txt")" = "api v3" ]
    # A wrong commit checksum and a missing ref are one clear line each.
    printf 'FROM busybox:test\nADD --checksum=%s %s#main /x/\n' "$v1" "$url" >"$ctx/Dockerfile"
    run kiln build -q "$ctx"
    [ "$status" -ne 0 ]
    [[ "$output" == *"checksum mismatch"* ]]
    printf 'FROM busybox:test\nADD %s#nope /x/\n' "$url" >"$ctx/Dockerfile"
    run kiln build -q "$ctx"
    [ "$status" -ne 0 ]
    [[ "$output" == *"nope"* ]]
}

# A bare repository $1/NAME.git with one commit per "path=content" argument
# group separated by "--"; prints nothing. Commit dates are fixed.
make_bare() {
    local www=$1 name=$2 src="$BATS_TEST_TMPDIR/src-$2" t=1600000000 kv
    shift 2
    git -C "$src" init -q -b main 2>/dev/null || { mkdir -p "$src" && git -C "$src" init -q -b main; }
    for kv in "$@" --; do
        if [ "$kv" = -- ]; then
            git -C "$src" add -A
            t=$((t + 100))
            GIT_COMMITTER_DATE=@$t git -C "$src" -c user.name=t -c user.email=t@t commit -q -m "at $t"
            continue
        fi
        mkdir -p "$(dirname "$src/${kv%%=*}")"
        echo "${kv#*=}" >"$src/${kv%%=*}"
    done
    git clone -q --bare "$src" "$www/$name.git"
    git -C "$www/$name.git" update-server-info
}

# Adds a submodule at path $2 of the work tree $1, pinned to commit $3, url $4.
add_gitlink() {
    git -C "$1" config -f .gitmodules "submodule.$2.path" "$2"
    git -C "$1" config -f .gitmodules "submodule.$2.url" "$4"
    git -C "$1" update-index --add --cacheinfo "160000,$3,$2"
    git -C "$1" add .gitmodules
}

@test "build: ADD of a git URL checks out submodules, recursively, at their pinned commits" {
    www="$BATS_TEST_TMPDIR/www"
    mkdir -p "$www"
    # deep.git <- lib.git (pins deep's first commit) <- super.git (pins lib's first)
    make_bare "$www" deep deep.txt="deep v1" -- deep.txt="deep v2"
    deep1=$(git -C "$www/deep.git" rev-parse main~1)
    make_bare "$www" lib lib.txt="lib v1"
    add_gitlink "$BATS_TEST_TMPDIR/src-lib" vendor/deep "$deep1" ../deep.git
    GIT_COMMITTER_DATE=@1600000500 git -C "$BATS_TEST_TMPDIR/src-lib" -c user.name=t -c user.email=t@t commit -q -m deep
    echo "lib v2" >"$BATS_TEST_TMPDIR/src-lib/lib.txt"
    GIT_COMMITTER_DATE=@1600000600 git -C "$BATS_TEST_TMPDIR/src-lib" -c user.name=t -c user.email=t@t commit -q -am v2
    rm -rf "$www/lib.git" && git clone -q --bare "$BATS_TEST_TMPDIR/src-lib" "$www/lib.git"
    git -C "$www/lib.git" update-server-info
    lib1=$(git -C "$www/lib.git" rev-parse main~1)
    make_bare "$www" super README="super"
    add_gitlink "$BATS_TEST_TMPDIR/src-super" lib "$lib1" ../lib.git
    GIT_COMMITTER_DATE=@1600000700 git -C "$BATS_TEST_TMPDIR/src-super" -c user.name=t -c user.email=t@t commit -q -m lib
    rm -rf "$www/super.git" && git clone -q --bare "$BATS_TEST_TMPDIR/src-super" "$www/super.git"
    git -C "$www/super.git" update-server-info

    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$www" >"$BATS_TEST_TMPDIR/http.log" 2>&1 &
    track $!
    for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/super.git/HEAD" >/dev/null && break; sleep 0.1; done
    gport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    git daemon --reuseaddr --listen=127.0.0.1 --port="$gport" --base-path="$www" --export-all \
        "$www" >/dev/null 2>&1 &
    track $!
    for _ in $(seq 1 50); do git ls-remote "git://127.0.0.1:$gport/super.git" >/dev/null 2>&1 && break; sleep 0.1; done
    url="http://127.0.0.1:$port/super.git"
    ctx="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<DF
FROM busybox:test
ADD $url /dumb/
ADD git://127.0.0.1:$gport/super.git#main /smart/
ADD $url#main:lib /subdir/
ADD $url?submodules=false /without/
ADD --keep-git-dir=true $url /kept/
DF
    out="$BATS_TEST_TMPDIR/out"
    run kiln build --progress=plain --output "type=local,dest=$out" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    for d in dumb smart; do
        [ "$(cat "$out/$d/README")" = super ]
        [ "$(cat "$out/$d/lib/lib.txt")" = "lib v1" ]
        [ "$(cat "$out/$d/lib/vendor/deep/deep.txt")" = "deep v1" ]
        [ -z "$(find "$out/$d" -name .git)" ]
        [ "$(stat -c %a "$out/$d/lib/vendor/deep/deep.txt")" = 644 ]
        [ "$(stat -c %Y "$out/$d/lib/vendor/deep/deep.txt")" = 1700000000 ]
    done
    [ "$(cat "$out/subdir/vendor/deep/deep.txt")" = "deep v1" ]
    [ -d "$out/without/lib" ] && [ -z "$(ls -A "$out/without/lib")" ]
    [ -f "$out/kept/lib/.git" ] && [ -d "$out/kept/.git/modules/lib" ]
    # a submodule whose URL is a local path is refused, as any non-network transport
    git -C "$BATS_TEST_TMPDIR/src-super" config -f .gitmodules submodule.lib.url "$www/lib.git"
    git -C "$BATS_TEST_TMPDIR/src-super" add .gitmodules
    GIT_COMMITTER_DATE=@1600000800 git -C "$BATS_TEST_TMPDIR/src-super" -c user.name=t -c user.email=t@t commit -q -m local
    git -C "$BATS_TEST_TMPDIR/src-super" push -q "$www/super.git" main
    git -C "$www/super.git" update-server-info
    printf 'FROM busybox:test\nADD %s /x/\n' "$url" >"$ctx/Dockerfile"
    run kiln build -q "$ctx"
    [ "$status" -ne 0 ]
    [[ $output == *"git submodule update failed"* ]]
}

@test "build: kiln fsck --repair and kiln prune keep the build cache's layers" {
    ctx=$(fixture basic)
    # No tag: only the build cache refers to the layers.
    run kiln build --progress=plain "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    ran=$(count_done "$output")
    [ "$ran" -gt 0 ]
    run kiln fsck --repair
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    run kiln fsck
    [ "$status" -eq 0 ]
    run kiln build --progress=plain "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(count_done "$output")" -eq 0 ]
    [ "$(count_cached "$output")" -eq "$ran" ]
    run kiln prune
    [ "$status" -eq 0 ]
    run kiln build --progress=plain "$ctx"
    [ "$status" -eq 0 ]
    [ "$(count_done "$output")" -eq 0 ]
}

@test "build: RUN --mount=type=secret,env=NAME exposes the secret as a variable, nowhere else" {
    printf 's3cr3t' >"$BATS_TEST_TMPDIR/tok"
    ctx="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test
ENV TOKEN=public
RUN --mount=type=secret,id=tok,env=TOKEN [ "${TOKEN#s3c}" = r3t ] && echo ok > /env-ok && [ ! -e /run/secrets/tok ]
RUN --mount=type=secret,id=tok,env=TOK2,target=/s [ "${TOK2#s3c}" = r3t ] && [ "$(cut -c4- /s)" = r3t ] && echo ok > /both-ok
RUN echo "$TOKEN" > /after
DF
    out="$BATS_TEST_TMPDIR/out"
    run kiln build -q -t sec:1 --secret "id=tok,src=$BATS_TEST_TMPDIR/tok" --output "type=local,dest=$out" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(cat "$out/env-ok")" = ok ] && [ "$(cat "$out/both-ok")" = ok ]
    [ "$(cat "$out/after")" = public ]
    ! grep -rq s3cr3t "$out"
    ! grep -rq s3cr3t "$KILN_ROOT/blobs"
}
