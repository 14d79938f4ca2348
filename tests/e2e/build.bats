#!/usr/bin/env bats
# kiln build: instructions, cache behaviour, reproducibility, failures.
load build_helpers

setup() {
    setup_store
    import_busybox
}

@test "build: a basic Dockerfile gives the files and config it asks for" {
    ctx=$(fixture basic)
    run kiln build --progress=plain -t basic:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ "$output" == *"naming to basic:1"* ]]
    out="$BATS_TEST_TMPDIR/out"
    run kiln build -q --output "type=local,dest=$out" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(cat "$out/app/greeting")" = "hello from /app" ]
    [ "$(cat "$out/app/hello.txt")" = "hello, world" ]
    [ "$(stat -c %a "$out/usr/local/bin/run.sh")" = 755 ]
    [ -f "$out/app/logs/keep.log" ] && [ -f "$out/app/logs/note.txt" ]
    [ ! -e "$out/app/logs/drop.log" ]
    [ ! -e "$out/app/data/one" ] && [ "$(cat "$out/app/data/two")" = two ]
    [ ! -e "$out/unselected.txt" ] && [ ! -e "$out/app/unselected.txt" ]
    cfg=$(skopeo inspect --config --raw "oci:$KILN_ROOT:basic:1")
    [ "$(jq -r .config.User <<<"$cfg")" = "1000:1000" ]
    [ "$(jq -r .config.WorkingDir <<<"$cfg")" = "/app" ]
    [ "$(jq -r '.config.Labels["org.example.kind"]' <<<"$cfg")" = basic ]
    [ "$(jq -c .config.Cmd <<<"$cfg")" = '["/usr/local/bin/run.sh"]' ]
    [ "$(jq -c '.config.ExposedPorts' <<<"$cfg")" = '{"8080/tcp":{}}' ]
    [ "$(jq -r .created <<<"$cfg")" = "2023-11-14T22:13:20Z" ]
    jq -e '.config.Env | index("APP_HOME=/app")' <<<"$cfg"
    [ "$(jq '[.history[] | select(.empty_layer != true)] | length' <<<"$cfg")" = \
      "$(jq '.rootfs.diff_ids | length' <<<"$cfg")" ]
}

@test "build: unchanged rebuild, unselected file and mtime-only changes run nothing" {
    ctx=$(fixture basic)
    run kiln build --progress=plain -t c:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    first=$(tag_digest "$KILN_ROOT" c:1)
    [ "$(count_done "$output")" -eq 5 ]
    run kiln build --progress=plain -t c:1 "$ctx"
    [ "$status" -eq 0 ]
    [ "$(count_done "$output")" -eq 0 ]
    [ "$(count_cached "$output")" -eq 5 ]
    echo changed >>"$ctx/unselected.txt"
    echo changed >>"$ctx/logs/drop.log"
    touch -d '2001-01-01' "$ctx/hello.txt" "$ctx/run.sh" "$ctx/logs/note.txt"
    run kiln build --progress=plain -t c:1 "$ctx"
    [ "$status" -eq 0 ]
    [ "$(count_done "$output")" -eq 0 ]
    [ "$(tag_digest "$KILN_ROOT" c:1)" = "$first" ]
}

@test "build: changing a COPY'd file reruns from that step only" {
    ctx=$(fixture basic)
    run kiln build --progress=plain "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    echo "new text" >"$ctx/run.sh"
    run kiln build --progress=plain "$ctx"
    [ "$status" -eq 0 ]
    # COPY hello.txt stays cached; COPY run.sh, COPY logs/ and both RUNs run.
    grep -q '^#1 CACHED' <<<"$output"
    [ "$(count_cached "$output")" -eq 1 ]
    [ "$(count_done "$output")" -eq 4 ]
}

@test "build: two clean builds in different stores and dirs give the same digest" {
    a=$(fixture basic)
    b=$(fixture basic)
    touch -d '2010-05-05' "$b/hello.txt" "$b/run.sh"
    run kiln build -q --iidfile "$BATS_TEST_TMPDIR/a.iid" -t r:1 "$a"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    export KILN_ROOT="$BATS_TEST_TMPDIR/store2"
    import_busybox
    run kiln build -q --iidfile "$BATS_TEST_TMPDIR/b.iid" -t r:1 "$b"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(cat "$BATS_TEST_TMPDIR/a.iid")" = "$(cat "$BATS_TEST_TMPDIR/b.iid")" ]
    [ "$(tag_digest "$BATS_TEST_TMPDIR/store" r:1)" = "$(tag_digest "$KILN_ROOT" r:1)" ]
}

