#!/usr/bin/env bats
# kiln exec, kiln health and a HEALTHCHECK in rootless containers whose
# processes are all closed to their own user: kiln's init is not dumpable, and
# neither is a command exec'd from a file it may not read (its memory then
# belongs to the host's user namespace, as init's does), so no /proc/PID/ns of
# theirs opens without CAP_SYS_PTRACE there. The supervisor keeps the
# namespaces PID 1 sent it and hands them over ns.sock, to that user only.
# Nothing of it is left after kiln rm -f.

load helpers
load run_lib
load net_lib

setup_file() {
    run_fixture_file
}

teardown() {
    [ -z "${rx_other:-}" ] || rx_close
    [ -z "${k:-}" ] || as "cd \$HOME/rootfs-q && [ -e compose.yaml ] && KILN_ROOT=\$HOME/kq $KILN compose down >/dev/null 2>&1; $k kube play --down \$HOME/rootfs-q/pod.yaml >/dev/null 2>&1; $k rm -f \$($k ps -aq) >/dev/null 2>&1" || true
    [ -z "${k:-}" ] || rm -rf "$home/kq" "$home/rootfs-q" "$home/xo"
}

as() { su "$user" -s /bin/sh -c "$1"; }

# rx_setup: the rootless user's store $home/kq with the fixture as bb, and
# $home/xo/sleep: busybox as an execute-only file of the host's root.
rx_setup() {
    user=kilnnet-e2e
    rootless_user
    rm -rf "$home/kq" "$home/rootfs-q" "$home/xo"
    cp -a "$RUN_FIXTURE/rootfs" "$home/rootfs-q"
    mkdir -p "$home/rootfs-q/ctx"
    printf 'FROM bb\nHEALTHCHECK --interval=1s CMD id -u\n' >"$home/rootfs-q/ctx/Dockerfile"
    chown -R "$user": "$home/rootfs-q"
    mkdir "$home/xo"
    cp /bin/busybox "$home/xo/sleep"
    chmod 0711 "$home/xo/sleep"
    k="cd && KILN_ROOT=\$HOME/kq $KILN"
    as "$k import \$HOME/rootfs-q -t bb >/dev/null && $k build -q -t hb \$HOME/rootfs-q/ctx >/dev/null"
}

# The processes of container $1, as pids: its supervisor, PID 1, the server
# of ns.sock; and its mount namespace ("mnt:[N]").
rx_procs() {
    local st sup pid1
    st=$(as "$k inspect $1" | jq -r '.[0].State | "\(.Supervisor // 0) \(.Pid)"')
    read -r sup pid1 <<<"$st"
    echo "$sup $pid1 $(pgrep -P "$sup" -x kiln-ns)"
    readlink "/proc/$pid1/ns/mnt"
}

alive() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# rx_gone PIDS MNTNS: none of the pids runs, nothing holds the namespace.
rx_gone() {
    local p
    for p in $1; do
        ! alive "$p" || { echo "process $p is left: $(cat /proc/$p/cmdline | tr '\0' ' ')"; return 1; }
    done
    [ -z "$(find /proc/[0-9]*/fd -lname "$2" 2>/dev/null)" ] || { echo "$2 held open"; return 1; }
    [ -z "$(find /proc/[0-9]*/ns/mnt -lname "$2" 2>/dev/null)" ] || { echo "$2 used"; return 1; }
}

