#!/usr/bin/env bats
# Container networks: --network private, published ports (-p, -P, kiln port),
# pods, outbound traffic, rootless, and that nothing outlives a container.
# Traffic goes only to 127.0.0.1 (published ports) or stays inside
# namespaces kiln made (and, for the outbound test, Debian's mirror).

load helpers
load run_lib
load net_lib
load dataenv_images

setup_file() {
    run_fixture_file
}

setup() {
    run_fixture_store
}

teardown() {
    remove_containers
    # A failed rootless exec test leaves its user's containers running.
    [ -z "${rootless_x:-}" ] || su kilnnet-e2e -s /bin/sh -c "$rootless_x rm -f pv pp ho ni au hc; $rootless_x pod rm -f xp" >/dev/null 2>&1 || true
    remove_pods
}

@test "net: -p and -P on dataenv prod: two beside each other on port 8000, a taken host port fails first, naming it" {
    dataenv_image prod
    local p1 p2
    p1=$(free_port)
    p2=$(free_port)
    [ "$p1" != "$p2" ]
    kiln run -d --name a --network private -p "127.0.0.1:$p1:8000" dataenv:latest-prod
    kiln run -d --name b --network bridge -p "127.0.0.1:$p2:8000" dataenv:latest-prod
    wait_http "http://127.0.0.1:$p1/health"
    wait_http "http://127.0.0.1:$p2/health"
    run sh -c "curl -fsS http://127.0.0.1:$p1/health | jq -r .status"
    [ "$output" = ok ]
    run sh -c "curl -fsS http://127.0.0.1:$p2/health | jq -r .status"
    [ "$output" = ok ]
    # The third asks for a port that is taken: an error before it starts.
    local before
    before=$(ls "$KILN_ROOT/containers" | wc -l)
    run kiln run -d --name c -p "127.0.0.1:$p1:8000" dataenv:latest-prod
    [ "$status" -eq 125 ]
    [[ "$output" == *"port 127.0.0.1:$p1/tcp is already in use"* ]]
    [ "$(ls "$KILN_ROOT/containers" | wc -l)" -eq "$before" ]
    # ps, port, ps --format json and inspect show the mapping.
    run kiln ps
    [[ "$output" == *"PORTS"* ]]
    [[ "$output" == *"127.0.0.1:$p1->8000/tcp"* ]]
    run kiln port a
    [ "$output" = "8000/tcp -> 127.0.0.1:$p1" ]
    run kiln port b 8000
    [ "$output" = "127.0.0.1:$p2" ]
    run sh -c "$KILN ps --format json | jq -r '.[] | select(.Names==\"a\") | [.NetworkMode, .Ports, (.PublishedPorts[0].HostPort|tostring)] | join(\" \")'"
    [ "$output" = "private 127.0.0.1:$p1->8000/tcp $p1" ]
    run sh -c "$KILN inspect b | jq -r '.[0].NetworkSettings | [.NetworkMode, (.Ports[0].HostPort|tostring), .Ports[0].HostIp] | join(\" \")'"
    [ "$output" = "bridge $p2 127.0.0.1" ] || [ "$output" = "private $p2 127.0.0.1" ]
    # stop frees the port at once; rm -f too.
    kiln stop -t 2 a >/dev/null
    port_is_free "$p1"
    kiln rm -f b >/dev/null
    port_is_free "$p2"
    # -P: the image's EXPOSE 8000 on a random port that kiln port reports.
    kiln run -d --name web -P dataenv:latest-prod
    run kiln port web 8000
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^0\.0\.0\.0:[0-9]+$ ]]
    local port=${output##*:}
    wait_http "http://127.0.0.1:$port/health"
    kiln rm -f web >/dev/null
    port_is_free "$port"
}

@test "net: outbound from a private container: DNS of the mirror and apt-get update" {
    dataenv_image prod
    run kiln run --rm --network private -u 0 --entrypoint getent dataenv:latest-prod hosts deb.debian.org
    [ "$status" -eq 0 ]
    [[ "$output" == *deb.debian.org* ]]
    run kiln run --rm --network private -u 0 --entrypoint sh dataenv:latest-prod -c \
        'apt-get update >/tmp/log 2>&1; s=$?; tail -3 /tmp/log; exit $s'
    [ "$status" -eq 0 ]
    # The namespace is its own: an interface of its own beside loopback.
    run kiln run --rm --network private bb sh -c 'ls /sys/class/net | sort | tr "\n" " "'
    [ "$output" != "$(ls /sys/class/net | sort | tr '\n' ' ')" ]
    [[ "$output" == *lo* ]]
}

