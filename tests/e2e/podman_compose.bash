# Debian's podman-compose (1.0.3) beside kiln compose, for the comparison in
# dataenv_stack.bats and for bench/compose.sh.
#
# Network safety: podman 4.3 here puts each container on a CNI bridge (10.89.x)
# and DNATs its published ports to that address. So that no packet goes to such an
# address from the host's own namespace, podman-compose runs inside a network
# namespace kiln makes (a `--network none` container: lo only, nothing leaves it);
# its published ports are 127.0.0.1 ports of that namespace (pc_in curl ...).
#
#   pc_setup DIR IMAGE   podman's store in DIR; the namespace box, a container of
#                        IMAGE (any image with `sleep`) in $KILN_ROOT
#   pc_copy_image REF    kiln's REF (in $KILN_ROOT, an OCI layout) into podman's store
#   pc_compose ARGS...   podman-compose with that store and this machine's ulimits,
#                        inside the namespace
#   pc_in CMD...         CMD inside the namespace
#   pc_podman ARGS...    podman with that store, inside the namespace
#   pc_wait_healthy SECONDS CONTAINER...  until each passes its health check
#   pc_teardown PROJECT FILE  down -v, the project's network, the box

pc_setup() {
    PC_DIR=$1
    mkdir -p "$PC_DIR"
    PC_BOX=kiln-pcbox-$$
    "$KILN" rm -f "$PC_BOX" >/dev/null 2>&1 || true
    "$KILN" run -d --network none --name "$PC_BOX" --entrypoint sleep "$2" infinity >/dev/null || return 1
    PC_PID=$("$KILN" inspect "$PC_BOX" | jq -r '.[0].State.Pid')
    [ -n "$PC_PID" ] && [ "$PC_PID" != null ] && [ -e "/proc/$PC_PID/ns/net" ] || {
        echo "pc_setup: no network namespace for $PC_BOX" >&2
        return 1
    }
    export PC_DIR PC_BOX PC_PID
}

pc_in() {
    nsenter --net="/proc/$PC_PID/ns/net" "$@"
}

# PC_PODMAN_ARGS: more global podman flags (bench/compose.sh: --runtime)
pc_podman() {
    # shellcheck disable=SC2086
    pc_in podman --root "$PC_DIR/root" --runroot "$PC_DIR/run" ${PC_PODMAN_ARGS:-} "$@"
}

pc_copy_image() {
    skopeo copy -q "oci:$KILN_ROOT:$1" "containers-storage:[overlay@$PC_DIR/root+$PC_DIR/run]localhost/$1"
}

# (root lacks CAP_SYS_RESOURCE here: RLIMIT_NOFILE's hard limit is 20000, see run_lib.bash)
pc_compose() {
    pc_in podman-compose --podman-args="--root $PC_DIR/root --runroot $PC_DIR/run ${PC_PODMAN_ARGS:-}" \
        --podman-run-args="--ulimit nofile=20000:20000 --ulimit nproc=32768:32768" "$@"
}

# No systemd runs podman's health timers on this machine (it says so at `run`):
# the checks are run here, as a timer would, until each container passes.
pc_wait_healthy() {
    local limit=$1 c deadline
    shift
    deadline=$(($(date +%s) + limit))
    for c in "$@"; do
        until pc_podman healthcheck run "$c" >/dev/null 2>&1; do
            [ "$(date +%s)" -lt "$deadline" ] || {
                echo "pc_wait_healthy: $c not healthy after ${limit}s" >&2
                return 1
            }
            sleep 0.1
        done
    done
}

pc_teardown() {
    [ -n "${PC_PID:-}" ] || return 0
    pc_compose -f "$2" -p "$1" down -v >/dev/null 2>&1 || true
    podman --root "$PC_DIR/root" --runroot "$PC_DIR/run" network rm -f "$1_default" >/dev/null 2>&1 || true
    "$KILN" rm -f "$PC_BOX" >/dev/null 2>&1 || true
}