@test "rootless exec: into containers whose every process is closed to their user (init, a command exec'd from an execute-only file, --init=false, a restart); HEALTHCHECK healthy; nothing left" {
    rx_setup
    local vol="-v $home/xo:/xo:ro" c
    as "$k run -d --name pv --network private $vol hb /xo/sleep 600" >/dev/null
    as "$k run -d --name nn --network none $vol hb /xo/sleep 600" >/dev/null
    as "$k run -d --name ni --init=false --network none $vol hb /xo/sleep 600" >/dev/null
    # Restarted by its policy once: the new PID 1's namespaces are served.
    cat >"$home/rootfs-q/compose.yaml" <<EOF
name: rq
services:
  rs:
    image: hb
    command: ["sh", "-c", "[ -e /again ] && exec /xo/sleep 600; touch /again; exit 1"]
    restart: on-failure
    volumes: ["$home/xo:/xo:ro"]
EOF
    as "cd \$HOME/rootfs-q && KILN_ROOT=\$HOME/kq $KILN compose up -d" >/dev/null
    # Changes its user without an exec (not dumpable, but its memory is the
    # container's: this one was open to exec before too).
    as "$k run -d --name hu --network private hb httpd -f -u app -p 8080" >/dev/null
    # The case is what it claims: the command's namespaces are closed to the user.
    local pid1 cmd
    pid1=$(as "$k inspect pv" | jq -r '.[0].State.Pid')
    cmd=$(cat "/proc/$pid1/task/$pid1/children")
    run as "readlink /proc/$pid1/ns/user"
    [ "$status" -ne 0 ]
    run as "readlink /proc/${cmd%% *}/ns/user"
    [ "$status" -ne 0 ]
    for c in pv nn ni hu; do
        run as "$k exec $c sh -c 'id -u; ls /sys/class/net | tr \"\\n\" \" \"'"
        echo "$c: $output"
        [ "$status" -eq 0 ]
        [ "${lines[0]}" = 0 ]
    done
    run as "$k exec pv ls /sys/class/net"
    [ "$(echo $output)" = "eth0 lo" ]
    run as "$k exec nn ls /sys/class/net"
    [ "$output" = lo ]
    run as "$k exec -u app hu id -u"
    [ "$output" = 1000 ]
    local i
    for i in $(seq 100); do
        [ "$(as "$k inspect rq-rs-1" | jq -r '.[0].State | "\(.Status) \(.RestartCount)"')" = "running 1" ] && break
        sleep 0.1
    done
    run as "$k exec rq-rs-1 cat /again"
    [ "$status" -eq 0 ]
    # An exec right after the start finds the socket.
    run as "$k run -d --name qk --network none $vol bb /xo/sleep 600 >/dev/null && $k exec qk echo ok"
    [ "$output" = ok ]
    # kiln health, then the supervisor's own probes.
    run as "$k health pv"
    [ "$status" -eq 0 ]
    [ "$output" = 0 ]
    for c in pv nn ni; do
        for i in $(seq 100); do
            [ "$(as "$k inspect $c" | jq -r '.[0].State.Health.Status')" = healthy ] && break
            sleep 0.1
        done
        run as "$k ps"
        echo "$output"
        [[ "$(grep " $c\$" <<<"$output")" == *"(healthy)"* ]]
    done
    # Without ns.sock (a container of an older kiln): exec joins the command's
    # namespaces when it may, and says what to do when it may not.
    rm "$home/kq/containers/$(as "$k inspect hu" | jq -r '.[0].Id')/ns.sock"
    run as "$k exec hu id -u"
    [ "$output" = 0 ]
    rm "$home/kq/containers/$(as "$k inspect pv" | jq -r '.[0].Id')/ns.sock"
    run as "$k exec pv id -u"
    [ "$status" -eq 125 ]
    [[ "$output" == *"(a container started by an older kiln): start it again with this kiln"* ]]
    # rm -f: no supervisor, PID 1 or server left, no mount namespace held.
    local procs="" mnts="" p
    for c in pv nn ni rq-rs-1 hu qk; do
        p=$(rx_procs $c)
        procs="$procs $(head -1 <<<"$p")"
        mnts="$mnts $(tail -1 <<<"$p")"
        [ "$(wc -w <<<"$(head -1 <<<"$p")")" -eq 3 ]
    done
    as "$k rm -f pv nn ni hu qk && cd \$HOME/rootfs-q && KILN_ROOT=\$HOME/kq $KILN compose down" >/dev/null
    for p in $mnts; do
        rx_gone "$procs" "$p"
    done
    [ -z "$(ls "$home/kq/containers" | grep -v '^names$')" ]
}

