#!/usr/bin/env bats
# kiln compose up/down and the runtime subcommands on the busybox fixture:
# one project is one pod, ports on 127.0.0.1, volumes, secrets, depends_on
# conditions, and nothing left behind after down (even when up was killed).
# Traffic goes only to 127.0.0.1 or stays inside the pod.

load helpers
load run_lib
load net_lib
load compose_lib

# nothing_left PROJECT PORT PIDS...: no container, pod, process, mount or port
nothing_left() {
    local proj=$1 port=$2 pid
    shift 2
    [ -z "$(ls "$KILN_ROOT/containers" | grep -v '^names$')" ]
    [ -z "$(ls "$KILN_ROOT/containers/names")" ]
    [ -z "$(ls "$KILN_ROOT/pods")" ]
    [ ! -e "$KILN_ROOT/compose/$proj" ]
    for pid in "$@"; do
        ! alive "$pid"
    done
    ! grep -q "$KILN_ROOT" /proc/mounts
    port_is_free "$port"
}

@test "compose up: ports answer on 127.0.0.1, names resolve in the pod, .env interpolation, service_healthy order, logs, ps, exec, run --rm" {
    local port
    port=$(free_port)
    cat >compose.yaml <<EOF
name: demo
services:
  web:
    image: bb
    command: ["sh", "-c", "test -f /shared/ready && echo saw-ready; mkdir -p /www && echo hello-\$\$GREETING >/www/index.html && exec httpd -f -p 8080 -h /www"]
    environment:
      GREETING: \${GREETING:-unset}
      FROM_SHELL: \${FROM_SHELL:?must be set}
    ports: ["127.0.0.1:\${WEB_PORT}:8080"]
    volumes: ["shared:/shared"]
    depends_on:
      db: {condition: service_healthy}
    labels: {tier: front}
  db:
    image: bb
    command: ["sh", "-c", "rm -f /shared/ready; echo db starting; sleep 1; touch /shared/ready; exec sleep 1000"]
    healthcheck:
      test: ["CMD", "test", "-f", "/shared/ready"]
      interval: 1s
      start_period: 10s
      start_interval: 200ms
    volumes: ["shared:/shared"]
    stop_grace_period: 1s
volumes:
  shared: {}
EOF
    printf 'GREETING=from-dotenv\nWEB_PORT=%s\n' "$port" >.env
    export FROM_SHELL=yes
    run kiln compose up -d
    [ "$status" -eq 0 ]
    [[ "$output" == *"Container demo-db-1  Waiting (service_healthy)"* ]]
    run curl -fsS -m 5 "http://127.0.0.1:$port/"
    [ "$output" = "hello-from-dotenv" ]
    # web started after db was healthy: it saw the file, and later
    [ "$(state Started demo-web-1)" -gt "$(state Started demo-db-1)" ]
    run kiln compose logs web
    [[ "$output" == *"web-1  | saw-ready"* ]]
    run kiln compose logs --tail 1 db
    [ "$output" = "db-1  | db starting" ]
    # services by name on the pod's loopback
    run kiln compose exec db wget -qO- http://web:8080/
    [ "$output" = "hello-from-dotenv" ]
    run kiln compose ps
    [[ "$output" == *"demo-db-1"*"db"*"running (healthy)"* ]]
    [[ "$output" == *"demo-web-1"*"web"*"running"*"127.0.0.1:$port->8080/tcp"* ]]
    # labels and the image recorded
    local id
    id=$(readlink "$KILN_ROOT/containers/names/demo-web-1")
    run jq -r '.Labels | [.tier, .["com.docker.compose.project"], .["com.docker.compose.service"]] | join(" ")' "$KILN_ROOT/containers/$id/config.json"
    [ "$output" = "front demo web" ]
    run kiln compose images
    [[ "$output" == *"demo-web-1"*"bb"* ]]
    # a one-off container in the pod, removed after
    run kiln compose run --rm -T db wget -qO- http://127.0.0.1:8080/
    [ "$status" -eq 0 ]
    [ "$output" = "hello-from-dotenv" ]
    [ "$(ls "$KILN_ROOT/containers" | grep -vc names)" -eq 2 ]
    # stop / start
    kiln compose stop web
    ! curl -fsS -m 2 "http://127.0.0.1:$port/" >/dev/null 2>&1
    kiln compose start web
    wait_http "http://127.0.0.1:$port/"
    # a required variable missing: one error naming it, nothing runs
    run env -u FROM_SHELL "$KILN" compose config -q
    [ "$status" -ne 0 ]
    [[ "$output" == *"must be set"* ]]
    run kiln compose down
    [ "$status" -eq 0 ]
    nothing_left demo "$port"
}