@test "net: a published UDP echo answers" {
    local port
    port=$(free_port)
    # The busybox fixture has no UDP server; the host's python3 serves it,
    # mounted read-only into the container's own namespace.
    kiln run -d --name echo -p "127.0.0.1:$port:5000/udp" \
        -v /usr:/usr:ro -v /lib:/lib:ro -v /lib64:/lib64:ro bb /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5000))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(b"echo:" + d, a)
'
    run python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for i in range(40):
    s.sendto(b"ping", ("127.0.0.1", int(sys.argv[1])))
    try:
        print(s.recvfrom(100)[0].decode()); break
    except socket.timeout:
        pass
' "$port"
    [ "$output" = "echo:ping" ]
    run kiln port echo
    [ "$output" = "5000/udp -> 127.0.0.1:$port" ]
    kiln rm -f echo >/dev/null
    port_is_free "$port" udp
}

@test "net: the container's own exit and a SIGKILLed supervisor release namespace, slirp4netns and port" {
    local p1 p2
    p1=$(free_port)
    # It exits when the test says so (a file in a bind mount), not after a
    # sleep: on a loaded machine seconds can pass between run -d's return and
    # the checks below (a 1 s and then a 3 s sleep both lost that race).
    mkdir -p "$BATS_TEST_TMPDIR/go"
    kiln run -d --name short -p "127.0.0.1:$p1:8000" -v "$BATS_TEST_TMPDIR/go:/go" bb \
        sh -c 'until [ -e /go/now ]; do sleep 0.05; done'
    local holder slirp
    holder=$(jq -r .NetHolder "$KILN_ROOT/containers/$(readlink "$KILN_ROOT/containers/names/short")/state.json")
    slirp=$(jq -r .NetHelper "$KILN_ROOT/containers/$(readlink "$KILN_ROOT/containers/names/short")/state.json")
    alive "$holder"
    alive "$slirp"
    ! port_is_free "$p1"
    touch "$BATS_TEST_TMPDIR/go/now"
    for i in $(seq 100); do kiln ps | grep -q short || break; sleep 0.1; done
    run kiln ps -a
    [[ "$output" == *"Exited (0)"* ]]
    port_is_free "$p1"
    ! alive "$holder"
    ! alive "$slirp"

    p2=$(free_port)
    kiln run -d --name victim -p "127.0.0.1:$p2:8000" bb sh -c "$(httpd_cmd 8000 hi)"
    wait_http "http://127.0.0.1:$p2/"
    local st sup
    st=$KILN_ROOT/containers/$(readlink "$KILN_ROOT/containers/names/victim")/state.json
    sup=$(jq -r .Supervisor "$st")
    holder=$(jq -r .NetHolder "$st")
    slirp=$(jq -r .NetHelper "$st")
    kill -KILL "$sup"
    run kiln rm victim
    [ "$status" -eq 0 ]
    for i in $(seq 20); do port_is_free "$p2" && break; sleep 0.05; done
    port_is_free "$p2"
    ! alive "$holder"
    ! alive "$slirp"
    ! alive "$sup"
}

# host_taps: tun/tap devices in the host's network namespace. kiln's
# persistent tap (made before slirp4netns starts, so that slirp4netns's exit is
# quick) lives in the container's namespace and goes with it.
host_taps() {
    ip -d -o link show | grep -c " tun type " || true
}

@test "net: the first instruction reaches the mirror by name; the tap goes with the namespace (--rm, rm -f, a SIGKILLed supervisor)" {
    local before st sup
    before=$(host_taps)
    # The command's first act: DNS through slirp4netns and a fetch from the mirror.
    run kiln run --rm --network private bb wget -q -O - http://deb.debian.org/debian/dists/bookworm/Release
    [ "$status" -eq 0 ]
    [[ "$output" == *"Origin: Debian"* ]]
    kiln run -d --name t1 --network private bb sleep 30
    kiln rm -f t1 >/dev/null
    kiln run -d --name t2 -p "127.0.0.1:$(free_port):8000" bb sleep 30
    st=$KILN_ROOT/containers/$(readlink "$KILN_ROOT/containers/names/t2")/state.json
    sup=$(jq -r .Supervisor "$st")
    kill -KILL "$sup"
    kiln rm t2 >/dev/null
    # The kernel removes a namespace's devices after its last process, in its
    # own time (cleanup_net runs from a work queue: seconds on a loaded machine,
    # and a run of this file beside another counts the other's going taps too).
    for i in $(seq 200); do [ "$(host_taps)" -eq "$before" ] && break; sleep 0.05; done
    [ "$(host_taps)" -eq "$before" ]
}

