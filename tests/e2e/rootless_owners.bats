#!/usr/bin/env bats
# Rootless kiln keeps an image's file owners everywhere, not only in kiln
# build: what a user pulls, loads or imports (an archive) unpacks in the user
# namespace mapped through /etc/subuid and /etc/subgid, so kiln run shows the
# image's owners; kiln rm, rmi and fsck --repair remove what containers gave
# to other users (subuids on the host), 0700 directories included. A user
# without ranges is told once that owners are not kept.

load helpers
load run_lib
load ../registry/common
bats_require_minimum_version 1.5.0

# The image own: the busybox fixture plus a 0700 home of app (1000) holding a
# file of 1000:2000, and /srv/f of 1000:2000.
setup_file() {
    run_fixture_file
    local r="$BATS_FILE_TMPDIR/owned"
    cp -a "$RUN_FIXTURE/rootfs" "$r"
    mkdir -p "$r/home/app/secret" "$r/srv"
    echo s >"$r/home/app/secret/f"
    echo f >"$r/srv/f"
    chown -R 1000:1000 "$r/home/app"
    chown 1000:2000 "$r/home/app/secret/f" "$r/srv/f"
    chmod 700 "$r/home/app/secret"
    tar --numeric-owner -C "$r" -cf "$BATS_FILE_TMPDIR/owned.tar" .
    export ROOT_STORE="$BATS_FILE_TMPDIR/rootstore"
    KILN_ROOT=$ROOT_STORE "$KILN" import "$r" -t own >/dev/null
    KILN_ROOT=$ROOT_STORE "$KILN" save own -o "$BATS_FILE_TMPDIR/own.tar"
    chmod 644 "$BATS_FILE_TMPDIR/owned.tar" "$BATS_FILE_TMPDIR/own.tar"
    registry_suite_start
}

teardown_file() {
    registry_stop
}

setup() {
    setup_store
}

teardown() {
    [ -n "${K_HOME:-}" ] || return 0
    # no supervisor of the user's left behind, whatever failed
    [ ! -e "$K_HOME/ko-pod.yaml" ] || "$K" kube play --down ko-pod.yaml >/dev/null 2>&1 || true
    [ ! -e "$K_HOME/ko-c" ] || "$K" compose -f ko-c/compose.yaml down -v >/dev/null 2>&1 || true
    local id
    for id in $("$K" ps -q 2>/dev/null); do "$K" rm -f "$id" >/dev/null 2>&1 || true; done
    rm -rf "$K_HOME/ko" "$K_HOME/ko-kiln" "$K_HOME/ko-own.tar" "$K_HOME/ko-owned.tar" "$K_HOME/ko-pod.yaml" "$K_HOME/ko-c"
}

# rootless_user USER [RANGE_START]: the user, with subuid/subgid ranges when
# RANGE_START is given; sets K_HOME and K, a script running kiln as the user
# in its store $K_HOME/ko, and copies the image archives there (all named ko*:
# rootless_build.bats and net.bats use the same users).
rootless_user() {
    local user=$1 start=${2:-}
    if [ -n "$start" ]; then
        id "$user" >/dev/null 2>&1 || useradd -m "$user"
        grep -q "^$user:" /etc/subuid || echo "$user:$start:65536" >>/etc/subuid
        grep -q "^$user:" /etc/subgid || echo "$user:$start:65536" >>/etc/subgid
    else
        # useradd gives new users ranges (SUB_UID_COUNT): not this one
        id "$user" >/dev/null 2>&1 || useradd -m -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$user"
        ! grep -q "^$user:" /etc/subuid /etc/subgid
    fi
    K_HOME=$(getent passwd "$user" | cut -d: -f6)
    K_USER=$user
    rm -rf "$K_HOME/ko"
    K="$K_HOME/ko-kiln"
    printf '#!/bin/sh\nexec su -s /bin/sh -c '"'"'cd && KILN_ROOT=$HOME/ko exec "$0" "$@"'"'"' -- %s %s "$@"\n' \
        "$user" "$KILN" >"$K"
    chmod 755 "$K"
    cp "$BATS_FILE_TMPDIR/own.tar" "$K_HOME/ko-own.tar"
    cp "$BATS_FILE_TMPDIR/owned.tar" "$K_HOME/ko-owned.tar"
}