@test "compose up: named volumes persist across down/up and go with down -v; secrets at their path with their mode, read-only" {
    echo s3cret >token.txt
    cat >compose.yaml <<'EOF'
name: vol
services:
  app:
    image: bb
    command: ["sleep", "1000"]
    volumes:
      - data:/data
      - ./host:/host:ro
      - type: tmpfs
        target: /scratch
    secrets:
      - token
      - source: token
        target: apptoken
        uid: "1000"
        gid: "1000"
        mode: 0400
    stop_grace_period: 1s
volumes:
  data: {}
secrets:
  token:
    file: ./token.txt
EOF
    mkdir host
    echo from-host >host/f
    kiln compose up -d
    kiln compose exec app sh -c 'echo kept >/data/f'
    run kiln compose exec app cat /host/f
    [ "$output" = from-host ]
    run kiln compose exec app sh -c 'echo x >/host/g'
    [ "$status" -ne 0 ]
    run kiln compose exec app stat -c '%a %u %g' /run/secrets/token /run/secrets/apptoken
    [ "${lines[0]}" = "444 0 0" ]
    [ "${lines[1]}" = "400 1000 1000" ]
    run kiln compose exec app cat /run/secrets/apptoken
    [ "$output" = s3cret ]
    run kiln compose exec app sh -c 'echo x >/run/secrets/token'
    [ "$status" -ne 0 ]
    run kiln compose exec app sh -c 'grep " /scratch " /proc/mounts'
    [[ "$output" == *tmpfs* ]]
    kiln compose down
    [ -d "$KILN_ROOT/volumes/vol_data" ]
    kiln compose up -d
    run kiln compose exec app cat /data/f
    [ "$output" = kept ]
    kiln compose down -v
    [ ! -e "$KILN_ROOT/volumes/vol_data" ]
    kiln compose up -d
    run kiln compose exec app cat /data/f
    [ "$status" -ne 0 ]
    # the running pod cannot publish ports added to the file since: said so
    sed -i 's|^    image: bb$|    image: bb\n    ports: ["127.0.0.1::80"]|' compose.yaml
    run kiln compose up -d
    [ "$status" -ne 0 ]
    [[ "$output" == *"pod pod_vol publishes no ports, not the ports the compose file has now"* ]]
    kiln compose down -v
}

