#!/usr/bin/env bats
# The store commands: images, tag, rmi, inspect, history, prune, fsck, checked
# against skopeo and umoci reading the same layout and against the OCI schemas.
load helpers

TOOLS="$BATS_TEST_DIRNAME/../tools"

setup() {
    setup_store
}

mkimage() {
    "$TOOLS/mkimage" "$KILN_ROOT" "$@"
}

blob_count() {
    find "$KILN_ROOT/blobs/sha256" -type f | wc -l
}

@test "images on a fresh store: header only, json is an empty array" {
    run kiln images
    [ "$status" -eq 0 ]
    [ "$output" = "REPOSITORY   TAG   IMAGE ID   CREATED   SIZE   PLATFORMS" ]
    run kiln images --format json
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq length)" -eq 0 ]
    # the layout was created
    for f in oci-layout index.json blobs/sha256 snapshots cache ingest lock; do
        [ -e "$KILN_ROOT/$f" ]
    done
}

@test "images lists tags newest first as an aligned table and as JSON" {
    mkimage busybox:latest --layers 2 --created 2023-11-14T22:13:20Z
    mkimage team/app:1.2 --created 2024-01-01T00:00:00Z
    run kiln images
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "REPOSITORY   TAG      IMAGE ID       CREATED       SIZE     PLATFORMS" ]
    [[ "${lines[1]}" =~ ^team/app\ +1\.2\ +[0-9a-f]{12}\ +[0-9]+\ years?\ ago\ +[0-9.]+kB\ +linux/amd64$ ]]
    [[ "${lines[2]}" =~ ^busybox\ +latest\ +[0-9a-f]{12}\  ]]
    # columns line up
    [ "$(echo "${lines[0]}" | grep -bo 'IMAGE ID' | cut -d: -f1)" = \
      "$(echo "${lines[2]}" | grep -Ebo '[0-9a-f]{12}' | head -1 | cut -d: -f1)" ]

    run kiln images --format json
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r '.[1].repository')" = busybox ]
    [ "$(echo "$output" | jq -r '.[1].tag')" = latest ]
    [[ "$(echo "$output" | jq -r '.[1].id')" =~ ^sha256:[0-9a-f]{64}$ ]]
    [[ "$(echo "$output" | jq -r '.[1].digest')" =~ ^sha256:[0-9a-f]{64}$ ]]
    [ "$(echo "$output" | jq -r '.[1].created')" = 2023-11-14T22:13:20Z ]
    # size is the bytes of manifest + config + layers
    local want=0 d
    for d in $(echo "$output" | jq -r '.[1].digest'); do :; done
    local m="$KILN_ROOT/blobs/sha256/${d#sha256:}"
    want=$(( $(stat -c %s "$m") ))
    for x in $(jq -r '.config.digest, .layers[].digest' "$m"); do
        want=$(( want + $(stat -c %s "$KILN_ROOT/blobs/sha256/${x#sha256:}") ))
    done
    [ "$(echo "$output" | jq '.[1].size')" -eq "$want" ]

    run kiln images busybox
    [ "${#lines[@]}" -eq 2 ]
    run kiln images -q
    [ "${#lines[@]}" -eq 2 ]
    [[ "${lines[0]}" =~ ^[0-9a-f]{12}$ ]]
}