@test "build: a git context without SOURCE_DATE_EPOCH uses the commit time, reproducibly" {
    unset SOURCE_DATE_EPOCH
    src=$(fixture basic)
    git -C "$src" init -q
    git -C "$src" add -A
    GIT_COMMITTER_DATE='@1650000000 +0000' GIT_AUTHOR_DATE='@1650000000 +0000' \
        git -C "$src" -c user.name=t -c user.email=t@t commit -qm fixture
    git clone -q "$src" "$BATS_TEST_TMPDIR/clone"
    touch -d '2020-02-02' "$BATS_TEST_TMPDIR/clone/hello.txt"
    run kiln build -q -t g:1 "$src"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    cfg=$(skopeo inspect --config --raw "oci:$KILN_ROOT:g:1")
    [ "$(jq -r .created <<<"$cfg")" = "2022-04-15T05:20:00Z" ]
    d1=$(tag_digest "$KILN_ROOT" g:1)
    export KILN_ROOT="$BATS_TEST_TMPDIR/store2"
    import_busybox
    run kiln build -q -t g:1 "$BATS_TEST_TMPDIR/clone"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(tag_digest "$KILN_ROOT" g:1)" = "$d1" ]
}

@test "build: another epoch reruns every step and gives what a clean build with it gives" {
    ctx=$(fixture basic)
    export SOURCE_DATE_EPOCH=1600000000
    run kiln build --progress=plain -t e:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    old=$(tag_digest "$KILN_ROOT" e:1)
    export SOURCE_DATE_EPOCH=1700000000
    run kiln build --progress=plain -t e:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(count_cached "$output")" -eq 0 ]
    [ "$(count_done "$output")" -eq 5 ]
    incremental=$(tag_digest "$KILN_ROOT" e:1)
    [ "$incremental" != "$old" ]
    export KILN_ROOT="$BATS_TEST_TMPDIR/store2"
    import_busybox
    export SOURCE_DATE_EPOCH=1700000000
    run kiln build -q -t e:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(tag_digest "$KILN_ROOT" e:1)" = "$incremental" ]
    # back in the first store, the first epoch's steps are still cached
    export KILN_ROOT="$BATS_TEST_TMPDIR/store"
    export SOURCE_DATE_EPOCH=1600000000
    run kiln build --progress=plain -t e:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(count_done "$output")" -eq 0 ]
    [ "$(tag_digest "$KILN_ROOT" e:1)" = "$old" ]
}

@test "build: a failing RUN shows its output and line, tags nothing" {
    ctx="$BATS_TEST_TMPDIR/fail"
    mkdir -p "$ctx"
    printf 'FROM busybox:test\nRUN echo ok > /ok\nRUN echo "about to fail"; echo "last words" >&2; exit 7\nRUN echo never\n' >"$ctx/Dockerfile"
    run kiln build --progress=plain -t f:1 "$ctx"
    [ "$status" -ne 0 ]
    [[ "$output" == *"last words"* ]]
    [[ "$output" == *"Dockerfile:3"* ]]
    [[ "$output" == *"status 7"* ]]
    [[ "$output" != *"never"*"DONE"* ]]
    run jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$KILN_ROOT/index.json"
    [[ "$output" != *"f:1"* ]]
    # nothing left behind in the scratch area
    [ -z "$(ls -A "$KILN_ROOT/ingest" 2>/dev/null | grep -v '^$' || true)" ] || ls -la "$KILN_ROOT/ingest"
}

@test "build: a missing COPY source and an unknown base are one clear line each" {
    ctx="$BATS_TEST_TMPDIR/err"
    mkdir -p "$ctx"
    printf 'FROM busybox:test\nCOPY nope.txt /\n' >"$ctx/Dockerfile"
    run kiln build -q "$ctx"
    [ "$status" -ne 0 ]
    [[ "$output" == *"nope.txt"*"not found"* ]]
    printf 'FROM no-such-image:1\nRUN true\n' >"$ctx/Dockerfile"
    run kiln build -q --pull=never "$ctx"
    [ "$status" -ne 0 ]
    [[ "$output" == *"no-such-image"* ]]
}

@test "build: multi-stage with --target pruning, COPY --from with --chown/--chmod" {
    ctx=$(fixture multistage)
    out="$BATS_TEST_TMPDIR/out"
    run kiln build --progress=plain --output "type=local,dest=$out" -t m:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ "$output" != *"must never run"* ]]
    [ "$(stat -c '%u:%g %a' "$out/srv/artifact")" = "1000:1000 640" ]
    [ "$(readlink "$out/srv/link")" = artifact ]
    [ "$(cat "$out/srv/sub/deep")" = deep ]
    [ "$(cat "$out/srv/both")" = "$(printf 'built\nother')" ]
    [ "$(cat "$out/artifact-by-index")" = built ]
    run kiln build --progress=plain --target broken "$ctx"
    [ "$status" -ne 0 ]
    [[ "$output" == *"must never run"* ]]
}

