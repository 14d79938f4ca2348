#!/usr/bin/env bats
# kiln lint: like `docker build --check`. Valid fixtures lint with exit 0,
# invalid ones fail with the exact FILE:LINE:COL message.
load helpers

FIXTURES="$BATS_TEST_DIRNAME/../fixtures/dockerfiles"

setup() {
    setup_store
    cd "$BATS_TEST_TMPDIR"
}

@test "every valid fixture lints with exit 0" {
    for f in "$FIXTURES"/valid/*.Dockerfile; do
        run kiln lint -f - < "$f"
        [ "$status" -eq 0 ] || { echo "$f: $output"; false; }
    done
}

@test "every invalid fixture fails with its line-numbered error" {
    for f in "$FIXTURES"/invalid/*.Dockerfile; do
        want=$(head -n1 "${f%.Dockerfile}.err")
        run kiln lint -f - < "$f"
        [ "$status" -eq 1 ] || { echo "$f: status $status"; false; }
        [ "$output" = "$want" ] || { echo "$f: got: $output"; echo "want: $want"; false; }
    done
}

@test "default Dockerfile in the context, warnings with rule names, exit 0" {
    mkdir ctx
    printf 'FROM alpine\nMAINTAINER me\nCMD echo hi\n' > ctx/Dockerfile
    run kiln lint ctx
    [ "$status" -eq 0 ]
    [[ "$output" == *"ctx/Dockerfile:2:1: warning: Maintainer instruction is deprecated in favor of using label (MaintainerDeprecated)"* ]]
    [[ "$output" == *"ctx/Dockerfile:3:1: warning: JSON arguments recommended"*"(JSONArgsRecommended)"* ]]
}

@test "a clean Dockerfile says so" {
    printf 'FROM alpine\nCMD ["true"]\n' > Dockerfile
    run kiln lint
    [ "$status" -eq 0 ]
    [ "$output" = "Dockerfile: no problems found" ]
}

@test "--format json lists warnings and the error with positions" {
    printf 'FROM alpine\nMAINTAINER me\nRUN echo ok\nCOPYY a b\n' > Dockerfile
    run kiln lint --format json
    [ "$status" -eq 1 ]
    echo "$output" | jq -e '.error.line == 4 and .error.column == 1' >/dev/null
    echo "$output" | jq -e '.error.message == "unknown instruction \"COPYY\" (did you mean COPY?)"' >/dev/null
    printf 'FROM alpine\nMAINTAINER me\n' > Dockerfile
    run kiln lint --format json
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.error == null and .warnings[0].rule == "MaintainerDeprecated" and .warnings[0].line == 2' >/dev/null
}

@test "the check directive skips rules and can make warnings fatal" {
    printf '# check=skip=MaintainerDeprecated\nFROM alpine\nMAINTAINER me\n' > Dockerfile
    run kiln lint
    [ "$status" -eq 0 ]
    [ "$output" = "Dockerfile: no problems found" ]
    printf '# check=error=true\nFROM alpine\nMAINTAINER me\n' > Dockerfile
    run kiln lint
    [ "$status" -eq 1 ]
    [[ "$output" == *"MaintainerDeprecated"* ]]
    [[ "$output" == *"error=true"* ]]
}

@test "--target and --build-arg: unknown stage, unused build arg, required arg" {
    printf 'FROM alpine AS base\nARG V\nRUN echo ${V:?set V}\nFROM base AS app\n' > Dockerfile
    run kiln lint --target nope
    [ "$status" -eq 1 ]
    [[ "$output" == *'target stage "nope" could not be found'*'base, app'* ]]
    run kiln lint
    [ "$status" -eq 0 ] # RUN is expanded by the shell, not by kiln
    printf 'FROM alpine\nARG V\nWORKDIR /${V:?set V}\n' > Dockerfile
    run kiln lint
    [ "$status" -eq 1 ]
    [[ "$output" == "Dockerfile:3:1: "*"V: set V" ]]
    run kiln lint --build-arg V=1 --build-arg EXTRA=2
    [ "$status" -eq 0 ]
    [[ "$output" == *'build arg "EXTRA" was given but no stage declares it (UnusedBuildArg)'* ]]
}

@test "UndefinedVar: line-numbered warnings, exit 0, suggestions, skip directive" {
    cat > Dockerfile <<'DF'
FROM alpine AS base
ARG declared
COPY $declared $foo /app/
ENV A=1 B=$A
ENV P=$PAHT:/bin
RUN echo $not_checked_in_run
WORKDIR $HOME/app
FROM base
COPY x /${A}/${declared}
DF
    run kiln lint
    [ "$status" -eq 0 ]
    [[ "$output" == *"Dockerfile:3:1: warning: Usage of undefined variable '\$foo' (UndefinedVar)"* ]]
    [[ "$output" == *"Dockerfile:4:1: warning: Usage of undefined variable '\$A' (UndefinedVar)"* ]]
    [[ "$output" == *"Dockerfile:5:1: warning: Usage of undefined variable '\$PAHT' (did you mean \$PATH?) (UndefinedVar)"* ]]
    [[ "$output" == *"Dockerfile:9:1: warning: Usage of undefined variable '\$declared' (UndefinedVar)"* ]]
    [ "$(grep -c UndefinedVar <<<"$output")" -eq 4 ] || { echo "$output"; false; }
    run kiln lint --format json
    echo "$output" | jq -e '[.warnings[] | select(.rule == "UndefinedVar") | .line] == [3, 4, 5, 9]' >/dev/null
    { echo '# check=skip=UndefinedVar'; cat Dockerfile; } > Dockerfile.skip
    run kiln lint -f Dockerfile.skip
    [ "$status" -eq 0 ]
    [[ "$output" != *UndefinedVar* ]]
    { echo '# check=error=true'; cat Dockerfile; } > Dockerfile.err
    run kiln lint -f Dockerfile.err
    [ "$status" -eq 1 ]
}

@test "UndefinedVar: the base image's ENV from the store counts" {
    mkdir rootfs && echo hi > rootfs/hi
    kiln import rootfs -t withenv:1 --change 'ENV PYTHON_VERSION=3.12' >/dev/null
    printf 'FROM withenv:1\nARG V=$PYTHON_VERSION\nWORKDIR /$HOME\n' > Dockerfile
    run kiln lint
    [ "$status" -eq 0 ]
    [[ "$output" != *PYTHON_VERSION* ]] || { echo "$output"; false; }
    # the image is known and has no HOME
    [[ "$output" == *"Dockerfile:3:1: warning: Usage of undefined variable '\$HOME' (UndefinedVar)"* ]]
    printf 'FROM notstored:1\nARG V=$PYTHON_VERSION\nWORKDIR /$HOME\n' > Dockerfile
    run kiln lint
    [ "$status" -eq 0 ]
    [[ "$output" == *"Dockerfile:2:1: warning: Usage of undefined variable '\$PYTHON_VERSION' (UndefinedVar)"* ]]
    [[ "$output" != *'$HOME'* ]] || { echo "$output"; false; }
}

@test "COPY of a file excluded by <name>.dockerignore is reported" {
    mkdir ctx
    printf 'FROM alpine\nCOPY secret.env /\n' > ctx/Dockerfile.dev
    echo 'secret.env' > ctx/Dockerfile.dev.dockerignore
    echo 'other' > ctx/.dockerignore
    run kiln lint -f ctx/Dockerfile.dev ctx
    [ "$status" -eq 0 ]
    [[ "$output" == *'ctx/Dockerfile.dev:2:1: warning: Attempting to Copy file "secret.env" that is excluded by .dockerignore (CopyIgnoredFile)'* ]]
}

@test "usage errors exit 2; a missing Dockerfile exits 1" {
    run kiln lint --format yaml
    [ "$status" -eq 2 ]
    run kiln lint a b
    [ "$status" -eq 2 ]
    run kiln lint -f does-not-exist
    [ "$status" -eq 1 ]
    [[ "$output" == *"does-not-exist"* ]]
}

@test "kiln help lint" {
    run kiln help lint
    [ "$status" -eq 0 ]
    [[ "$output" == "Usage: kiln lint"* ]]
}

# kiln build --dry-run: the plan comes from the frontend (df_plan_render);
# the command itself is the build executor's (src/cli/build.c).
need_build() {
    kiln help build >/dev/null 2>&1 || skip "kiln build is not available yet"
}
@test "kiln build --dry-run prints a plan for every valid fixture" {
    need_build
    mkdir -p ctx
    for f in "$FIXTURES"/valid/*.Dockerfile; do
        run kiln build --dry-run -f "$f" ctx
        [ "$status" -eq 0 ] || { echo "$f: $output"; false; }
        [[ "$output" == "Target: stage "* ]] || { echo "$f: $output"; false; }
        [[ "$output" == *"Stages to run, in order"* ]]
    done
}

@test "kiln build --dry-run: order, waves, expanded steps, skipped stages" {
    need_build
    mkdir -p ctx
    cat > ctx/Dockerfile <<'DF'
ARG GO=1.22
FROM golang:${GO} AS build
ARG APP=server
RUN go build -o /out/${APP}
FROM alpine AS test
RUN go test ./...
FROM scratch
ARG APP=server
COPY --from=build /out/${APP} /${APP}
DF
    run kiln build --dry-run --build-arg APP=api --build-arg NOPE=1 ctx
    [ "$status" -eq 0 ]
    [[ "$output" == *'[wave 0] stage 0 "build": FROM golang:1.22 (image)'* ]]
    [[ "$output" == *'    2. RUN go build -o /out/${APP}'* ]]
    [[ "$output" == *'[wave 1] stage 2: FROM scratch (empty)'* ]]
    [[ "$output" == *'    2. COPY --from=build /out/api /api'* ]]
    [[ "$output" == *'stage 1 "test": not needed to build the target stage 2'* ]]
    [[ "$output" == *'Build args not used by any stage: NOPE'* ]]
    run kiln build --dry-run --target test ctx
    [ "$status" -eq 0 ]
    [[ "$output" == *'Target: stage 1 "test"'* ]]
    [[ "$output" != *'stage 0 "build": FROM'* ]]
    run kiln build --dry-run --target nope ctx
    [ "$status" -eq 1 ]
    [[ "$output" == *'target stage "nope" could not be found'* ]]
}

@test "kiln build --dry-run fails with the line-numbered error of an invalid Dockerfile" {
    need_build
    mkdir -p ctx
    printf 'FROM alpine\nCOPY --chwon=1 a b\n' > ctx/Dockerfile
    run kiln build --dry-run ctx
    [ "$status" -eq 1 ]
    [[ "$output" == *"Dockerfile:2:6: unknown flag --chwon for COPY (did you mean --chown?)"* ]]
}

@test "a Dockerfile given in place of the context is linted, its directory the context" {
    mkdir -p proj
    printf 'FROM scratch\nCOPY a /a\n' >proj/Containerfile
    run kiln lint proj/Containerfile
    [ "$status" -eq 0 ]
    [ "$output" = "proj/Containerfile: no problems found" ]
    printf 'FROM scratch\nCOPY --from=nowhere /a /a\nFROM\n' >proj/Containerfile
    run kiln lint proj/Containerfile
    [ "$status" -eq 1 ]
    [[ "$output" == proj/Containerfile:3:* ]]
}