@test "images --format: Go templates with Docker's placeholders, the table prefix, errors naming the column" {
    mkimage busybox:latest --layers 2 --created 2023-11-14T22:13:20Z
    mkimage team/app:1.2 --created 2024-01-01T00:00:00Z
    local json id dg
    json=$(kiln images --format json)
    id=$(jq -r '.[1].id' <<<"$json")
    dg=$(jq -r '.[1].digest' <<<"$json")
    run kiln images --format '{{.Repository}}:{{.Tag}} {{.ID}}'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "team/app:1.2 $(jq -r '.[0].id[7:19]' <<<"$json")" ]
    [ "${lines[1]}" = "busybox:latest ${id:7:12}" ]
    run kiln images --format '{{.Digest}}|{{.CreatedAt}}|{{.Size}}|{{json .platforms}}|{{.size}}' busybox
    [ "$output" = "$dg|2023-11-14 22:13:20 +0000 UTC|$(kiln images busybox | awk 'NR==2{print $(NF-1)}')|[\"linux/amd64\"]|$(jq '.[1].size' <<<"$json")" ]
    [ "$(kiln images --no-trunc --format '{{.ID}}' busybox)" = "$id" ]
    run kiln images --format 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}'
    [ "${lines[0]}" = "REPOSITORY   TAG       IMAGE ID       CREATED" ]
    [[ "${lines[1]}" =~ ^team/app\ {5}1\.2\ {7}[0-9a-f]{12}\ {3}[0-9]+\ years?\ ago$ ]]
    [[ "${lines[2]}" =~ ^busybox\ {6}latest\ {4}[0-9a-f]{12}\ {3} ]]
    [ "$(kiln images --format '{{if eq}}' 2>&1 | head -1)" = 'kiln images: --format: column 6: function "eq" is not supported; kiln knows json, join, upper, lower and index' ]
    [ "$(kiln images --format '{{.Repository}}{{range .platforms}} {{.}}{{end}}{{if .id}} +{{end}}' busybox)" = 'busybox linux/amd64 +' ]
    run kiln images --format '{{.Repository}} {{with .Tag}}x{{end'
    [ "$status" -eq 2 ]
    [[ "${lines[0]}" == "kiln images: --format: column 31: unclosed action"* ]]
    run kiln images --format '{{.repo}}'
    [ "$status" -eq 2 ]
    [[ "${lines[0]}" == *"column 3: no field .repo"* ]]
}