@test "build: whiteouts and opaque directories" {
    ctx=$(fixture whiteout)
    out="$BATS_TEST_TMPDIR/out"
    run kiln build -q --output "type=local,dest=$out" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ ! -e "$out/d/a" ] && [ ! -e "$out/d/sub" ] && [ "$(cat "$out/d/c")" = new ]
    [ ! -e "$out/etc/group" ] && [ -f "$out/etc/passwd" ]
    [ ! -e "$out/e/x" ] && [ "$(cat "$out/e/fresh")" = fresh ]
    [ "$(stat -c %a "$out/e")" = 700 ]
    [ "$(cat "$out/keep")" = k ]
}

@test "build: heredocs, SHELL and every config instruction" {
    ctx=$(fixture heredoc)
    out="$BATS_TEST_TMPDIR/out"
    run kiln build -q -t h:1 --label extra=yes --output "type=local,dest=$out" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(cat "$out/greeting")" = "hello world" ]
    [ "$(cat "$out/etc/motd")" = "Welcome world" ]
    [ "$(cat "$out/opt/app/raw.txt")" = 'no $NAME expansion here' ]
    [ -f "$out/opt/app/shell.txt" ]
    cfg=$(skopeo inspect --config --raw "oci:$KILN_ROOT:h:1")
    [ "$(jq -c .config.Shell <<<"$cfg")" = '["/bin/sh","-e","-c"]' ]
    [ "$(jq -c .config.Entrypoint <<<"$cfg")" = '["/bin/sh","-c"]' ]
    [ "$(jq -c .config.Cmd <<<"$cfg")" = '["cat /greeting"]' ]
    [ "$(jq -c '.config.ExposedPorts | keys' <<<"$cfg")" = '["443/tcp","80/udp"]' ]
    [ "$(jq -c '.config.Volumes' <<<"$cfg")" = '{"/data":{}}' ]
    [ "$(jq -r .config.StopSignal <<<"$cfg")" = SIGTERM ]
    [ "$(jq -c .config.Healthcheck <<<"$cfg")" = '{"Interval":30000000000,"Retries":2,"Test":["CMD","true"],"Timeout":3000000000}' ]
    [ "$(jq -c .config.OnBuild <<<"$cfg")" = '["RUN echo triggered > /onbuild"]' ]
    [ "$(jq -r '.config.Labels.extra' <<<"$cfg")" = yes ]
    [ "$(jq -r '.config.Labels.version' <<<"$cfg")" = "1.0" ]
    jq -e '.config.Env | index("B=two words")' <<<"$cfg"
    # ONBUILD fires in an image built FROM this one, and is not inherited.
    child="$BATS_TEST_TMPDIR/child"
    mkdir -p "$child"
    printf 'FROM h:1\nRUN test -f /onbuild\n' >"$child/Dockerfile"
    run kiln build -q -t child:1 "$child"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(skopeo inspect --config --raw "oci:$KILN_ROOT:child:1" | jq -c .config.OnBuild)" = null ]
}

@test "build: context from stdin, --iidfile, --platform refusal" {
    ctx=$(fixture basic)
    run bash -c "tar -C '$ctx' -cf - . | '$KILN' build -q --iidfile '$BATS_TEST_TMPDIR/iid' -"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ "$(cat "$BATS_TEST_TMPDIR/iid")" == sha256:* ]]
    [[ "$output" == *"$(cat "$BATS_TEST_TMPDIR/iid")"* ]]
    run kiln build --platform linux/sparc "$ctx"
    [ "$status" -eq 2 ]
    [[ "$output" == *"platform linux/sparc: architecture sparc is not supported"* ]]
    # a platform kiln builds but the base lacks: named before any step
    run kiln build --progress=plain --platform linux/s390x "$ctx"
    [ "$status" -eq 1 ]
    [[ "$output" == *"is for linux/amd64 only, not linux/s390x"* ]]
    [[ "$output" != *DONE* ]]
}

