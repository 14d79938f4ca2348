#!/usr/bin/env bats
# kiln run: isolation, lock-down, users, volumes, exit codes (checked against
# podman's for the same cases), on a busybox-static image made with kiln import.

load helpers
load run_lib
bats_require_minimum_version 1.5.0

setup_file() {
    run_fixture_file
    gcc -static -O1 -o "$RUN_FIXTURE/rootfs/bin/probe" "$BATS_TEST_DIRNAME/run-probe/probe.c"
    printf '#!/bin/nonexistent\n' >"$RUN_FIXTURE/rootfs/bin/badinterp"
    chmod 755 "$RUN_FIXTURE/rootfs/bin/badinterp"
    printf 'x' >"$RUN_FIXTURE/rootfs/bin/notexec"
    # A symlink in the image pointing outside the root.
    mkdir -p "$BATS_FILE_TMPDIR/outside"
    ln -s "$BATS_FILE_TMPDIR/outside" "$RUN_FIXTURE/rootfs/escape"
}

setup() {
    run_fixture_store
}

@test "run: the command's output and exit status" {
    run kiln run --rm bb echo hello
    [ "$status" -eq 0 ]
    [ "$output" = "hello" ]
    run kiln run --rm bb sh -c 'exit 3'
    [ "$status" -eq 3 ]
}

@test "run: Docker's capability set, no_new_privs, seccomp mode 2" {
    run kiln run --rm bb grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$(printf 'CapEff:\t00000000a80425fb')" ]
    [ "${lines[1]}" = "$(printf 'CapBnd:\t00000000a80425fb')" ]
    [ "${lines[2]}" = "$(printf 'NoNewPrivs:\t1')" ]
    [ "${lines[3]}" = "$(printf 'Seccomp:\t2')" ]
}

@test "run: mount, unshare, keyctl and ptrace fail with EPERM" {
    run kiln run --rm bb probe
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'mount=EPERM\nunshare=EPERM\nkeyctl=EPERM\nptrace=EPERM')" ]
}

@test "run: only fds 0, 1, 2 reach the command" {
    exec 7>/dev/null 8</dev/null # an fd kiln's caller leaked must not get in
    # A background command's fds, listed by another process: nothing but stdio.
    run kiln run --rm bb sh -c 'sleep 2 & ls /proc/$!/fd; kill $!'
    exec 7>&- 8<&-
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '0\n1\n2')" ]
}

@test "run: pid namespace — the command is PID 1's child, host processes invisible" {
    run kiln run --rm bb sh -c 'echo $$; ps -o pid= | wc -l'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 2 ]
    [ "${lines[1]}" -le 4 ]
    run kiln run --rm --init=false bb sh -c 'echo $$'
    [ "$output" = 1 ]
}

@test "run: kiln's binary is not reachable through /proc/1/exe" {
    run kiln run --rm bb sh -c 'cat /proc/1/exe >/dev/null 2>&1 && echo readable || echo denied'
    [ "$output" = denied ]
}

@test "run: hostname is the container's" {
    run kiln run --rm --hostname box7 bb sh -c 'hostname; cat /etc/hostname; echo $HOSTNAME'
    [ "$output" = "$(printf 'box7\nbox7\nbox7')" ]
    [ "$(hostname)" != box7 ]
}

@test "run: the image's user and groups; -u overrides; bad user is 125" {
    kiln import "$RUN_FIXTURE/rootfs" -t bbapp -c 'USER app' -c 'WORKDIR /home/app' >/dev/null
    run kiln run --rm bbapp sh -c 'id; pwd; echo $HOME'
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'uid=1000(app) gid=1000(app) groups=2000(data)\n/home/app\n/home/app')" ]
    run kiln run --rm -u 0:0 bbapp id -u
    [ "$output" = 0 ]
    run kiln run --rm -u nobody bb true
    [ "$status" -eq 125 ]
    [[ "$output" == *"unable to find user nobody"* ]]
}

@test "run: ENV, -e, --env-file, WORKDIR created, escaping WORKDIR refused" {
    kiln import "$RUN_FIXTURE/rootfs" -t bbenv -c 'ENV A=image B=image' >/dev/null
    printf 'C=file\n# comment\n' >"$BATS_TEST_TMPDIR/envf"
    run kiln run --rm -e B=flag --env-file "$BATS_TEST_TMPDIR/envf" -w /new/dir bbenv \
        sh -c 'echo $A $B $C; pwd'
    [ "$output" = "$(printf 'image flag file\n/new/dir')" ]
    run kiln run --rm -w /proc/self/fd/3 bb true
    [ "$status" -eq 125 ]
}

@test "run: ENTRYPOINT and CMD as Docker combines them" {
    kiln import "$RUN_FIXTURE/rootfs" -t bbep -c 'ENTRYPOINT ["echo","ep"]' -c 'CMD ["cmd"]' >/dev/null
    run kiln run --rm bbep
    [ "$output" = "ep cmd" ]
    run kiln run --rm bbep args
    [ "$output" = "ep args" ]
    run kiln run --rm --entrypoint /bin/echo bbep
    [ "$output" = "" ]
    run kiln run --rm --entrypoint "" bbep echo plain
    [ "$output" = "plain" ]
}

@test "run: a volume onto a symlink pointing outside the root lands inside the root" {
    mkdir "$BATS_TEST_TMPDIR/vol"
    echo data >"$BATS_TEST_TMPDIR/vol/f"
    run kiln run --rm -v "$BATS_TEST_TMPDIR/vol:/escape/sub:ro" bb \
        sh -c 'cat /escape/sub/f; touch /escape/sub/g 2>/dev/null || echo ro'
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'data\nro')" ]
    [ ! -e "$BATS_FILE_TMPDIR/outside/sub" ]
    [ ! -e "$BATS_TEST_TMPDIR/vol/g" ]
}

