#!/usr/bin/env bats
# kiln compose ps as Docker Compose v2 users script against it: --format json
# (one object per line, Docker Compose's field names and types, Health from the
# health check) and Go templates, --services, --status and --filter, --no-trunc.

load helpers
load run_lib
load net_lib
load compose_lib

# ps_json ARGS...: kiln compose ps --format json ARGS, each line checked to be
# one JSON object, then the lines as one array in $json
ps_json() {
    run kiln compose ps --format json "$@"
    [ "$status" -eq 0 ] || { echo "status $status: $output"; return 1; }
    [ -z "$output" ] || printf '%s\n' "$output" | while IFS= read -r l; do jq -e 'type == "object"' <<<"$l" >/dev/null; done
    json=$(printf '%s\n' "$output" | jq -s -c .)
}
svc() { jq -c ".[] | select(.Service == \"$1\") | $2" <<<"$json"; }

@test "compose ps --format json: Docker Compose v2's fields, one object per line; Health the health check's status; Publishers per port; Go templates read them" {
    local port id
    port=$(free_port)
    cat >compose.yaml <<EOF
name: psf
services:
  web:
    image: bb
    command: ["httpd", "-f", "-p", "8080", "-h", "/"]
    ports: ["127.0.0.1:$port:8080"]
    healthcheck: {test: ["CMD", "true"], interval: 1s, start_period: 10s, start_interval: 100ms}
    stop_grace_period: 1s
  idle: {image: bb, command: ["sleep", "1000"], stop_grace_period: 1s}
  once: {image: bb, command: ["sh", "-c", "exit 3"]}
EOF
    kiln compose up -d
    for _ in $(seq 50); do kiln compose ps | grep -q 'running (healthy)' && break; sleep 0.2; done
    id=$(readlink "$KILN_ROOT/containers/names/psf-web-1")
    ps_json
    [ "$(jq length <<<"$json")" -eq 2 ]
    [ "$(svc web '[.Name, .Names, .Project, .Service, .Image, .State, .Health, .ExitCode, .Ports]')" = \
        "[\"psf-web-1\",\"psf-web-1\",\"psf\",\"web\",\"bb\",\"running\",\"healthy\",0,\"127.0.0.1:$port->8080/tcp\"]" ]
    [ "$(svc web .Publishers)" = "[{\"URL\":\"127.0.0.1\",\"TargetPort\":8080,\"PublishedPort\":$port,\"Protocol\":\"tcp\"}]" ]
    [ "$(svc web .ID)" = "\"${id:0:12}\"" ]
    # Command quoted and cut to 20 characters as Docker prints it
    [ "$(svc web .Command)" = '"\"httpd -f -p 8080 -h…\""' ]
    [[ "$(svc web .Status)" == '"Up '*' (healthy)"' ]]
    [[ "$(svc web .CreatedAt)" =~ ^\"20[0-9]{2}-[0-9]{2}-[0-9]{2}\ [0-9:]{8}\ [+-][0-9]{4}\ [A-Z]+\"$ ]]
    [[ "$(svc web .RunningFor)" == *' ago"' ]]
    [[ "$(svc web .Labels)" == *'com.docker.compose.project=psf'*'com.docker.compose.service=web'* ]]
    # without a health check or ports: "" and null, as Docker Compose
    [ "$(svc idle '[.Health, .Publishers, .Command]')" = '["",null,"\"sleep 1000\""]' ]
    # -a: the exited one with its code
    ps_json -a
    [ "$(svc once '[.State, .ExitCode]')" = '["exited",3]' ]
    [[ "$(svc once .Status)" == '"Exited (3) '* ]]
    # --no-trunc: the whole id and command
    ps_json --no-trunc web
    [ "$(jq length <<<"$json")" -eq 1 ]
    [ "$(svc web '[.ID, .Command]')" = "[\"$id\",\"\\\"httpd -f -p 8080 -h /\\\"\"]" ]
    # a Go template reads the --format json fields; table: Docker's headers, aligned
    run kiln compose ps --format '{{.Name}} {{.Health}}|{{.Service}}\t{{json .Publishers}}'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 'psf-idle-1 |idle'$'\t''null' ]
    [ "${lines[1]}" = "psf-web-1 healthy|web"$'\t'"[{\"URL\":\"127.0.0.1\",\"TargetPort\":8080,\"PublishedPort\":$port,\"Protocol\":\"tcp\"}]" ]
    run kiln compose ps -a --format 'table {{.Name}}\t{{.ID}}\t{{.ExitCode}}\t{{.RunningFor}}'
    [ "${lines[0]}" = "NAME         CONTAINER ID   EXIT CODE   CREATED" ]
    [ "$(printf '%s\n' "$output" | grep '^psf-once-1 ' | cut -c1-40 | sed 's/ *$//')" = "psf-once-1   $(readlink "$KILN_ROOT/containers/names/psf-once-1" | cut -c1-12)   3" ]
    [ "$(kiln compose ps --no-trunc --format '{{.ID}}' web)" = "$id" ]
    run kiln compose ps --format '{{.Name}} {{else}}'
    [ "$status" -eq 2 ]
    [[ "$output" == *'--format: column 13: else without if, range or with'* ]]
    kiln compose down
    # no containers: no lines
    run kiln compose ps --format json -a
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "compose ps: a container its restart policy restarts is listed as restarting, Status \"Restarting (N) ...\"" {
    cat >compose.yaml <<'EOF'
name: psr
services:
  flap: {image: bb, command: ["sh", "-c", "exit 4"], restart: always}
EOF
    kiln compose up -d
    local out=
    for _ in $(seq 100); do
        out=$(kiln compose ps --format json --status restarting)
        [ -n "$out" ] && break
        sleep 0.1
    done
    [ "$(jq -r .State <<<"$out")" = restarting ]
    [[ "$(jq -r .Status <<<"$out")" == "Restarting (4) "*" ago" ]]
    # listed without -a, as Docker Compose lists it
    run kiln compose ps --services
    [ "$output" = flap ]
    kiln compose down
}

@test "compose ps --services, --status, --filter status= and service=, -q" {
    cat >compose.yaml <<'EOF'
name: pss
services:
  a: {image: bb, command: ["sleep", "1000"], stop_grace_period: 1s}
  b: {image: bb, command: ["sleep", "1000"], stop_grace_period: 1s}
  done: {image: bb, command: ["true"]}
EOF
    kiln compose up -d
    for _ in $(seq 50); do [ "$(state Status pss-done-1)" = exited ] && break; sleep 0.1; done
    local ida idd
    ida=$(readlink "$KILN_ROOT/containers/names/pss-a-1")
    idd=$(readlink "$KILN_ROOT/containers/names/pss-done-1")
    run kiln compose ps --services
    [ "$output" = $'a\nb' ]
    run kiln compose ps --services -a
    [ "$output" = $'a\nb\ndone' ]
    # --status implies -a, repeatable; --filter status= the same
    run kiln compose ps --services --status exited
    [ "$output" = done ]
    run kiln compose ps --services --status exited --status running
    [ "$output" = $'a\nb\ndone' ]
    run kiln compose ps -q --filter status=exited
    [ "$output" = "$idd" ]
    run kiln compose ps --services --status created
    [ -z "$output" ]
    # by service: operands and --filter service=
    run kiln compose ps -q --filter service=a
    [ "$output" = "$ida" ]
    run kiln compose ps --services -a --filter status=running b done
    [ "$output" = b ]
    run kiln compose ps --format json --status exited
    [ "$(jq -r .Name <<<"$output")" = pss-done-1 ]
    # the table filtered too
    run kiln compose ps --status exited
    [ "${#lines[@]}" -eq 2 ]
    [[ "${lines[1]}" == *"pss-done-1"*"exited (0)"* ]]
    # what Docker Compose refuses, kiln refuses
    run kiln compose ps --status bogus
    [ "$status" -eq 2 ]
    [[ "$output" == *'invalid status "bogus"'* ]]
    run kiln compose ps --filter label=x
    [ "$status" -eq 2 ]
    [[ "$output" == *'--filter label=x: kiln filters by status= and service='* ]]
    run kiln compose ps --filter service=nope
    [ "$status" -eq 2 ]
    [[ "$output" == *'no such service: nope'* ]]
    kiln compose down
}