@test "compose up: bad input is refused before anything starts; a failure half-way stops what up started" {
    local port
    port=$(free_port)
    # two services on one container port in one pod
    cat >compose.yaml <<'EOF'
services:
  a: {image: bb, command: ["httpd", "-f", "-p", "80"], expose: ["80"], ports: ["80"]}
  b: {image: bb, command: ["httpd", "-f", "-p", "80"], ports: ["80"]}
EOF
    run kiln compose up -d
    [ "$status" -ne 0 ]
    [[ "$output" == *a* && "$output" == *b* && "$output" == *80* ]]
    [ -z "$(ls "$KILN_ROOT/pods" 2>/dev/null)" ]
    # a host port taken
    python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" &
    local holder=$! i
    for i in $(seq 1 50); do port_is_free "$port" || break; sleep 0.1; done
    cat >compose.yaml <<EOF
services:
  a: {image: bb, command: ["sleep", "100"], ports: ["127.0.0.1:$port:80"]}
EOF
    run kiln compose up -d
    kill "$holder"
    [ "$status" -ne 0 ]
    [[ "$output" == *"127.0.0.1:$port"*"in use"* ]]
    [ -z "$(ls "$KILN_ROOT/pods")" ]
    [ -z "$(ls "$KILN_ROOT/containers" 2>/dev/null | grep -v names)" ]
    # an unknown capability: one error naming the service and the name
    cat >compose.yaml <<'EOF'
services:
  a: {image: bb, command: ["true"], cap_add: [NET_ADMIN, NOT_A_CAP]}
EOF
    run kiln compose up -d
    [ "$status" -ne 0 ]
    [[ "$output" == *"service a: cap_add/cap_drop: unknown capability \"NOT_A_CAP\""* ]]
    [ -z "$(ls "$KILN_ROOT/pods")" ]
    # mem_limit where cgroup v2 does not delegate the memory controller: refused,
    # naming the service and the key
    if ! grep -qw memory /sys/fs/cgroup/cgroup.controllers /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; then
        printf 'services:\n  a: {image: bb, command: ["true"], mem_limit: 64m}\n' >compose.yaml
        run kiln compose up -d
        [ "$status" -ne 0 ]
        [[ "$output" == *"service a: mem_limit:"*"cgroup v2"* ]]
        [ -z "$(ls "$KILN_ROOT/pods")" ]
    fi
    # half-way: init fails, so web (service_completed_successfully) never
    # starts and db, already running, is stopped and removed again
    cat >compose.yaml <<EOF
services:
  db: {image: bb, command: ["sleep", "100"], ports: ["127.0.0.1:$port:80"], stop_grace_period: 1s}
  init: {image: bb, command: ["sh", "-c", "exit 3"], depends_on: [db]}
  web:
    image: bb
    command: ["sleep", "100"]
    depends_on: {init: {condition: service_completed_successfully}}
EOF
    run kiln compose up -d
    [ "$status" -ne 0 ]
    [[ "$output" == *"service init exited with status 3"* ]]
    nothing_left proj "$port"
}

@test "compose up: SIGKILL of kiln during up, then down: no container, process, mount or port left" {
    local port
    port=$(free_port)
    cat >compose.yaml <<EOF
name: killed
services:
  db:
    image: bb
    command: ["sh", "-c", "sleep 30; touch /tmp/ready; exec sleep 1000"]
    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s}
    ports: ["127.0.0.1:$port:80"]
    volumes: ["data:/data"]
    stop_grace_period: 1s
  web:
    image: bb
    command: ["sleep", "1000"]
    depends_on: {db: {condition: service_healthy}}
volumes: {data: {}}
EOF
    "$KILN" compose up -d 2>"$BATS_TEST_TMPDIR/up.err" &
    local up=$!
    local i
    for i in $(seq 1 100); do
        grep -q "Waiting (service_healthy)" "$BATS_TEST_TMPDIR/up.err" && break
        sleep 0.1
    done
    kill -9 "$up"
    wait "$up" || true
    # what runs now: db's supervisor and process, the pod's supervisor, holder and slirp4netns
    local pids
    pids="$(state Supervisor killed-db-1) $(state Pid killed-db-1)"
    pids="$pids $(jq -r '[.Supervisor, .NetHolder, .NetHelper] | map(tostring) | join(" ")' "$KILN_ROOT/pods/pod_killed/state.json")"
    for i in $pids; do alive "$i"; done
    ! port_is_free "$port"
    run kiln compose down
    [ "$status" -eq 0 ]
    # shellcheck disable=SC2086
    nothing_left killed "$port" $pids
    [ -d "$KILN_ROOT/volumes/killed_data" ]
}