# The image's owners inside a container of IMAGE (run as the user).
check_owners() {
    run "$K" run --rm "$1" stat -c %u:%g /home/app /home/app/secret /home/app/secret/f /srv/f
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '1000:1000\n1000:1000\n1000:2000\n1000:2000')" ]
    run "$K" run --rm "$1" cat /home/app/secret/f
    [ "$output" = s ]
}

# Nothing of the store belongs to anyone but the user, no snapshot or
# container is left, and fsck finds nothing wrong.
check_clean_store() {
    [ -z "$(find "$K_HOME/ko/snapshots" "$K_HOME/ko/containers" -mindepth 1 -maxdepth 1 ! -name names)" ]
    [ -z "$(find "$K_HOME/ko" ! -user "$K_USER")" ]
    run "$K" fsck
    [ "$status" -eq 0 ]
    [[ "$output" == *" 0 problems"* ]]
}

@test "rootless owners: a loaded image unpacks with its owners; rmi removes its snapshots" {
    rootless_user kilnrb-e2e 100000
    run "$K" load -i ko-own.tar
    [ "$status" -eq 0 ]
    check_owners own
    run "$K" rmi own
    [ "$status" -eq 0 ]
    check_clean_store
}

@test "rootless owners: rm and run --rm remove a container's 0700 directories of other users" {
    rootless_user kilnrb-e2e 100000
    "$K" load -i ko-own.tar >/dev/null
    # A container of USER 1000 makes a 0700 directory: a subuid's on the host.
    run "$K" run --name w -u 1000 own sh -c 'mkdir -m 700 /tmp/x && touch /tmp/x/f && stat -c %u /tmp/x'
    [ "$output" = 1000 ]
    run "$K" rm w
    [ "$status" -eq 0 ]
    # root of the container hands one to 2000; --rm removes it at the end
    run "$K" run --rm own sh -c 'mkdir -m 700 /tmp/y && touch /tmp/y/f && chown -R 2000:2000 /tmp/y'
    [ "$status" -eq 0 ]
    # a detached one's supervisor removes it once stopped
    run "$K" run -d --rm --name d own sh -c 'mkdir -m 700 /tmp/z && chown 1000 /tmp/z && exec sleep 1000'
    [ "$status" -eq 0 ]
    local i
    for i in $(seq 100); do
        [ -z "$(find "$K_HOME/ko/containers" -path '*/upper/tmp/z' -uid 100999)" ] || break
        sleep 0.1
    done
    "$K" stop d >/dev/null
    for i in $(seq 100); do
        [ -n "$(find "$K_HOME/ko/containers" -mindepth 1 -maxdepth 1 ! -name names)" ] || break
        sleep 0.1
    done
    run "$K" rmi own
    [ "$status" -eq 0 ]
    check_clean_store
}

@test "rootless owners: kube play --down removes an emptyDir holding another user's 0700 directory" {
    rootless_user kilnrb-e2e 100000
    "$K" load -i ko-own.tar >/dev/null
    cat >"$K_HOME/ko-pod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: ko}
spec:
  volumes:
  - {name: scratch, emptyDir: {}}
  containers:
  - name: main
    image: own
    command: [sh, -c]
    args: ["mkdir -m 700 /scratch/x && touch /scratch/x/f && chown -R 1000 /scratch/x; exec sleep 1000"]
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
EOF
    chmod 644 "$K_HOME/ko-pod.yaml"
    run "$K" kube play ko-pod.yaml
    [ "$status" -eq 0 ]
    local i
    for i in $(seq 100); do
        [ "$(stat -c %u "$K_HOME/ko/kube/ko-pod/scratch/x" 2>/dev/null)" != 100999 ] || break
        sleep 0.1
    done
    [ -e "$K_HOME/ko/kube/ko-pod/scratch/x/f" ]
    run "$K" kube play --down ko-pod.yaml
    [ "$status" -eq 0 ]
    [ ! -e "$K_HOME/ko/kube" ]
    run "$K" rmi own
    [ "$status" -eq 0 ]
    check_clean_store
}

