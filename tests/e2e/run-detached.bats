#!/usr/bin/env bats
# Detached containers: supervisor, ps, logs, exec, health, stop, rm, and no
# mounts left behind however the container ends.

load helpers
load run_lib
bats_require_minimum_version 1.5.0

setup_file() {
    run_fixture_file
}

setup() {
    run_fixture_store
    # A service: traps its STOPSIGNAL, becomes ready, has a HEALTHCHECK.
    retag_with_config bb svc '.config.Healthcheck={"Test":["CMD-SHELL","test -f /tmp/ready && echo ready"],"Interval":300000000,"Timeout":2000000000,"Retries":2}
        | .config.StopSignal="SIGUSR1"
        | .config.Cmd=["sh","-c","trap \"echo stopping-on-usr1; exit 0\" USR1; echo started; sleep 0.5; touch /tmp/ready; while true; do sleep 0.1; done"]'
}

teardown() {
    remove_containers
}

host_mounts() {
    findmnt -rn -o TARGET,SOURCE,OPTIONS | grep -c -- "$KILN_ROOT" || true
}

wait_for() { # wait_for SECONDS CMD...: retries CMD every 0.1 s
    local n=$(($1 * 10))
    shift
    while [ $n -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

is_healthy() { kiln ps | grep -q '(healthy)'; }

@test "detached: -d prints the id; ps shows it running, then healthy" {
    run kiln run -d --name web svc
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^[0-9a-f]{64}$ ]]
    run kiln ps
    [[ "$output" == *"web"* ]]
    [[ "$output" == *"Up "* ]]
    wait_for 10 is_healthy
    run kiln ps
    [[ "$output" == *"(healthy)"* ]]
    [ "$(host_mounts)" -eq 0 ]
}

@test "ps --format: Go templates with Docker's placeholders, the table prefix aligned as Docker's tabwriter, errors naming the column" {
    local id
    id=$(kiln run -d --name web svc)
    kiln run --name once bb sh -c 'exit 3' || true
    wait_for 10 is_healthy
    run kiln ps --format '{{.Names}}\t{{.Status}}'
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^web$'\t'Up\ .*\ \(healthy\)$ ]]
    run kiln ps -a --format '{{.ID}} {{.Image}} {{.State}} {{.Command}} {{json .Names}} {{upper .State}}'
    [ "${#lines[@]}" -eq 2 ]
    [[ "$output" == *"${id:0:12} svc running \"sh -c trap \\\"echo st…\" \"web\" RUNNING"* ]]
    [[ "$output" == *' bb exited "sh -c exit 3" "once" EXITED'* ]]
    run kiln ps -a --format '{{.Names}}: {{.Status}}|{{.RunningFor}}|{{.CreatedAt}}|{{.Networks}}|{{.Health.Status}}'
    [[ "$output" == *'once: Exited (3) '*' ago|'*' ago|20'*' +0000 UTC|host|<no value>'* ]]
    [[ "$output" == *'web: Up '*'|host|healthy'* ]]
    # table: Docker's headers, each column as wide as its widest cell + 3 (at least 10)
    run kiln ps -a --format 'table {{.ID}}\t{{.Names}}\t{{.State}}'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "CONTAINER ID   NAMES     STATE" ]
    [[ "$output" == *$'\n'"${id:0:12}   web       running"* ]]
    [[ "$output" =~ $'\n'[0-9a-f]{12}\ \ \ once\ \ \ \ \ \ exited ]]
    run kiln ps --format 'table {{.RunningFor}}\t{{.CreatedAt}}\t{{.Ports}}\t{{.Labels}}'
    [[ "${lines[0]}" =~ ^CREATED\ {3,}CREATED\ AT\ {3,}PORTS\ {5}LABELS$ ]]
    # table alone is the default table; -q wins over a template, as Docker's
    run kiln ps --format table
    [[ "${lines[0]}" == "CONTAINER ID  "* ]]
    [ "$(kiln ps -q --format '{{.Names}}')" = "${id:0:12}" ]
    # errors: usage (2), naming the column
    # if and range
    run kiln ps -a --format '{{.Names}}{{if .Health}} {{.Health.Status}}{{else}} -{{end}}'
    [[ "$output" == *'web healthy'* && "$output" == *'once -'* ]]
    [ "$(kiln ps --format '{{range .PublishedPorts}}x{{else}}none{{end}}')" = none ]
    run kiln ps --format '{{.Names}} {{printf "%s" .ID}}'
    [ "$status" -eq 2 ]
    [[ "$output" == *'--format: column 14: function "printf" is not supported'* ]]
    run kiln ps --format '{{range .Names}}{{end}}'
    [ "$status" -eq 2 ]
    [[ "$output" == *'--format: column 3: range over a value that is not a list'* ]]
    run kiln ps --format '{{.Nmes}}'
    [ "$status" -eq 2 ]
    [[ "$output" == *'--format: column 3: no field .Nmes'* ]]
}