@test "tag stores the familiar form that skopeo and umoci find" {
    mkimage busybox:latest
    run kiln tag busybox debian:bookworm-slim
    [ "$status" -eq 0 ]
    kiln tag docker.io/library/busybox:latest team/app:1.2
    kiln tag busybox 127.0.0.1:5000/x:1
    kiln tag busybox quay.io/org/thing
    run jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$KILN_ROOT/index.json"
    [ "$output" = "busybox:latest
debian:bookworm-slim
team/app:1.2
127.0.0.1:5000/x:1
quay.io/org/thing:latest" ]
    skopeo inspect "oci:$KILN_ROOT:debian:bookworm-slim" >/dev/null
    skopeo inspect "oci:$KILN_ROOT:127.0.0.1:5000/x:1" >/dev/null
    umoci unpack --image "$KILN_ROOT:team/app:1.2" "$BATS_TEST_TMPDIR/bundle"
    [ -f "$BATS_TEST_TMPDIR/bundle/rootfs/file0" ]
    # lookups compare normalized forms
    run kiln inspect -f .digest docker.io/library/debian:bookworm-slim
    [ "$status" -eq 0 ]
    [ "$output" = "$(kiln inspect -f .digest busybox)" ]
    "$TOOLS/oci-validate" "$KILN_ROOT"
}

@test "tag moves an existing tag and refuses bad input with one clear line" {
    mkimage one:latest
    mkimage two:latest
    kiln tag one moving:x
    kiln tag two moving:x
    [ "$(kiln inspect -f .digest moving:x)" = "$(kiln inspect -f .digest two)" ]
    [ "$(jq '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]=="moving:x")] | length' "$KILN_ROOT/index.json")" -eq 1 ]

    run kiln tag nothere:1 x:1
    [ "$status" -eq 1 ]
    [[ "$output" == *'image "nothere:1" not found'* ]]
    run kiln tag one 'Bad/Name'
    [ "$status" -eq 1 ]
    [ "$output" = 'kiln: invalid reference "Bad/Name": repository name must be lowercase' ]
    run kiln tag one
    [ "$status" -eq 2 ]
}

@test "a tag never points at a manifest whose content is missing" {
    mkimage one:latest
    # remove one layer: tagging that manifest must fail and name the blob
    local m; m=$(kiln inspect -f .digest one)
    local layer; layer=$(jq -r '.layers[0].digest' "$KILN_ROOT/blobs/sha256/${m#sha256:}")
    rm -f "$KILN_ROOT/blobs/sha256/${layer#sha256:}"
    run kiln tag "$m" two:1
    [ "$status" -eq 1 ]
    [[ "$output" == *"cannot tag two:1"*"${layer#sha256:}"*missing* ]]
    run kiln images two
    [ "${#lines[@]}" -eq 1 ]
}

@test "inspect prints id, digest, tags, manifest and config" {
    mkimage busybox:latest --layers 2
    kiln tag busybox other:1
    run kiln inspect busybox
    [ "$status" -eq 0 ]
    local id; id=$(echo "$output" | jq -r '.[0].id')
    [[ "$id" =~ ^sha256:[0-9a-f]{64}$ ]]
    [ "$(echo "$output" | jq -r '.[0].repoTags | join(",")')" = "busybox:latest,other:1" ]
    [ "$(echo "$output" | jq -r '.[0].manifest.config.digest')" = "$id" ]
    [ "$(echo "$output" | jq -r '.[0].config.config.Cmd[0]')" = sh ]
    [ "$(echo "$output" | jq '.[0].diffIds | length')" -eq 2 ]
    # by id, id prefix and manifest digest
    local digest; digest=$(echo "$output" | jq -r '.[0].digest')
    [ "$(kiln inspect -f .digest "$id")" = "$digest" ]
    [ "$(kiln inspect -f .digest "${id:7:12}")" = "$digest" ]
    [ "$(kiln inspect -f .id "$digest")" = "$id" ]
    # a template prints as Go does (Docker's {{.Config.Env}} too); a bare path as JSON
    [ "$(kiln inspect -f '{{.Config.Config.Env}}' busybox)" = '[PATH=/usr/bin:/bin]' ]
    [ "$(kiln inspect -f '{{.Config.Env}}' busybox)" = '[PATH=/usr/bin:/bin]' ]
    [ "$(kiln inspect -f '{{json .config.config.Env}}' busybox)" = '["PATH=/usr/bin:/bin"]' ]
    [ "$(kiln inspect -f .config.config.Env busybox)" = '["PATH=/usr/bin:/bin"]' ]
    [ "$(kiln inspect -f '{{.Id}} {{.RepoTags}} {{.Os}}/{{.Architecture}}' busybox)" = "$id [busybox:latest other:1] linux/amd64" ]
    [ "$(kiln inspect -f '{{join .repoTags ", "}}\t{{upper .os}}' busybox)" = 'busybox:latest, other:1\tLINUX' ]
    [ "$(kiln inspect -f '{{json .Config.Cmd}} {{index .Config.Cmd 0}}' busybox)" = '["sh"] sh' ]
    [ "$(kiln inspect -f '{{range .Config.Env}}{{.}};{{end}}{{with .Config.User}}{{.}}{{else}}root{{end}}' busybox)" = 'PATH=/usr/bin:/bin;root' ]
    run kiln inspect -f '{{.Id}} {{template "x"}}' busybox
    [ "$status" -eq 2 ]
    [[ "$output" == *'--format: column 11: template is not supported'* ]]
    run kiln inspect nothere
    [ "$status" -eq 1 ]
    [[ "$output" == *'image "nothere" not found'* ]]
}

@test "history shows entries newest first with layer sizes" {
    mkimage busybox:latest --layers 2
    run kiln history busybox
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" =~ ^IMAGE\ +CREATED\ +CREATED\ BY\ +SIZE\ +COMMENT$ ]]
    [[ "${lines[1]}" =~ ^[0-9a-f]{12}\ .*CMD.*\ 0B$ ]]
    [[ "${lines[2]}" =~ ^\<missing\>\ .*echo\ step\ 1\ +[0-9.]+kB$ ]]
    [[ "${lines[3]}" == *"echo step 0"* ]]
    run kiln history --format json busybox
    [ "$(echo "$output" | jq -r '.[0].createdBy')" = '/bin/sh -c #(nop) CMD ["sh"]' ]
    [ "$(echo "$output" | jq '.[2].size')" -gt 0 ]
}

@test "rmi untags, deletes what no tag reaches, keeps shared content" {
    mkimage a:latest --layers 2
    mkimage b:latest
    kiln tag a a2:latest
    local before; before=$(blob_count)
    run kiln rmi a
    [ "$status" -eq 0 ]
    [ "$output" = "Untagged: a:latest" ]
    [ "$(blob_count)" -eq "$before" ]          # still tagged as a2
    local digest; digest=$(kiln inspect -f .digest a2)
    run kiln rmi a2
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "Untagged: a2:latest" ]
    [ "${lines[1]}" = "Deleted: $digest" ]
    [ ! -e "$KILN_ROOT/blobs/sha256/${digest#sha256:}" ]
    [ "$(blob_count)" -eq 3 ]                  # b: manifest, config, one layer
    kiln inspect b >/dev/null
    run kiln rmi a
    [ "$status" -eq 1 ]
    [[ "$output" == *'image "a" not found'* ]]
    run kiln fsck
    [ "$status" -eq 0 ]
    "$TOOLS/oci-validate" "$KILN_ROOT"
}