@test "compose up: restart policies: the supervisor restarts after kill -9, counted in inspect and ps; stop stays stopped" {
    cat >compose.yaml <<'EOF2'
name: rs
services:
  flaky:
    image: bb
    command: ["sleep", "1000"]
    restart: on-failure:5
    stop_grace_period: 1s
  steady:
    image: bb
    command: ["sleep", "1000"]
    restart: "no"
    stop_grace_period: 1s
  done:
    image: bb
    command: ["true"]
    restart: on-failure
EOF2
    kiln compose up -d
    local first i
    first=$(state Pid rs-flaky-1)
    kill -9 "$first" "$(state Pid rs-steady-1)"
    for i in $(seq 1 50); do
        [ "$(state Status rs-flaky-1)" = running ] && [ "$(state RestartCount rs-flaky-1)" = 1 ] && break
        sleep 0.1
    done
    [ "$(state RestartCount rs-flaky-1)" = 1 ]
    [ "$(state Pid rs-flaky-1)" != "$first" ]
    run sh -c "$KILN inspect rs-flaky-1 | jq -r '.[0].RestartCount'"
    [ "$output" = 1 ]
    run kiln compose ps
    [[ "$output" == *"rs-flaky-1"*"running"*" 1 "* ]]
    # no policy: it stays dead; a clean exit under on-failure is not restarted
    [ "$(state Status rs-steady-1)" = exited ]
    [ "$(state RestartCount rs-done-1)" = 0 ]
    [ "$(state Status rs-done-1)" = exited ]
    # stop is not a failure to restart from
    kiln compose stop flaky
    sleep 0.5
    [ "$(state Status rs-flaky-1)" = exited ]
    kiln compose down
    [ -z "$(ls "$KILN_ROOT/containers" | grep -v '^names$')" ]
}

@test "compose up --build: kiln build with context, target and args; up without -d follows the logs and stops on SIGINT" {
    printf 'FROM bb AS base\nARG MSG=none\nRUN echo "built-$MSG" > /built\nFROM base AS final\nRUN echo final >> /built\n' >Dockerfile
    cat >compose.yaml <<'EOF2'
name: bld
services:
  app:
    build:
      context: .
      target: base
      args: {MSG: hello}
    command: ["sh", "-c", "cat /built; exec sleep 1000"]
    stop_grace_period: 1s
EOF2
    # timeout relays SIGINT to kiln, and ends a hang
    timeout 60 "$KILN" compose up --build >"$BATS_TEST_TMPDIR/up.out" 2>&1 &
    local up=$! i
    for i in $(seq 1 100); do
        grep -q "app-1  | built-hello" "$BATS_TEST_TMPDIR/up.out" && break
        sleep 0.1
    done
    grep -q "app-1  | built-hello" "$BATS_TEST_TMPDIR/up.out"
    run kiln images
    [[ "$output" == *bld-app* ]]
    kill -INT "$up"
    wait "$up"
    grep -q "Gracefully stopping" "$BATS_TEST_TMPDIR/up.out"
    [ "$(state Status bld-app-1)" = exited ]
    # compose build builds again (the cache answers)
    run kiln compose build
    [ "$status" -eq 0 ]
    kiln compose down
}

