#!/usr/bin/env bats
# The data environment's production image for linux/arm64, built under QEMU
# (make ml-build-prod PLATFORM=linux/arm64: make ml-base's arm64 base, the
# healthcheck cross-built) and run under emulation until its health check says
# healthy (make ml-test PLATFORM=linux/arm64). Built once per run into the shared
# test image store (under its lock) as dataenv-arm64:latest-prod, then loaded.
load helpers
load ../registry/registry

setup() {
    setup_store
    ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
    SHARED="${KILN_TEST_IMAGES:-${KILN_TEST_BUILD:-$ROOT/build}/test-images}"
    mkdir -p "$SHARED"
}

teardown() {
    make -s -C "$ROOT" --no-print-directory KILN_BIN="$KILN" ML_NAME=dataenv-arm64 ml-stop >/dev/null 2>&1 || true
}

@test "dataenv production for linux/arm64 builds and is healthy under emulation" {
    start=$(date +%s)
    (
        flock 9
        KILN_ROOT="$SHARED/store" make -s -C "$ROOT" --no-print-directory \
            BUILD="${KILN_TEST_BUILD:-$ROOT/build}" KILN_BIN="$KILN" ML_NAME=dataenv-arm64 \
            PLATFORM=linux/arm64 ml-build-prod >"$SHARED/prod-arm64.log" 2>&1 ||
            { tail -n 30 "$SHARED/prod-arm64.log"; exit 1; }
    ) 9>"$SHARED/lock"
    echo "# arm64 production build: $(($(date +%s) - start)) s (load $(cut -d' ' -f1 /proc/loadavg))" >&3
    KILN_ROOT="$SHARED/store" "$KILN" save -o - dataenv-arm64:latest-prod | kiln load -i - >/dev/null
    [ "$(kiln inspect -f .architecture dataenv-arm64:latest-prod)" = arm64 ]
    port=$(_free_port)
    start=$(date +%s)
    run make -s -C "$ROOT" --no-print-directory KILN_BIN="$KILN" ML_NAME=dataenv-arm64 \
        PLATFORM=linux/arm64 ML_API_PORT="$port" ml-test
    echo "# arm64 ml-test: $(($(date +%s) - start)) s" >&3
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ "$output" == *"imports ok on aarch64"* ]]
    [[ "$output" == *"API healthy after"* ]]
    [[ "$output" == *'"status"'* ]]
}