# Prints the byte count and the number of descriptors the socket $1 sends.
ns_client='import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
m, anc, _, _ = s.recvmsg(16, socket.CMSG_SPACE(64))
print(len(m), sum(len(d) // 4 for _, _, d in anc))'

# rx_open / rx_close: let others reach the container's record (for the test).
rx_open() {
    rx_other=$1
    chmod o+x "$home" "$home/kq"
    chmod o+rx "$home/kq/containers" "$rdir"
    chmod o+r "$rdir/state.json" "$rdir/config.json"
    chmod o+rw "$rdir/ns.sock"
}
rx_close() {
    chmod o-rwx "$home/kq" "$home/kq/containers" "$rdir" "$rdir/state.json" "$rdir/config.json" "$rdir/ns.sock" 2>/dev/null || true
    rx_other=
}

@test "rootless exec: ns.sock is the container's user's only: 0600 in a 0700 record, and the supervisor refuses another user who reaches it" {
    rx_setup
    local other=kilnrt-e2e id
    id "$other" >/dev/null 2>&1 || useradd -m "$other"
    as "$k run -d --name pv --network private bb sleep 600" >/dev/null
    id=$(as "$k inspect pv" | jq -r '.[0].Id')
    rdir="$home/kq/containers/$id"
    [ "$(stat -c '%a %U' "$rdir/ns.sock")" = "600 $user" ]
    [ "$(stat -c '%a %U' "$rdir")" = "700 $user" ]
    run as "python3 -c '$ns_client' $rdir/ns.sock"
    [ "$output" = "4 6" ]
    # Another user cannot reach it ...
    run su "$other" -s /bin/sh -c "python3 -c '$ns_client' $rdir/ns.sock"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Permission denied"* ]]
    run su "$other" -s /bin/sh -c "KILN_ROOT=$home/kq $KILN exec $id id -u"
    [ "$status" -eq 125 ]
    [ "$output" != 0 ]
    # ... and gets nothing where it can.
    rx_open "$other"
    run su "$other" -s /bin/sh -c "python3 -c '$ns_client' $rdir/ns.sock"
    [ "$output" = "0 0" ]
    run su "$other" -s /bin/sh -c "KILN_ROOT=$home/kq $KILN exec $id id -u"
    echo "$output"
    [ "$status" -eq 125 ]
    [[ "$output" == *"ns.sock: the container's supervisor handed over no namespaces: only the user who started the container may enter it"* ]]
    rx_close
    run as "$k exec pv id -u"
    [ "$output" = 0 ]
    as "$k rm -f pv" >/dev/null
    [ ! -e "$rdir" ]
}

@test "rootless exec: kube play's tcpSocket probe reaches a rootless pod's network through the namespaces the supervisor kept (healthy)" {
    rx_setup
    cat >"$home/rootfs-q/pod.yaml" <<'EOF2'
apiVersion: v1
kind: Pod
metadata:
  name: tp
spec:
  containers:
  - name: web
    image: bb
    command: ["httpd", "-f", "-p", "8080", "-h", "/tmp"]
    readinessProbe:
      tcpSocket:
        port: 8080
      periodSeconds: 1
EOF2
    chown "$user": "$home/rootfs-q/pod.yaml"
    as "$k kube play \$HOME/rootfs-q/pod.yaml" >/dev/null
    local i
    for i in $(seq 100); do
        [ "$(as "$k inspect tp-pod-web" | jq -r '.[0].State.Health.Status')" = healthy ] && break
        sleep 0.1
    done
    as "$k inspect tp-pod-web" | jq -c '.[0].State.Health'
    [ "$(as "$k inspect tp-pod-web" | jq -r '.[0].State.Health.Status')" = healthy ]
    run as "$k health tp-pod-web"
    [ "$status" -eq 0 ]
    as "$k kube play --down \$HOME/rootfs-q/pod.yaml" >/dev/null
}