@test "compose up: a new named volume gets the image's content with owners and modes (not a bind mount, not a volume with content)" {
    # /lnk -> /etc: a volume at /lnk/... must not copy the host's /etc
    printf 'FROM bb\nRUN mkdir -p /data/sub && echo seed >/data/sub/f && ln -s sub/f /data/link && chown -R 65534:65534 /data && chmod 0750 /data && chmod 0640 /data/sub/f && ln -s /etc /lnk\n' >Dockerfile
    cat >compose.yaml <<'EOF2'
name: pop
services:
  app:
    build: .
    user: "65534"
    command: ["sh", "-c", "echo written >/data/new && exec sleep 1000"]
    volumes: ["data:/data", "odd:/lnk/ssl"]
    stop_grace_period: 1s
  bound:
    image: pop-app
    command: ["sleep", "1000"]
    volumes: ["./host:/data"]
    depends_on: [app]
    stop_grace_period: 1s
volumes: {data: {}, odd: {}}
EOF2
    mkdir host
    kiln compose up -d
    run kiln compose exec app stat -c '%a %u %g' /data /data/sub /data/sub/f
    [ "${lines[0]}" = "750 65534 65534" ]
    [ "${lines[1]}" = "755 65534 65534" ]
    [ "${lines[2]}" = "640 65534 65534" ]
    run kiln compose exec app cat /data/link /data/new
    [ "$output" = "$(printf 'seed\nwritten')" ]
    run kiln compose exec app readlink /data/link
    [ "$output" = sub/f ]
    [ -z "$(ls -A "$KILN_ROOT/volumes/pop_odd")" ]
    # a bind mount shows the host directory only
    [ -z "$(ls -A host)" ]
    run kiln compose exec bound ls -A /data
    [ "$output" = "" ]
    # a volume with content is left as it is
    kiln compose down
    echo changed >"$KILN_ROOT/volumes/pop_data/sub/f"
    rm "$KILN_ROOT/volumes/pop_data/link"
    kiln compose up -d
    run kiln compose exec app cat /data/sub/f
    [ "$output" = changed ]
    run kiln compose exec app ls /data
    [ "$output" = "$(printf 'new\nsub')" ]
    kiln compose down -v
}

@test "compose up: cap_add / cap_drop (with or without CAP_, ALL) give the container's capability set" {
    cat >compose.yaml <<'EOF2'
name: caps
services:
  few: {image: bb, command: ["sleep", "1000"], cap_drop: [ALL], cap_add: [CAP_NET_ADMIN, chown], stop_grace_period: 1s}
  noraw: {image: bb, command: ["sleep", "1000"], cap_drop: [NET_RAW], stop_grace_period: 1s}
  plain: {image: bb, command: ["sleep", "1000"], stop_grace_period: 1s}
EOF2
    kiln compose up -d
    run kiln compose exec few grep CapEff /proc/1/status
    [[ "$output" == *"0000000000001001" ]]
    run kiln compose exec noraw grep CapEff /proc/1/status
    [[ "$output" == *"00000000a80405fb" ]]
    run kiln compose exec plain grep CapEff /proc/1/status
    [[ "$output" == *"00000000a80425fb" ]]
    kiln compose down
}

@test "compose up: a changed service is recreated, unchanged ones keep running; --no-recreate, --force-recreate" {
    cat >compose.yaml <<'EOF2'
name: rc
services:
  a: {image: bb, command: ["sleep", "1000"], stop_grace_period: 1s}
  b: {image: bb, command: ["sleep", "1000"], stop_grace_period: 1s, environment: {V: "1"}}
EOF2
    kiln compose up -d
    local id
    remember_pids rc a b
    id=$(readlink "$KILN_ROOT/containers/names/rc-b-1")
    run jq -r '.Labels["com.docker.compose.config-hash"]' "$KILN_ROOT/containers/$id/config.json"
    [[ "$output" =~ ^[0-9a-f]{64}$ ]]
    # unchanged: nothing happens
    run kiln compose up -d
    [[ "$output" == *"rc-a-1  Running"* && "$output" == *"rc-b-1  Running"* ]]
    kept rc a b
    sed -i 's/V: "1"/V: "2"/' compose.yaml
    run kiln compose up -d
    [ "$status" -eq 0 ]
    [[ "$output" == *"rc-a-1  Running"* && "$output" == *"rc-b-1  Recreate"* ]]
    kept rc a
    restarted rc b
    run kiln compose exec b sh -c 'echo $V'
    [ "$output" = 2 ]
    remember_pids rc a b
    sed -i 's/V: "2"/V: "3"/' compose.yaml
    kiln compose up -d --no-recreate
    kept rc a b
    run kiln compose exec b sh -c 'echo $V'
    [ "$output" = 2 ]
    kiln compose up -d --force-recreate
    restarted rc a b
    run kiln compose exec b sh -c 'echo $V'
    [ "$output" = 3 ]
    [ "$(n_containers)" -eq 2 ]
    kiln compose down
}

