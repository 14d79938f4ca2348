#!/usr/bin/env bats
# A base image pinned by digest (FROM name:tag@sha256:...): resolved against the
# store; a store whose name:tag is another image is refused before any step runs.
# The data environment's pin (dataenv/locks/base.lock, written by make ml-base) as
# the build script uses it, and the build args it passes (kiln build --print-args).
load build_helpers

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
BASE=localhost/debian:pin-test

setup() {
    setup_store
    import_busybox
    kiln tag busybox:test "$BASE"
    PIN=$(kiln inspect "$BASE" | jq -r '.[0].digest')
    # a digest no image in the store has
    WRONG=sha256:$(printf 'not the base' | sha256sum | cut -d' ' -f1)
    ctx="$BATS_TEST_TMPDIR/ctx"
    mkdir -p "$ctx"
}

pinned_dockerfile() {
    printf 'FROM %s@%s\nRUN echo step-ran > /ran\n' "$BASE" "$1" >"$ctx/Dockerfile"
}

@test "pin: FROM name:tag@the store's digest builds from that image" {
    pinned_dockerfile "$PIN"
    run kiln build --progress=plain -t pinned:1 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(kiln run --rm pinned:1 cat /ran)" = step-ran ]
    # the pinned digest is the one kiln inspect reports for the base
    [ "$(kiln inspect "$BASE" | jq -r '.[0].digest')" = "$PIN" ]
    [ "$(kiln inspect "$BASE@$PIN" | jq -r '.[0].digest')" = "$PIN" ]
    # the base's layer is the built image's first
    [ "$(kiln inspect pinned:1 | jq -r '.[0].diffIds[0]')" = "$(kiln inspect "$BASE" | jq -r '.[0].diffIds[0]')" ]
}

@test "pin: a wrong digest fails before any step, naming both digests and how to refresh" {
    pinned_dockerfile "$WRONG"
    run kiln build --progress=plain -t pinned:2 "$ctx"
    echo "$output"
    [ "$status" -ne 0 ]
    [[ $output == *"Dockerfile:1: FROM $BASE@$WRONG"* ]]
    [[ $output == *"pinned to $WRONG but the store's $BASE is $PIN"* ]]
    [[ $output == *"refresh the pin"*"make ml-base"* ]]
    [[ $output != *step-ran* ]]
    [[ $output != *"RUN echo"* ]]
    ! kiln inspect pinned:2 >/dev/null 2>&1
}

@test "pin: COPY --from a pinned image is checked the same way" {
    printf 'FROM %s\nCOPY --from=%s@%s /etc/passwd /p\n' "$BASE" "$BASE" "$WRONG" >"$ctx/Dockerfile"
    run kiln build --progress=plain "$ctx"
    [ "$status" -ne 0 ]
    [[ $output == *"COPY --from=$BASE@$WRONG"*"pinned to $WRONG but the store's $BASE is $PIN"* ]]
}

@test "print-args: the ARGs the target's stages declare, global ones first; an undeclared build arg warns" {
    cat >"$ctx/Dockerfile" <<EOF
ARG BASE=$BASE
FROM \$BASE AS one
ARG ONLY_ONE
ARG SHARED=1
FROM \$BASE AS two
ARG SHARED ONLY_TWO=2
RUN echo \$SHARED \$ONLY_TWO
EOF
    run kiln build --print-args --target one "$ctx"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'BASE\nONLY_ONE\nSHARED')" ]
    run kiln build --print-args "$ctx"
    [ "$output" = "$(printf 'BASE\nSHARED\nONLY_TWO')" ]
    # only declared args: no warning; one nothing declares: the warning
    run kiln build --progress=plain --build-arg SHARED=3 --build-arg ONLY_TWO=4 "$ctx"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ $output != *warning* ]]
    run kiln build --progress=plain --build-arg ONLY_ONE=5 "$ctx"
    [ "$status" -eq 0 ]
    [[ $output == *"warning: build arg ONLY_ONE was given but never used by an ARG"* ]]
}

# ------------------------------------------------------------ the data environment's pin
@test "dataenv: the build script passes only the target's args, and a --build-arg as given" {
    run "$ROOT/scripts/build-ml-container.sh" --dry-run
    [ "$status" -eq 0 ]
    local dev=$output
    for a in APP_VERSION APP_SOURCE VCS_REF BUILD_DATE; do [[ $dev != *"--build-arg $a="* ]]; done
    [[ $dev == *"--build-arg WITH_JUPYTER=1"* ]]
    run "$ROOT/scripts/build-ml-container.sh" --dry-run --target production
    for a in APP_VERSION APP_SOURCE VCS_REF BUILD_DATE; do [[ $output == *"--build-arg $a="* ]]; done
    [[ $output != *"--build-arg WITH_JUPYTER="* ]]
    run "$ROOT/scripts/build-ml-container.sh" --dry-run --build-arg NOTHING_DECLARES=1
    [[ $output == *"--build-arg NOTHING_DECLARES=1"* ]]
}

@test "dataenv: the pin from base.lock reaches FROM; --locked without a pin fails saying so" {
    printf 'BASE_IMAGE=localhost/debian:bookworm-slim\nBASE_DIGEST=%s\n' "$PIN" >"$BATS_TEST_TMPDIR/base.lock"
    DATAENV_BASE_LOCK=$BATS_TEST_TMPDIR/base.lock run "$ROOT/scripts/build-ml-container.sh" --dry-run
    [ "$status" -eq 0 ]
    [[ $output == *"--build-arg BASE_DIGEST=$PIN"* ]]
    # FROM names BASE_IMAGE@BASE_DIGEST in both stages that start from the base
    run kiln build --dry-run -f "$ROOT/dataenv/Dockerfile" --target production \
        --build-arg BASE_DIGEST="$PIN" "$ROOT/dataenv"
    [[ $output == *"FROM localhost/debian:bookworm-slim@$PIN"* ]]
    run kiln build --dry-run -f "$ROOT/dataenv/Dockerfile" --target production "$ROOT/dataenv"
    [[ $output == *"FROM localhost/debian:bookworm-slim (image)"* ]]
    DATAENV_BASE_LOCK=$BATS_TEST_TMPDIR/none.lock run "$ROOT/scripts/build-ml-container.sh" --dry-run --locked
    [ "$status" -ne 0 ]
    [[ $output == *"--locked needs the base image pinned by digest"*"run make ml-base"* ]]
}

@test "dataenv: a pin the store's base does not match stops the build script before anything is built" {
    kiln tag busybox:test localhost/debian:bookworm-slim
    printf 'BASE_IMAGE=localhost/debian:bookworm-slim\nBASE_DIGEST=%s\n' "$WRONG" >"$BATS_TEST_TMPDIR/base.lock"
    DATAENV_BASE_LOCK=$BATS_TEST_TMPDIR/base.lock KILN_NPM_CACHE=$BATS_TEST_TMPDIR/npm \
        run "$ROOT/scripts/build-ml-container.sh"
    echo "$output"
    [ "$status" -ne 0 ]
    [[ $output == *"pinned to $WRONG"*"the store's localhost/debian:bookworm-slim is $PIN; run make ml-base"* ]]
    [ ! -e "$BATS_TEST_TMPDIR/npm" ]
    ! kiln inspect dataenv:latest >/dev/null 2>&1
}