@test "build: RUN --mount cache, tmpfs, bind and secret" {
    ctx="$BATS_TEST_TMPDIR/mounts"
    mkdir -p "$ctx/src"
    echo from-context >"$ctx/src/input"
    echo s3cr3t >"$BATS_TEST_TMPDIR/secret"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox:test
RUN --mount=type=cache,target=/cache echo run >> /cache/log && wc -l < /cache/log > /count
RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && mount | grep -q ' /scratch '
RUN --mount=type=bind,source=src,target=/in cat /in/input > /copied
RUN --mount=type=secret,id=tok cat /run/secrets/tok > /dev/null && test -s /run/secrets/tok && echo used > /secret-used
DF
    out="$BATS_TEST_TMPDIR/out"
    run kiln build --progress=plain --secret "id=tok,src=$BATS_TEST_TMPDIR/secret" --output "type=local,dest=$out" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(cat "$out/copied")" = from-context ]
    [ ! -e "$out/cache" ] && [ ! -e "$out/scratch" ] && [ ! -e "$out/in" ]
    [ ! -e "$out/run/secrets/tok" ]
    ! grep -rq s3cr3t "$out"
    [ "$(cat "$out/count")" = 1 ]
    run kiln build --progress=plain --no-cache --secret "id=tok,src=$BATS_TEST_TMPDIR/secret" --output "type=local,dest=$out.2" "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(cat "$out.2/count")" = 2 ]
}

@test "build: ADD extracts a local tar; ADD of a URL verifies --checksum" {
    ctx="$BATS_TEST_TMPDIR/add"
    www="$BATS_TEST_TMPDIR/www"
    mkdir -p "$ctx/t/sub" "$www"
    echo inner >"$ctx/t/sub/inner.txt"
    tar -C "$ctx/t" -czf "$ctx/bundle.tar.gz" sub
    echo payload >"$www/file.txt"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$www" >/dev/null 2>&1 &
    srv=$!
    for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/file.txt" >/dev/null && break; sleep 0.1; done
    sum="sha256:$(sha256sum "$www/file.txt" | cut -d' ' -f1)"
    printf 'FROM busybox:test\nADD bundle.tar.gz /ex/\nADD --checksum=%s http://127.0.0.1:%s/file.txt /dl/\n' "$sum" "$port" >"$ctx/Dockerfile"
    out="$BATS_TEST_TMPDIR/out"
    run kiln build -q --output "type=local,dest=$out" "$ctx"
    [ "$status" -eq 0 ] || { kill "$srv"; echo "$output"; false; }
    [ "$(cat "$out/ex/sub/inner.txt")" = inner ]
    [ "$(cat "$out/dl/file.txt")" = payload ]
    [ "$(stat -c %a "$out/dl/file.txt")" = 600 ]
    printf 'FROM busybox:test\nADD --checksum=sha256:%064d http://127.0.0.1:%s/file.txt /dl/\n' 0 "$port" >"$ctx/Dockerfile"
    run kiln build -q "$ctx"
    kill "$srv"
    [ "$status" -ne 0 ]
    [[ "$output" == *"checksum mismatch"* ]]
}

@test "build: kiln prune keeps the build cache's layers; prune --cache empties it" {
    ctx=$(fixture basic)
    run kiln build --progress=plain "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    run kiln prune
    [ "$status" -eq 0 ]
    run kiln build --progress=plain "$ctx"
    [ "$status" -eq 0 ]
    [ "$(count_done "$output")" -eq 0 ]
    run kiln prune --cache
    [ "$status" -eq 0 ]
    [[ "$output" == *"build cache"* ]]
    run kiln build --progress=plain "$ctx"
    [ "$status" -eq 0 ]
    [ "$(count_done "$output")" -eq 5 ]
}

@test "build: prune reports only what it frees, not files another snapshot links" {
    ctx="$BATS_TEST_TMPDIR/linked"
    mkdir -p "$ctx"
    head -c 3000000 /dev/urandom >"$ctx/big.bin"
    echo one >"$ctx/small.txt"
    printf 'FROM busybox:test\nCOPY . /app/\nRUN true\n' >"$ctx/Dockerfile"
    run kiln build -q -t p:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    echo two >"$ctx/small.txt"
    run kiln build -q -t p:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    # the second COPY's snapshot links big.bin from the first's
    [ -n "$(find "$KILN_ROOT/snapshots" -name big.bin -links 2)" ]
    run kiln prune --cache
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    # the first snapshot goes, but big.bin stays (the kept snapshot names it):
    # the snapshot bytes reported are the small files only
    [ -n "$(find "$KILN_ROOT/snapshots" -name big.bin)" ]
    [[ "$output" =~ and\ 1\ snapshot\ \(([0-9.]+)([kKMG]?B)\) ]] || { echo "$output"; false; }
    [ "${BASH_REMATCH[2]}" = B ] || [ "${BASH_REMATCH[2]}" = kB ] || { echo "$output"; false; }
    run kiln fsck
    [ "$status" -eq 0 ] || { echo "$output"; false; }
}