@test "compose: configs at their target with their mode; restart; ps -q and -a; down --remove-orphans" {
    printf 'k=v\n' >app.conf
    cat >compose.yaml <<'EOF2'
name: misc
services:
  app:
    image: bb
    command: ["sleep", "1000"]
    configs:
      - source: conf
        target: /etc/app.conf
        mode: 0440
      - conf
    stop_grace_period: 1s
  once: {image: bb, command: ["true"]}
  old: {image: bb, command: ["sleep", "1000"], stop_grace_period: 1s}
configs:
  conf: {file: ./app.conf}
EOF2
    kiln compose up -d
    run kiln compose exec app stat -c '%a %u' /etc/app.conf /conf
    [ "${lines[0]}" = "440 0" ]
    [ "${lines[1]}" = "444 0" ]
    run kiln compose exec app cat /etc/app.conf
    [ "$output" = k=v ]
    run kiln compose exec app sh -c 'echo x >/etc/app.conf'
    [ "$status" -ne 0 ]
    # restart: a new process, still running
    remember_pids misc app
    kiln compose restart app
    restarted misc app
    # ps -q: the running ones' ids; -a: the exited one too
    local ida ido
    ida=$(readlink "$KILN_ROOT/containers/names/misc-app-1")
    ido=$(readlink "$KILN_ROOT/containers/names/misc-once-1")
    run kiln compose ps -q
    [[ "$output" == *"$ida"* && "$output" != *"$ido"* ]]
    [ "${#lines[@]}" -eq 2 ]
    run kiln compose ps -a
    [[ "$output" == *"misc-once-1"*"exited"* ]]
    run kiln compose ps
    [[ "$output" != *"misc-once-1"* ]]
    # old leaves the file: an orphan, kept by down, removed with --remove-orphans
    sed -i '/^  old:/d' compose.yaml
    run kiln compose down
    [[ "$output" == *"misc-old-1 is an orphan"* ]]
    [ -L "$KILN_ROOT/containers/names/misc-old-1" ]
    run kiln compose down --remove-orphans
    [ "$status" -eq 0 ]
    [[ "$output" == *"misc-old-1  Removed"* ]]
    [ -z "$(ls "$KILN_ROOT/containers" | grep -v '^names$')" ]
    [ -z "$(ls "$KILN_ROOT/pods")" ]
}

@test "compose up --wait: a service that dies at start fails the wait at once, with its last output, also under a restart policy" {
    cat >compose.yaml <<'EOF2'
name: dies
services:
  once:
    image: bb
    command: ["sh", "-c", "echo first-bye; exit 3"]
    healthcheck: {test: ["CMD", "true"], interval: 1s}
EOF2
    SECONDS=0
    run kiln compose up -d --wait --wait-timeout 60
    [ "$status" -ne 0 ]
    [[ "$output" == *'service once exited (status 3) before it was healthy; its last output: "first-bye"'* ]]
    sed -i 's/    image: bb/    image: bb\n    restart: unless-stopped/' compose.yaml
    run kiln compose up -d --wait --wait-timeout 60
    [ "$status" -ne 0 ]
    [[ "$output" == *'service once keeps exiting (status 3, restarted 3 times while waiting); its last output: "first-bye"'* ]]
    # both gave up long before the 60 s timeout, and up removed what it started
    [ "$SECONDS" -lt 30 ]
    [ -z "$(ls "$KILN_ROOT/containers/names")" ]
}