@test "net: the command starts with the network ready though slirp4netns starts beside the root's setup; a failing one stops the start" {
    # The command's first act finds the address and default route slirp4netns
    # configures (it starts beside the root's setup: a missing wait before
    # exec fails this), and loopback up.
    run kiln run --rm --network private bb sh -c 'ip -4 addr show eth0 | grep -q "inet " && ip route | grep -q "^default" && ip link show lo | grep -q UP && echo ready'
    [ "$status" -eq 0 ]
    [ "$output" = ready ]
    # The published port listens when `kiln run -d` returns.
    local port
    port=$(free_port)
    kiln run -d --name early -p "127.0.0.1:$port:8000" bb sleep 30
    ! port_is_free "$port"
    kiln rm -f early >/dev/null
    port_is_free "$port"
    # slirp4netns fails while the root is being set up: the command never
    # runs, the error is slirp4netns's, and the published port is free.
    local bin=$BATS_TEST_TMPDIR/bin mark=$BATS_TEST_TMPDIR/mark
    mkdir -p "$bin" "$mark"
    printf '#!/bin/sh\necho "injected slirp4netns failure" >&2\nexit 1\n' >"$bin/slirp4netns"
    chmod +x "$bin/slirp4netns"
    run env PATH="$bin:$PATH" "$KILN" run --rm --network private -p "127.0.0.1:$port:8000" -v "$mark:/mark" bb touch /mark/ran
    [ "$status" -eq 125 ]
    [[ "$output" == *"injected slirp4netns failure"* ]]
    port_is_free "$port"
    [ ! -e "$mark/ran" ]
    run kiln ps -a -q
    [ -z "$output" ]
}

@test "net: 1,000 connections (200 at once) through a published port; fds and threads come back; rm -f leaves nothing" {
    local port st sup fwd
    port=$(free_port)
    # An asyncio server with a deep backlog (busybox httpd drops connections
    # at 200 at once on a loaded machine, through kiln or not): the host's
    # python3 mounted read-only into the container.
    cp "$BATS_TEST_DIRNAME/net_server.py" "$BATS_TEST_TMPDIR/srv.py"
    kiln run -d --name load -p "127.0.0.1:$port:8000" -v /usr:/usr:ro -v /lib:/lib:ro \
        -v /lib64:/lib64:ro -v "$BATS_TEST_TMPDIR/srv.py:/srv.py:ro" bb /usr/bin/python3 /srv.py
    wait_http "http://127.0.0.1:$port/"
    st=$KILN_ROOT/containers/$(readlink "$KILN_ROOT/containers/names/load")/state.json
    sup=$(jq -r .Supervisor "$st")
    # kiln's port forwarder runs in the namespace's holder
    fwd=$(jq -r .NetHolder "$st")
    local sup0 fwd0
    sup0=$(fds_threads "$sup")
    fwd0=$(fds_threads "$fwd")
    run python3 "$BATS_TEST_DIRNAME/net_load.py" "$port" 1000 200
    [ "$output" = 1000 ]
    # Connections drain: the supervisor and the forwarder are back to their
    # start exactly (fds and threads).
    local i
    for i in $(seq 100); do
        [ "$(fds_threads "$sup")" = "$sup0" ] && [ "$(fds_threads "$fwd")" = "$fwd0" ] && break
        sleep 0.1
    done
    [ "$(fds_threads "$sup")" = "$sup0" ]
    [ "$(fds_threads "$fwd")" = "$fwd0" ]
    local pids
    pids="$sup $fwd $(jq -r '.NetHelper, .Pid' "$st")"
    kiln rm -f load >/dev/null
    port_is_free "$port"
    for p in $pids; do ! alive "$p"; done
}