@test "detached: logs, exec into its namespaces, health once" {
    kiln run -d --name web --hostname websvc svc >/dev/null
    wait_for 5 sh -c "$KILN logs web | grep -q started"
    run kiln exec web sh -c 'hostname; echo $$; cat /proc/1/status | grep -c kiln'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = websvc ]
    run kiln exec web sh -c 'exit 4'
    [ "$status" -eq 4 ]
    run -127 kiln exec web nosuchcmd
    if command -v script >/dev/null; then
        run script -qec "$KILN exec -it web tty" /dev/null
        [[ "$output" == *"/dev/pts/"* ]]
    fi
    wait_for 5 kiln exec web test -f /tmp/ready
    run kiln health web
    [ "$status" -eq 0 ]
    [ "$output" = ready ]
    kiln exec web rm /tmp/ready
    run kiln health web
    [ "$status" -eq 1 ]
}

@test "detached: unhealthy after retries" {
    retag_with_config svc sick '.config.Healthcheck.Test=["CMD","false"]'
    kiln run -d --name sick sick >/dev/null
    wait_for 10 sh -c "$KILN ps | grep -q '(unhealthy)'"
}

@test "detached: stop sends STOPSIGNAL; no mounts left; rm removes it" {
    kiln run -d --name web svc >/dev/null
    wait_for 5 sh -c "$KILN logs web | grep -q started"
    run kiln stop web
    [ "$status" -eq 0 ]
    run kiln logs web
    [[ "$output" == *"stopping-on-usr1"* ]]
    run kiln ps -a
    [[ "$output" == *"Exited (0)"* ]]
    [ "$(host_mounts)" -eq 0 ]
    run kiln rm web
    [ "$status" -eq 0 ]
    run kiln ps -a
    [[ "$output" != *"web"* ]]
    [ "$(host_mounts)" -eq 0 ]
}

@test "detached: stop escalates to SIGKILL after the timeout" {
    retag_with_config bb stubborn '.config.Cmd=["sh","-c","trap \"\" TERM; echo up; while true; do sleep 0.1; done"]'
    kiln run -d --name st stubborn >/dev/null
    wait_for 5 sh -c "$KILN logs st | grep -q up"
    run kiln stop -t 1 st
    [ "$status" -eq 0 ]
    run kiln ps -a
    [[ "$output" == *"Exited (137)"* ]]
}

@test "detached: a SIGKILLed supervisor takes its container along; ps and rm clean up" {
    id=$(kiln run -d --name web svc)
    sup=$(jq -r .Supervisor "$KILN_ROOT/containers/$id/state.json")
    pid1=$(jq -r .Pid "$KILN_ROOT/containers/$id/state.json")
    kill -KILL "$sup"
    wait_for 5 sh -c "! kill -0 $pid1 2>/dev/null"
    run kiln ps -a
    [[ "$output" == *"Exited (137)"* ]]
    [ "$(host_mounts)" -eq 0 ]
    run kiln rm web
    [ "$status" -eq 0 ]
    [ ! -e "$KILN_ROOT/containers/$id" ]
}