@test "rmi by id needs -f when the image has several tags" {
    mkimage a:latest
    kiln tag a b:1
    local id; id=$(kiln inspect -f .id a)
    run kiln rmi "${id:7:12}"
    [ "$status" -eq 1 ]
    [[ "$output" == *"has 2 tags"* ]]
    run kiln rmi -f "${id:7:12}"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Untagged: a:latest"* && "$output" == *"Untagged: b:1"* ]]
    [ "$(blob_count)" -eq 0 ]
}

@test "prune removes unreferenced blobs and reports bytes freed" {
    mkimage keep:latest
    mkimage gone:latest --no-tag --layers 2
    local before; before=$(blob_count)
    run kiln prune --dry-run
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "Would delete 4 blobs"* ]]
    [ "$(blob_count)" -eq "$before" ]
    mkdir -p "$KILN_ROOT/snapshots/0000000000000000000000000000000000000000000000000000000000000000"
    echo data >"$KILN_ROOT/snapshots/0000000000000000000000000000000000000000000000000000000000000000/f"
    touch -d 2000-01-01 "$KILN_ROOT"/snapshots/* "$KILN_ROOT"/blobs/sha256/*
    run kiln prune
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "Deleted 4 blobs ("*") and 1 snapshot (5B)" ]]
    local bytes; bytes=$(echo "${lines[1]}" | sed -E 's/.*\(([0-9]+) bytes\)/\1/')
    [ "$bytes" -gt 20000 ]
    [ "$(blob_count)" -eq 3 ]
    [ ! -e "$KILN_ROOT/snapshots/0000000000000000000000000000000000000000000000000000000000000000" ]
    kiln inspect keep >/dev/null
    run kiln prune
    [[ "${lines[0]}" == "Deleted 0 blobs (0B) and 0 snapshots (0B)" ]]
}

@test "fsck finds corrupt and missing blobs, --repair removes them and says so" {
    mkimage good:latest
    mkimage bad:latest --layers 2
    mkimage loose:latest --no-tag
    run kiln fsck
    [ "$status" -eq 0 ]
    [[ "$output" == *"0 problems"* ]]
    [[ "$output" == *"found 3 unreachable blobs"* ]]
    local m; m=$(kiln inspect -f .digest bad)
    local l0 l1
    l0=$(jq -r '.layers[0].digest' "$KILN_ROOT/blobs/sha256/${m#sha256:}")
    l1=$(jq -r '.layers[1].digest' "$KILN_ROOT/blobs/sha256/${m#sha256:}")
    chmod u+w "$KILN_ROOT/blobs/sha256/${l0#sha256:}"
    echo tampered >>"$KILN_ROOT/blobs/sha256/${l0#sha256:}"
    rm "$KILN_ROOT/blobs/sha256/${l1#sha256:}"
    echo junk >"$KILN_ROOT/blobs/sha256/not-a-digest"
    run kiln fsck
    [ "$status" -eq 1 ]
    [[ "$output" == *"problem: blobs/sha256/${l0#sha256:}: corrupt: content is sha256:"* ]]
    [[ "$output" == *"problem: blobs/sha256/not-a-digest: not a sha256 digest name"* ]]
    [[ "$output" == *"problem: tag bad:latest: "*"${l0#sha256:}"* ]]
    [ "$(echo "$output" | grep -c '^problem:')" -eq 3 ]
    run kiln fsck --repair
    [ "$status" -eq 0 ]
    [[ "$output" == *"repaired: blobs/sha256/${l0#sha256:}: corrupt"*"(removed)"* ]]
    [[ "$output" == *"repaired: tag bad:latest:"*"(tag removed)"* ]]
    [[ "$output" == *"removed "*" unreachable blob"* ]]
    run kiln fsck
    [ "$status" -eq 0 ]
    [[ "$output" != *unreachable* ]]
    kiln inspect good >/dev/null
    run kiln inspect bad
    [ "$status" -eq 1 ]
    "$TOOLS/oci-validate" "$KILN_ROOT"
}

@test "fsck reports a broken oci-layout and --repair rewrites it" {
    kiln images >/dev/null
    echo '{}' >"$KILN_ROOT/oci-layout"
    run kiln fsck
    [ "$status" -eq 1 ]
    [[ "$output" == *"problem: oci-layout: no imageLayoutVersion"* ]]
    run kiln fsck --repair
    [ "$status" -eq 0 ]
    [ "$(cat "$KILN_ROOT/oci-layout")" = '{"imageLayoutVersion":"1.0.0"}' ]
}

@test "stale ingest entries of dead writers are removed at start" {
    kiln images >/dev/null
    mkdir -p "$KILN_ROOT/ingest/s-1.000000000-1-AAAAAA"
    echo partial >"$KILN_ROOT/ingest/s-1.000000000-1-AAAAAA/blob-x"
    kiln images >/dev/null
    [ ! -e "$KILN_ROOT/ingest/s-1.000000000-1-AAAAAA" ]
    [ -z "$(ls -A "$KILN_ROOT/ingest")" ]
}

@test "two kiln processes tagging on one store at once both succeed" {
    mkimage base:latest
    (for i in $(seq 1 30); do kiln tag base "p1:t$i" || exit 1; done) &
    local p1=$!
    (for i in $(seq 1 30); do kiln tag base "p2:t$i" || exit 1; done) &
    local p2=$!
    wait "$p1"
    wait "$p2"
    [ "$(kiln images --format json | jq '[.[] | select(.repository == "p1" or .repository == "p2")] | length')" -eq 60 ]
    run kiln fsck
    [ "$status" -eq 0 ]
}

make_busybox_image() {
    local root="$BATS_TEST_TMPDIR/rootfs"
    mkdir -p "$root/bin"
    cp "$(command -v busybox)" "$root/bin/busybox"
    ln -sf busybox "$root/bin/sh"
    kiln import "$root" -t "$1" >/dev/null
}

@test "rmi removes the snapshots a run unpacked; a running container keeps its own" {
    kiln help run >/dev/null 2>&1 || skip "kiln run is not built"
    make_busybox_image bb:1
    run kiln run --rm bb:1 /bin/busybox echo hi
    [ "$status" -eq 0 ]
    [ "$(ls "$KILN_ROOT/snapshots" | wc -l)" -eq 1 ]
    kiln rmi bb:1
    [ "$(ls "$KILN_ROOT/snapshots" | wc -l)" -eq 0 ]

    make_busybox_image bb:2
    kiln run -d --name keeper bb:2 /bin/busybox sleep 60 >/dev/null
    local snap; snap=$(ls "$KILN_ROOT/snapshots")
    [ -n "$snap" ]
    kiln rmi bb:2
    [ -d "$KILN_ROOT/snapshots/$snap" ]        # mounted as the container's lowerdir
    kiln stop -t 1 keeper >/dev/null
    kiln rm keeper >/dev/null
    run kiln prune
    [[ "${lines[0]}" == *"and 1 snapshot"* ]]
    [ ! -e "$KILN_ROOT/snapshots/$snap" ]
}

teardown() {
    if [ -n "${KILN_ROOT:-}" ] && [ -d "$KILN_ROOT/containers" ]; then
        kiln stop -t 1 keeper >/dev/null 2>&1 || true
        kiln rm keeper >/dev/null 2>&1 || true
    fi
}

@test "two kiln import processes on one store at once both succeed" {
    local a="$BATS_TEST_TMPDIR/a" b="$BATS_TEST_TMPDIR/b"
    mkdir -p "$a/data" "$b/data"
    head -c 8000000 /dev/urandom >"$a/data/big"
    head -c 8000000 /dev/urandom >"$b/data/big"
    kiln import "$a" -t imp:a >/dev/null &
    local p1=$!
    kiln import "$b" -t imp:b >/dev/null &
    local p2=$!
    wait "$p1"
    wait "$p2"
    run kiln images imp
    [ "${#lines[@]}" -eq 3 ]
    [[ "$output" == *"imp          a"* && "$output" == *"imp          b"* ]]
    run kiln fsck
    [ "$status" -eq 0 ]
    "$TOOLS/oci-validate" "$KILN_ROOT"
}

@test "SIGKILL during tag, rmi and prune never leaves a tag without its content" {
    mkimage base:latest --layers 2
    local i
    for i in $(seq 1 20); do
        (
            for j in 1 2 3 4 5; do
                kiln tag base "k$i:$j" && kiln rmi "k$i:$j" && kiln tag base "k$i:$j"
            done
            kiln prune
        ) >/dev/null 2>&1 &
        local pid=$!
        sleep "0.0$((RANDOM % 9 + 1))"
        pkill -KILL -P "$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        run kiln fsck
        [ "$status" -eq 0 ] || { echo "after kill $i: $output"; false; }
    done
    # every tag left resolves to a complete image
    local t
    for t in $(jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$KILN_ROOT/index.json"); do
        kiln inspect "$t" >/dev/null
    done
    "$TOOLS/oci-validate" "$KILN_ROOT"
}