@test "run: --tmpfs, --read-only, --network none" {
    run kiln run --rm --read-only --tmpfs /scratch bb sh -c 'touch /x 2>/dev/null || echo ro; touch /scratch/y && echo tmp'
    [ "$output" = "$(printf 'ro\ntmp')" ]
    run kiln run --rm --network none bb ls /sys/class/net
    [ "$output" = "lo" ]
}

@test "run: minimal /dev" {
    run kiln run --rm bb sh -c 'ls /dev | tr "\n" " "'
    [ "$output" = "core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero " ]
}

@test "run: exit codes equal podman's (success, failure, signal, missing command, not executable)" {
    podman_usable || skip "podman cannot run containers here"
    local pr="$BATS_FILE_TMPDIR/prootfs"
    cp -a "$RUN_FIXTURE/rootfs" "$pr"
    # The command as PID 1: podman without an init vs kiln --init=false.
    local c k p
    for c in "true" "sh -c 'exit 3'" "sh -c 'kill -TERM \$\$'" "pyhton" "/bin/notexec" "/no/such/file"; do
        eval "kiln run --rm --init=false bb $c" >/dev/null 2>&1 && k=0 || k=$?
        eval "kiln_podman run --rm --rootfs $pr $c" >/dev/null 2>&1 && p=0 || p=$?
        echo "# pid 1 $c: kiln $k podman $p" >&3
        [ "$k" -eq "$p" ]
    done
    # Under an init: podman --init (catatonit) vs kiln's default init.
    for c in "true" "sh -c 'exit 3'" "sh -c 'kill -TERM \$\$'" "sh -c 'kill -KILL \$\$'"; do
        eval "kiln run --rm bb $c" >/dev/null 2>&1 && k=0 || k=$?
        eval "kiln_podman run --rm --init --rootfs $pr $c" >/dev/null 2>&1 && p=0 || p=$?
        echo "# init $c: kiln $k podman $p" >&3
        [ "$k" -eq "$p" ]
    done
    run -127 kiln run --rm bb pyhton
    [[ "$output" == *'exec: "pyhton": executable file not found in $PATH'* ]]
    run -126 kiln run --rm bb /bin/notexec
}

@test "run: a missing image and a busy name are 125 with one clear line" {
    run kiln run --rm nosuchimage true
    [ "$status" -eq 125 ]
    [ "${#lines[@]}" -eq 1 ]
    kiln run --name taken bb true
    run kiln run --name taken bb true
    [ "$status" -eq 125 ]
    [[ "$output" == *'"taken" is already in use'* ]]
    run kiln rm taken
    [ "$status" -eq 0 ]
}

@test "run: the overlay upper dir is the container's own; the image is untouched" {
    kiln run --name w bb sh -c 'rm /bin/cat; echo x > /new'
    id=$(ls "$KILN_ROOT/containers" | grep -v names)
    [ -c "$KILN_ROOT/containers/$id/upper/bin/cat" ]
    [ -f "$KILN_ROOT/containers/$id/upper/new" ]
    run kiln run --rm bb sh -c 'ls /bin/cat; ls /new 2>/dev/null || echo clean'
    [ "$output" = "$(printf '/bin/cat\nclean')" ]
}

@test "run: rootless — a non-root user is root inside, or itself with --userns keep-id" {
    id kilnrt-e2e >/dev/null 2>&1 || useradd -m kilnrt-e2e
    local home
    home=$(getent passwd kilnrt-e2e | cut -d: -f6)
    rm -rf "$home/kr" "$home/rootfs"
    cp -a "$RUN_FIXTURE/rootfs" "$home/rootfs"
    chown -R kilnrt-e2e: "$home/rootfs"
    run su kilnrt-e2e -s /bin/sh -c "KILN_ROOT=\$HOME/kr $KILN import \$HOME/rootfs -t bb >/dev/null && KILN_ROOT=\$HOME/kr $KILN run --rm bb id"
    [ "$status" -eq 0 ]
    [ "$output" = "uid=0(root) gid=0(root)" ]
    uid=$(id -u kilnrt-e2e)
    run su kilnrt-e2e -s /bin/sh -c "KILN_ROOT=\$HOME/kr $KILN run --rm --userns keep-id bb id -u"
    [ "$output" = "$uid" ]
    run su kilnrt-e2e -s /bin/sh -c "KILN_ROOT=\$HOME/kr $KILN run --rm bb grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"
    [ "$output" = "$(printf 'NoNewPrivs:\t1\nSeccomp:\t2')" ]
    rm -rf "$home/kr" "$home/rootfs"
}

@test "run: --memory without a delegated cgroup v2 controller says so" {
    if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
        run kiln run --rm --memory 64m bb cat /sys/fs/cgroup/memory.max
        [ "$status" -eq 0 ]
        [ "$output" = 67108864 ]
    else
        run kiln run --rm --memory 64m bb true
        [ "$status" -eq 125 ]
        [[ "$output" == *'cgroup v2 "memory" controller'* ]]
    fi
}

@test "shell: a login shell as the image's user; -it gives a terminal" {
    kiln import "$RUN_FIXTURE/rootfs" -t bbapp -c 'USER app' >/dev/null
    run sh -c "echo 'id -un; exit 3' | $KILN shell bbapp"
    [ "$status" -eq 3 ]
    [ "$output" = app ]
    command -v script >/dev/null || skip "script(1) missing"
    run script -qec "$KILN run --rm -it bb tty" /dev/null
    [ "$status" -eq 0 ]
    [[ "$output" == *"/dev/pts/0"* ]] # the container's own devpts
}