@test "detached: rm refuses a running container unless -f; --rm removes on exit" {
    kiln run -d --name web svc >/dev/null
    run kiln rm web
    [ "$status" -eq 1 ]
    [[ "$output" == *"is running"* ]]
    run kiln rm -f web
    [ "$status" -eq 0 ]
    kiln run -d --rm --name brief bb sh -c 'sleep 0.2' >/dev/null
    wait_for 5 sh -c "! $KILN ps -a | grep -q brief"
}

@test "health IMAGE starts a throw-away container and probes it" {
    run kiln health svc
    [ "$status" -eq 0 ]
    [ "$output" = ready ]
    run kiln ps -a -q
    [ -z "$output" ]
    run kiln health bb
    [ "$status" -eq 1 ]
    [[ "$output" == *"no HEALTHCHECK"* ]]
}

@test "detached: prune while it runs keeps its layers (held); after rm prune frees them" {
    kiln run -d --name web svc >/dev/null
    wait_for 5 sh -c "$KILN logs web | grep -q started"
    # Nothing refers to the image any more, and everything looks old to prune.
    kiln rmi svc bb >/dev/null
    find "$KILN_ROOT/snapshots" "$KILN_ROOT/blobs/sha256" -mindepth 1 -maxdepth 1 \
        -exec touch -d 2000-01-01 {} +
    snaps=$(ls "$KILN_ROOT/snapshots" | wc -l)
    [ "$snaps" -ge 1 ]
    # From another pid namespace prune cannot see the container's mounts:
    # only the supervisor's hold keeps the layers.
    run unshare --pid --fork --mount-proc "$KILN" prune
    [ "$status" -eq 0 ]
    [ "$(ls "$KILN_ROOT/snapshots" | wc -l)" -eq "$snaps" ]
    run kiln exec web sh -c 'ls /bin/busybox && head -1 /etc/passwd'
    [ "$status" -eq 0 ]
    [[ "$output" == *"/bin/busybox"* ]]
    run kiln fsck
    [ "$status" -eq 0 ]
    kiln rm -f web >/dev/null
    run kiln prune
    [ "$status" -eq 0 ]
    [ "$(ls "$KILN_ROOT/snapshots" | wc -l)" -eq 0 ]
    run kiln fsck
    [ "$status" -eq 0 ]
}

@test "detached: StartInterval probes while starting, so a 30 s Interval does not delay healthy" {
    retag_with_config svc quick '.config.Healthcheck.Interval=30000000000
        | .config.Healthcheck.StartPeriod=20000000000 | .config.Healthcheck.StartInterval=100000000'
    kiln run -d --name quick quick >/dev/null
    wait_for 5 is_healthy
}

@test "detached: the supervisors of a container and of a pod keep none of the caller's descriptors (a harness waiting for EOF on its pipe does not hang)" {
    local marker=$BATS_TEST_TMPDIR/caller-fd id sup pod_sup fds
    exec 8>"$marker"
    id=$(kiln run -d bb sleep 1000)
    kiln pod create --name fdpod >/dev/null
    exec 8>&-
    sup=$(jq -r .Supervisor "$KILN_ROOT/containers/$id/state.json")
    pod_sup=$(jq -r .Supervisor "$KILN_ROOT/pods/fdpod/state.json")
    [ -d "/proc/$sup/fd" ] && [ -d "/proc/$pod_sup/fd" ]
    fds=$(ls -l "/proc/$sup/fd" "/proc/$pod_sup/fd")
    # both go before the check: a supervisor left holding bats' fd 3 would hang the file
    kiln rm -f "$id" >/dev/null
    kiln pod rm -f fdpod >/dev/null
    echo "$fds"
    [[ "$fds" != *caller-fd* ]]
}
