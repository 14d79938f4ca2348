#!/usr/bin/env bats
# Every Dockerfile under tests/e2e/dockerfiles/ (ARG scoping and expansion, the
# escape directive, heredocs, .dockerignore exceptions, whiteouts, COPY --from
# with --chown/--chmod, --target pruning, ONBUILD, every config instruction, ADD)
# builds with kiln to the same root file system and config as with buildah.
# Where buildah 1.28 lacks a feature or differs from BuildKit's documented
# behaviour, the case's Dockerfile.buildah or config.skip says so (see
# same_output.bash).
load same_output

setup() {
    same_output_setup
    same_base_busybox
}

teardown() {
    same_output_teardown
}

@test "same as buildah: every case in tests/e2e/dockerfiles" {
    local failed=() n=0 d name
    for d in "$SAME_DIR"/*/; do
        name=$(basename "$d")
        [ -z "${SAME_ONLY:-}" ] || [[ " $SAME_ONLY " == *" $name "* ]] || continue
        n=$((n + 1))
        if ! same_output "$name"; then
            failed+=("$name")
        fi
    done
    echo "# $n cases, failed: ${failed[*]:-none}"
    [ "$n" -ge 10 ] || [ -n "${SAME_ONLY:-}" ]
    [ ${#failed[@]} -eq 0 ]
}