@test "net: a pod: two containers reach each other on 127.0.0.1 and by name; its ports live on the pod" {
    local port
    port=$(free_port)
    run kiln pod create --name pp -p "127.0.0.1:$port:9000"
    [ "$status" -eq 0 ]
    [ "$output" = pp ]
    kiln run -d --pod pp --name srv bb sh -c "$(httpd_cmd 9000 from-srv)"
    wait_http "http://127.0.0.1:$port/"
    run kiln run --rm --pod pp --name cli bb sh -c 'wget -qO- 127.0.0.1:9000 && wget -qO- srv:9000'
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'from-srv\nfrom-srv')" ]
    run kiln run --rm --pod pp bb cat /etc/hosts
    [[ "$output" == *$'127.0.0.1\tsrv '* ]]
    # Docker's form of the same: another container's namespace.
    run kiln run --rm --network container:srv bb wget -qO- 127.0.0.1:9000
    [ "$output" = from-srv ]
    run kiln pod ps
    [[ "$output" == *"pp"*"running"*"127.0.0.1:$port->9000/tcp"* ]]
    run sh -c "$KILN ps --format json | jq -r '.[] | select(.Names==\"srv\") | .Pod + \" \" + .NetworkMode'"
    [ "$output" = "pp pod:pp" ]
    # Ports go on the pod, not its containers; a running member needs -f.
    run kiln run --rm --pod pp -p 9001 bb true
    [ "$status" -ne 0 ]
    [[ "$output" == *"kiln pod create -p"* ]]
    run kiln pod rm pp
    [ "$status" -ne 0 ]
    [[ "$output" == *"running container"* ]]
    local holder
    holder=$(jq -r .NetHolder "$KILN_ROOT/pods/pp/state.json")
    kiln pod rm -f pp
    port_is_free "$port"
    ! alive "$holder"
    run kiln ps -a -q
    [ -z "$output" ]
    run kiln run --rm --pod pp bb true
    [ "$status" -eq 125 ]
    [[ "$output" == *"no pod named pp"* ]]
}

@test "net: rootless -p: a non-root user with a subuid range publishes a port the same way" {
    local user=kilnnet-e2e home port
    rootless_user
    rm -rf "$home/kr" "$home/rootfs"
    cp -a "$RUN_FIXTURE/rootfs" "$home/rootfs"
    chown -R "$user": "$home/rootfs"
    port=$(free_port)
    local k="cd && KILN_ROOT=\$HOME/kr $KILN"
    su "$user" -s /bin/sh -c "$k import \$HOME/rootfs -t bb >/dev/null"
    run su "$user" -s /bin/sh -c "$k run -d --name w -p 127.0.0.1:$port:8000 bb sh -c '$(httpd_cmd 8000 rootless)'"
    [ "$status" -eq 0 ]
    wait_http "http://127.0.0.1:$port/"
    run curl -fsS "http://127.0.0.1:$port/"
    [ "$output" = rootless ]
    run su "$user" -s /bin/sh -c "$k port w"
    [ "$output" = "8000/tcp -> 127.0.0.1:$port" ]
    run su "$user" -s /bin/sh -c "$k run --rm --network private bb sh -c 'id -u; nslookup deb.debian.org >/dev/null && echo dns'"
    [ "$output" = "$(printf '0\ndns')" ]
    su "$user" -s /bin/sh -c "$k rm -f w" >/dev/null
    port_is_free "$port"
    run pgrep -u "$user" -x kiln-netns
    [ "$status" -ne 0 ]
    rm -rf "$home/kr" "$home/rootfs"
}