@test "rootless owners: compose down -v removes a volume holding another user's 0700 directory" {
    rootless_user kilnrb-e2e 100000
    "$K" load -i ko-own.tar >/dev/null
    mkdir "$K_HOME/ko-c"
    cat >"$K_HOME/ko-c/compose.yaml" <<'EOF'
name: ko
services:
  app:
    image: own
    command: ["sh", "-c", "mkdir -m 700 /data/x && touch /data/x/f && chown -R 1000 /data/x; exec sleep 1000"]
    volumes:
      - data:/data
    stop_grace_period: 1s
volumes:
  data: {}
EOF
    chown -R "$K_USER": "$K_HOME/ko-c"
    run "$K" compose -f ko-c/compose.yaml up -d
    [ "$status" -eq 0 ]
    local i
    for i in $(seq 100); do
        [ "$(stat -c %u "$K_HOME/ko/volumes/ko_data/x" 2>/dev/null)" != 100999 ] || break
        sleep 0.1
    done
    [ -e "$K_HOME/ko/volumes/ko_data/x/f" ]
    run "$K" compose -f ko-c/compose.yaml down -v
    [ "$status" -eq 0 ]
    [ ! -e "$K_HOME/ko/volumes/ko_data" ]
    run "$K" rmi own
    [ "$status" -eq 0 ]
    check_clean_store
}

@test "rootless owners: a pulled image unpacks with its owners; prune removes its snapshots" {
    rootless_user kilnrb-e2e 100000
    KILN_ROOT=$ROOT_STORE "$KILN" push own "$REG/own:1" >/dev/null
    run "$K" pull -q "$REG/own:1"
    [ "$status" -eq 0 ]
    check_owners "$REG/own:1"
    run "$K" rmi --no-prune "$REG/own:1"
    [ "$status" -eq 0 ]
    run "$K" prune
    [ "$status" -eq 0 ]
    check_clean_store
}

@test "rootless owners: an imported archive keeps its owners, and export writes them back" {
    rootless_user kilnrb-e2e 100000
    run "$K" import ko-owned.tar -t imp
    [ "$status" -eq 0 ]
    check_owners imp
    run "$K" export imp -o ko-ex.tar
    [ "$status" -eq 0 ]
    run tar --numeric-owner -tvf "$K_HOME/ko-ex.tar" home/app/secret/f srv/f
    rm -f "$K_HOME/ko-ex.tar"
    [ "$status" -eq 0 ]
    [ "$(awk '{print $2}' <<<"$output")" = "$(printf '1000/2000\n1000/2000')" ]
    run "$K" rmi --no-prune imp
    run "$K" fsck --repair
    [ "$status" -eq 0 ]
    check_clean_store
}

@test "rootless owners: a user without subuid ranges is told once that owners are not kept" {
    rootless_user kilnnr-e2e
    "$K" load -i ko-own.tar >/dev/null
    run "$K" run --rm own stat -c %u /srv/f
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = 0 ]
    [ "$(grep -c 'without their owners' <<<"$output")" = 1 ]
    [[ "$output" == *"usermod --add-subuids"* ]]
    # unpacked already: nothing to say
    run "$K" run --rm own true
    [ "$output" = "" ]
    run "$K" rmi own
    [ "$status" -eq 0 ]
}