@test "net: rootless exec enters the container's namespaces (private, -p, host, a pod; init or not; USER; HEALTHCHECK)" {
    # kiln's init is not dumpable and its memory belongs to the host's user
    # namespace, so its /proc/PID/ns is closed to a non-root caller: exec joins
    # its command's namespaces instead (they are the same).
    local user=kilnnet-e2e home port
    rootless_user
    rm -rf "$home/kx" "$home/rootfs-x"
    cp -a "$RUN_FIXTURE/rootfs" "$home/rootfs-x"
    printf '#!/bin/sh\nid -u; hostname; ls /sys/class/net | sort | tr "\\n" " "\n' >"$home/rootfs-x/probe"
    chmod 755 "$home/rootfs-x/probe"
    chown -R "$user": "$home/rootfs-x"
    port=$(free_port)
    local k="cd && KILN_ROOT=\$HOME/kx $KILN"
    rootless_x=$k
    su "$user" -s /bin/sh -c "$k import \$HOME/rootfs-x -t bb >/dev/null"
    su "$user" -s /bin/sh -c "$k run -d --name pv --hostname hpv --network private bb sleep 600" >/dev/null
    su "$user" -s /bin/sh -c "$k run -d --name pp --hostname hpp -p 127.0.0.1:$port:8000 bb sleep 600" >/dev/null
    su "$user" -s /bin/sh -c "$k run -d --name ho --hostname hho --network host bb sleep 600" >/dev/null
    su "$user" -s /bin/sh -c "$k run -d --name ni --hostname hni --init=false --network private bb sleep 600" >/dev/null
    su "$user" -s /bin/sh -c "$k run -d --name au -u 1000 --network private bb sleep 600" >/dev/null
    su "$user" -s /bin/sh -c "$k pod create --name xp >/dev/null && $k run -d --pod xp --name pm bb sleep 600" >/dev/null
    local c
    for c in pv pp ni pm; do
        run su "$user" -s /bin/sh -c "$k exec $c /probe"
        echo "$c: $output"
        [ "$status" -eq 0 ]
        [ "${lines[0]}" = 0 ]
        [ "${lines[2]}" = "eth0 lo " ]
    done
    run su "$user" -s /bin/sh -c "$k exec pv hostname"
    [ "$output" = hpv ]
    run su "$user" -s /bin/sh -c "$k exec pp hostname"
    [ "$output" = hpp ]
    # The host's network, the container's own hostname; -u: the container user.
    run su "$user" -s /bin/sh -c "$k exec ho /probe"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 0 ]
    [ "${lines[1]}" = hho ]
    [ "${lines[2]}" = "$(ls /sys/class/net | sort | tr '\n' ' ')" ]
    run su "$user" -s /bin/sh -c "$k exec -u 1000 pv id -u"
    [ "$output" = 1000 ]
    run su "$user" -s /bin/sh -c "$k exec au /probe"
    [ "${lines[0]}" = 1000 ]
    [ "${lines[2]}" = "eth0 lo " ]
    # A HEALTHCHECK runs the same way, from the supervisor.
    mkdir -p "$home/rootfs-x/ctx"
    printf 'FROM bb\nHEALTHCHECK --interval=1s CMD id -u\n' >"$home/rootfs-x/ctx/Dockerfile"
    chown -R "$user": "$home/rootfs-x/ctx"
    su "$user" -s /bin/sh -c "$k build -q -t hb \$HOME/rootfs-x/ctx" >/dev/null
    su "$user" -s /bin/sh -c "$k run -d --name hc --network private hb sleep 600" >/dev/null
    run su "$user" -s /bin/sh -c "$k health hc"
    [ "$status" -eq 0 ]
    [ "$output" = 0 ]
    su "$user" -s /bin/sh -c "$k rm -f pv pp ho ni au hc && $k pod rm -f xp" >/dev/null
    port_is_free "$port"
    rm -rf "$home/kx" "$home/rootfs-x"
}

@test "net: build --network private runs RUN steps in a namespace of their own" {
    mkdir -p "$BATS_TEST_TMPDIR/ctx"
    printf 'FROM bb\nRUN ls /sys/class/net | sort | tr "\\n" " " > /nets\n' >"$BATS_TEST_TMPDIR/ctx/Dockerfile"
    kiln build --network private -t nb "$BATS_TEST_TMPDIR/ctx" >/dev/null
    run kiln run --rm nb cat /nets
    [[ "$output" == *lo* ]]
    [ "$output" != "$(ls /sys/class/net | sort | tr '\n' ' ')" ]
    run kiln build --network nowhere -t nb "$BATS_TEST_TMPDIR/ctx"
    [ "$status" -ne 0 ]
    [[ "$output" == *"use host, none or private"* ]]
}

@test "net: -p parse errors name the value; -p with --network host is refused" {
    run kiln run --rm -p 8000/sctp bb true
    [ "$status" -eq 125 ]
    [[ "$output" == *"-p 8000/sctp: protocol must be tcp or udp"* ]]
    run kiln run --rm -p 1-3:1-2 bb true
    [[ "$output" == *"the host range has 3 ports, the container's 2"* ]]
    run kiln run --rm --network host -p 8000 bb true
    [ "$status" -ne 0 ]
    [[ "$output" == *"-p needs --network private"* ]]
    run kiln run --rm --network nowhere bb true
    [ "$status" -ne 0 ]
    [[ "$output" == *"container:NAME"* ]]
    run kiln ps -a -q
    [ -z "$output" ]
}
