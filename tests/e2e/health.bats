#!/usr/bin/env bats
# kiln health IMAGE: a throw-away container probed as the supervisor probes it,
# StartInterval apart within the start period, then Interval apart.

load helpers
load run_lib

setup_file() {
    run_fixture_file
}

setup() {
    run_fixture_store
}

teardown() {
    if [ -f "$BATS_TEST_TMPDIR/proj/compose.yaml" ]; then
        kiln compose --project-directory "$BATS_TEST_TMPDIR/proj" down >/dev/null 2>&1 || true
    fi
    remove_containers
    remove_pods
}

# The service is ready 1.1 s after it starts (ready holds /proc/uptime then);
# the check prints how late it saw that. One probe a second (Interval, capped)
# sees it about 0.9 s late; StartInterval (50 ms) within the start period at once.
READY='.config.Healthcheck={"Test":["CMD-SHELL","test -f /tmp/ready && awk -v r=$(cat /tmp/ready) '"'"'{ printf \"late=%.2f\\n\", $1 - r }'"'"' /proc/uptime"],"Interval":30000000000,"Timeout":2000000000,"StartPeriod":10000000000,"StartInterval":50000000,"Retries":1}
    | .config.Cmd=["sh","-c","sleep 1.1; cut -d\" \" -f1 /proc/uptime > /tmp/ready.new; mv /tmp/ready.new /tmp/ready; while true; do sleep 1; done"]'

@test "health IMAGE: probes StartInterval apart within the start period" {
    retag_with_config bb svc "$READY"
    run kiln health svc
    [ "$status" -eq 0 ] || { echo "status $status: $output"; return 1; }
    [[ $output =~ ^late=([0-9.]+)$ ]] || { echo "$output"; return 1; }
    echo "# healthy ${BASH_REMATCH[1]} s after ready (load $(cut -d' ' -f1 /proc/loadavg))" >&3
    awk -v l="${BASH_REMATCH[1]}" 'BEGIN { exit !(l < 0.6) }'
    [ -z "$(kiln ps -q)" ]
}

@test "health IMAGE: a check that never passes: 1 and its output once start period and retries ran out" {
    retag_with_config bb svc '.config.Healthcheck={"Test":["CMD-SHELL","echo not-yet; exit 1"],"Interval":300000000,"Timeout":1000000000,"StartPeriod":500000000,"StartInterval":100000000,"Retries":2}
        | .config.Cmd=["sh","-c","while true; do sleep 1; done"]'
    start=$(date +%s%N)
    run kiln health svc
    [ "$status" -eq 1 ]
    [ "$output" = not-yet ]
    # budget: 0.5 s + 2 x (0.3 s + 1 s)
    [ $(($(date +%s%N) - start)) -lt 10000000000 ]
    [ -z "$(kiln ps -q)" ]
}

# wait_health NAME STATUS: until kiln inspect shows State.Health.Status STATUS (10 s)
wait_health() {
    local i
    for i in $(seq 100); do
        [ "$(kiln inspect "$1" | jq -r '.[0].State.Health.Status')" = "$2" ] && return 0
        sleep 0.1
    done
    kiln inspect "$1" | jq .[0].State >&2
    return 1
}

@test "inspect and ps --format json: a container's health (status, failing streak, the last probes' log) as Docker's State.Health; none without a check" {
    retag_with_config bb good '.config.Healthcheck={"Test":["CMD-SHELL","echo fine"],"Interval":200000000,"Timeout":1000000000,"Retries":1}
        | .config.Cmd=["sh","-c","while true; do sleep 1; done"]'
    retag_with_config bb bad '.config.Healthcheck={"Test":["CMD-SHELL","echo not-yet; exit 3"],"Interval":100000000,"Timeout":1000000000,"Retries":2}
        | .config.Cmd=["sh","-c","while true; do sleep 1; done"]'
    kiln run -d --name g good
    kiln run -d --name b bad
    kiln run -d --name n bb sh -c 'while true; do sleep 1; done'
    wait_health g healthy
    wait_health b unhealthy
    run kiln inspect b
    [ "$status" -eq 0 ]
    h=$(printf '%s' "$output" | jq -c '.[0].State.Health')
    [ "$(jq '.FailingStreak >= 2' <<<"$h")" = true ]
    [ "$(jq '.Log | length > 0 and length <= 5' <<<"$h")" = true ]
    [ "$(jq -r '.Log[-1].Output' <<<"$h")" = "not-yet" ]
    [ "$(jq '.Log[-1].ExitCode' <<<"$h")" = 3 ]
    # Docker's HealthcheckResult: Start and End in RFC 3339 with nanoseconds, UTC, as
    # Go writes them (the fraction's trailing zeros dropped)
    rfc='^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](\.[0-9]{0,8}[1-9])?Z$'
    [ "$(jq -r '[.Log[] | .Start, .End | type] | unique | join(",")' <<<"$h")" = string ]
    for t in $(jq -r '.Log[] | .Start, .End' <<<"$h"); do
        [[ $t =~ $rfc ]] || { echo "not RFC 3339: $t"; return 1; }
    done
    # End not before Start, and both within a minute of now
    [ "$(jq '.Log[-1] | (.Start, .End) |= (sub("\\.[0-9]+";"") | fromdate)
        | .End >= .Start and (now - .Start | fabs) < 60' <<<"$h")" = true ]
    [ "$(jq -c '.Log[-1] | keys_unsorted' <<<"$h")" = '["Start","End","ExitCode","Output"]' ]
    [ "$(jq -c 'keys_unsorted' <<<"$h")" = '["Status","FailingStreak","Log"]' ]
    [ "$(kiln inspect g | jq '.[0].State.Health.FailingStreak')" = 0 ]
    [ "$(kiln inspect g | jq -r '.[0].State.Health.Log[-1].Output')" = fine ]
    [ "$(kiln inspect n | jq '.[0].State | has("Health")')" = false ]
    run kiln ps --format json
    [ "$status" -eq 0 ]
    [ "$(jq -r '.[] | select(.Names == "g") | .Health.Status' <<<"$output")" = healthy ]
    [ "$(jq -r '.[] | select(.Names == "b") | .Health.Status' <<<"$output")" = unhealthy ]
    [ "$(jq '.[] | select(.Names == "b") | .Health.FailingStreak >= 2' <<<"$output")" = true ]
    [ "$(jq -r '.[] | select(.Names == "b") | .Health.Log[-1].Output' <<<"$output")" = not-yet ]
    [ "$(jq '.[] | select(.Names == "n") | has("Health")' <<<"$output")" = false ]
}

@test "inspect: a probe's output is cut at 4096 bytes with \"...\", bytes that are not UTF-8 are U+FFFD, one that timed out says so, as Docker records them" {
    retag_with_config bb big '.config.Healthcheck={"Test":["CMD-SHELL","yes x | head -c 5000"],"Interval":100000000,"Timeout":2000000000,"Retries":1}
        | .config.Cmd=["sh","-c","while true; do sleep 1; done"]'
    retag_with_config bb slow '.config.Healthcheck={"Test":["CMD-SHELL","echo started; sleep 5"],"Interval":100000000,"Timeout":300000000,"Retries":1}
        | .config.Cmd=["sh","-c","while true; do sleep 1; done"]'
    retag_with_config bb bytes '.config.Healthcheck={"Test":["CMD-SHELL","printf \\\\377ok"],"Interval":100000000,"Timeout":2000000000,"Retries":1}
        | .config.Cmd=["sh","-c","while true; do sleep 1; done"]'
    kiln run -d --name big big
    kiln run -d --name slow slow
    kiln run -d --name bytes bytes
    wait_health big healthy
    wait_health slow unhealthy
    wait_health bytes healthy
    run kiln inspect big
    [ "$(jq '.[0].State.Health.Log[-1].Output | length' <<<"$output")" = 4099 ]
    [ "$(jq '.[0].State.Health.Log[-1].Output == ("x\n" * 2048) + "..."' <<<"$output")" = true ]
    # output that is not UTF-8 is recorded (U+FFFD for the byte), not dropped
    run kiln inspect bytes
    [ "$(jq '.[0].State.Health.Log[-1].Output == "\ufffdok"' <<<"$output")" = true ] ||
        { jq '.[0].State.Health' <<<"$output"; return 1; }
    run kiln inspect slow
    [ "$(jq '.[0].State.Health.Log[-1].Output == "Health check exceeded timeout (300ms): started\n"' <<<"$output")" = true ] ||
        { jq '.[0].State.Health' <<<"$output"; return 1; }
    [ "$(jq '.[0].State.Health.Log[-1].ExitCode' <<<"$output")" = -1 ]
    # kiln health prints what it printed before
    run kiln health slow
    [ "$status" -eq 1 ]
    [ "$output" = "started
health check timed out after 0s" ]
    # ... ending its line
    kiln health slow >"$BATS_TEST_TMPDIR/out" || true
    [ "$(tail -c 1 "$BATS_TEST_TMPDIR/out" | od -An -tx1 | tr -d ' ')" = 0a ]
}

@test "a running container whose health.json an older kiln wrote (epoch seconds): inspect and ps --format json show RFC 3339, ps its status" {
    kiln run -d --name old bb sh -c 'while true; do sleep 1; done'
    id=$(kiln inspect old | jq -r '.[0].Id')
    printf '%s' '{"Status":"healthy","FailingStreak":0,"Log":[{"Start":1796544000,"End":1796544001,"ExitCode":0,"Output":"fine"}]}' \
        >"$KILN_ROOT/containers/$id/health.json"
    run kiln inspect old
    [ "$status" -eq 0 ]
    [ "$(jq -c '.[0].State.Health' <<<"$output")" = '{"Status":"healthy","FailingStreak":0,"Log":[{"Start":"2026-12-06T08:00:00Z","End":"2026-12-06T08:00:01Z","ExitCode":0,"Output":"fine"}]}' ]
    run kiln ps --format json
    [ "$(jq -r '.[] | select(.Names == "old") | .Health.Log[0].End' <<<"$output")" = 2026-12-06T08:00:01Z ]
    run kiln ps
    [[ $output == *"(healthy)"* ]] || { echo "$output"; return 1; }
}

@test "a container its restart policy starts again keeps its health log (Docker's), starting over at FailingStreak 0" {
    mkdir -p "$BATS_TEST_TMPDIR/proj"
    cd "$BATS_TEST_TMPDIR/proj"
    cat >compose.yaml <<'EOF2'
name: hr
services:
  flaky:
    image: bb
    command: ["sleep", "1000"]
    restart: on-failure:5
    healthcheck: {test: ["CMD", "echo", "fine"], interval: 500ms}
    stop_grace_period: 1s
EOF2
    kiln compose up -d
    local i id pid
    for i in $(seq 100); do
        [ "$(kiln inspect hr-flaky-1 | jq '.[0].State.Health.Log | length')" -ge 3 ] && break
        sleep 0.1
    done
    id=$(kiln inspect hr-flaky-1 | jq -r '.[0].Id')
    pid=$(jq -r .Pid "$KILN_ROOT/containers/$id/state.json")
    kill -9 "$pid"
    for i in $(seq 50); do
        [ "$(jq -r '"\(.Status) \(.RestartCount)"' "$KILN_ROOT/containers/$id/state.json")" = "running 1" ] && break
        sleep 0.05
    done
    run kiln inspect hr-flaky-1
    [ "$(jq '.[0].RestartCount' <<<"$output")" = 1 ]
    # the first run's probes are still there (the second run's first probe is 500 ms away)
    [ "$(jq '.[0].State.Health.Log | length >= 3' <<<"$output")" = true ] ||
        { jq '.[0].State.Health' <<<"$output"; return 1; }
    [ "$(jq '.[0].State.Health.FailingStreak' <<<"$output")" = 0 ]
    kiln compose down
}

@test "a probe whose command cannot be started (not in the image) is recorded with ExitCode -1 and why, as Docker records an exec that failed to start" {
    retag_with_config bb miss '.config.Healthcheck={"Test":["CMD","/no-such-probe","x"],"Interval":100000000,"Timeout":1000000000,"Retries":1}
        | .config.Cmd=["sh","-c","while true; do sleep 1; done"]'
    kiln run -d --name m miss
    wait_health m unhealthy
    run kiln inspect m
    [ "$(jq '.[0].State.Health.Log[-1].ExitCode' <<<"$output")" = -1 ] ||
        { jq '.[0].State.Health' <<<"$output"; return 1; }
    [[ "$(jq -r '.[0].State.Health.Log[-1].Output' <<<"$output")" == *no-such-probe* ]]
    # kiln health says why too
    run kiln health m
    [ "$status" -eq 1 ]
    [[ $output == *no-such-probe* ]]
}

@test "CMD-SHELL runs under the image's SHELL (Docker's getShell), CMD as it is" {
    retag_with_config bb sh '.config.Shell=["echo","via-shell"]
        | .config.Healthcheck={"Test":["CMD-SHELL","exit 3"],"Interval":100000000,"Timeout":1000000000,"Retries":1}
        | .config.Cmd=["sh","-c","while true; do sleep 1; done"]'
    retag_with_config bb cmd '.config.Shell=["echo","via-shell"]
        | .config.Healthcheck={"Test":["CMD","sh","-c","echo direct; exit 3"],"Interval":100000000,"Timeout":1000000000,"Retries":1}
        | .config.Cmd=["sh","-c","while true; do sleep 1; done"]'
    kiln run -d --name s sh
    kiln run -d --name c cmd
    wait_health s healthy
    wait_health c unhealthy
    [ "$(kiln inspect s | jq -r '.[0].State.Health.Log[-1].Output')" = "via-shell exit 3" ]
    run kiln inspect c
    [ "$(jq -r '.[0].State.Health.Log[-1].Output' <<<"$output")" = direct ]
    [ "$(jq '.[0].State.Health.Log[-1].ExitCode' <<<"$output")" = 3 ]
}

@test "run --health-cmd, --health-interval, --health-retries: docker run's health check, any non-zero exit a failure recorded as it is" {
    kiln run -d --name h --health-cmd 'echo hi; exit 4' --health-interval 100ms --health-retries 2 \
        bb sh -c 'while true; do sleep 1; done'
    wait_health h unhealthy
    run kiln inspect h
    [ "$(jq -cS '.[0].Config.Healthcheck' <<<"$output")" = '{"Interval":100000000,"Retries":2,"Test":["CMD-SHELL","echo hi; exit 4"]}' ]
    [ "$(jq '.[0].State.Health.Log[-1].ExitCode' <<<"$output")" = 4 ]
    [ "$(jq -r '.[0].State.Health.Log[-1].Output' <<<"$output")" = hi ]
    [ "$(jq '.[0].State.Health.FailingStreak >= 2' <<<"$output")" = true ]
}

@test "run --health-* without --health-cmd: the image's test with the options' timings, the rest the image's (Docker's merge)" {
    retag_with_config bb slowcheck '.config.Healthcheck={"Test":["CMD-SHELL","echo from-image"],"Interval":3600000000000,"Timeout":1000000000,"Retries":7}
        | .config.Cmd=["sh","-c","while true; do sleep 1; done"]'
    kiln run -d --name i --health-interval 100ms slowcheck
    wait_health i healthy
    run kiln inspect i
    [ "$(jq -cS '.[0].Config.Healthcheck' <<<"$output")" = '{"Interval":100000000,"Retries":7,"Test":["CMD-SHELL","echo from-image"],"Timeout":1000000000}' ]
    [ "$(jq -r '.[0].State.Health.Log[-1].Output' <<<"$output")" = from-image ]
}

@test "run --no-healthcheck: the image's HEALTHCHECK does not run (Test NONE, no State.Health); with a --health-* option it is refused" {
    retag_with_config bb checked '.config.Healthcheck={"Test":["CMD-SHELL","echo fine"],"Interval":100000000,"Retries":1}
        | .config.Cmd=["sh","-c","while true; do sleep 1; done"]'
    kiln run -d --name n --no-healthcheck checked
    sleep 0.5
    run kiln inspect n
    [ "$(jq -c '.[0].Config.Healthcheck.Test' <<<"$output")" = '["NONE"]' ]
    [ "$(jq '.[0].State | has("Health")' <<<"$output")" = false ]
    run kiln health n
    [ "$status" -ne 0 ]
    [[ $output == *"no HEALTHCHECK"* ]]
    run kiln run -d --name x --no-healthcheck --health-retries 1 checked
    [ "$status" -eq 125 ]
    [[ $output == *"--no-healthcheck conflicts with --health-* options"* ]]
    run kiln inspect x
    [ "$status" -ne 0 ]
    # as Docker's daemon: a duration under 1 ms is refused
    run kiln run -d --name x --health-interval 500us checked
    [ "$status" -eq 125 ]
    [[ $output == *"Interval in Healthcheck cannot be less than 1ms"* ]]
}

@test "a container that stops is unhealthy, its log kept (Docker's: its checks ended)" {
    retag_with_config bb good '.config.Healthcheck={"Test":["CMD-SHELL","echo fine"],"Interval":100000000,"Timeout":1000000000,"Retries":1}
        | .config.Cmd=["sh","-c","trap \"exit 0\" TERM; while true; do sleep 0.1; done"]'
    kiln run -d --name g good
    wait_health g healthy
    kiln stop g
    run kiln inspect g
    [ "$(jq -r '.[0].State.Status' <<<"$output")" = exited ]
    [ "$(jq -r '.[0].State.Health.Status' <<<"$output")" = unhealthy ] ||
        { jq '.[0].State' <<<"$output"; return 1; }
    [ "$(jq '.[0].State.Health.FailingStreak' <<<"$output")" = 0 ]
    [ "$(jq -r '.[0].State.Health.Log[-1].Output' <<<"$output")" = fine ]
}

@test "compose: a service's healthcheck without test runs the image's HEALTHCHECK with the service's timings (Docker's merge)" {
    retag_with_config bb checked '.config.Healthcheck={"Test":["CMD-SHELL","echo from-image"],"Interval":3600000000000,"Retries":4}'
    mkdir -p "$BATS_TEST_TMPDIR/proj"
    cd "$BATS_TEST_TMPDIR/proj"
    cat >compose.yaml <<'EOF2'
name: hm
services:
  svc:
    image: checked
    command: ["sleep", "1000"]
    healthcheck: {interval: 100ms}
    stop_grace_period: 1s
EOF2
    kiln compose up -d
    wait_health hm-svc-1 healthy
    run kiln inspect hm-svc-1
    [ "$(jq -cS '.[0].Config.Healthcheck' <<<"$output")" = '{"Interval":100000000,"Retries":4,"Test":["CMD-SHELL","echo from-image"]}' ]
    [ "$(jq -r '.[0].State.Health.Log[-1].Output' <<<"$output")" = from-image ]
    kiln compose down
}

@test "a test of CMD without a command is probed all the same, each run recorded with ExitCode -1 and why (Docker's)" {
    retag_with_config bb nocmd '.config.Healthcheck={"Test":["CMD"],"Interval":100000000,"Timeout":1000000000,"Retries":2}
        | .config.Cmd=["sh","-c","while true; do sleep 1; done"]'
    kiln run -d --name e nocmd
    wait_health e unhealthy
    run kiln inspect e
    [ "$(jq '.[0].State.Health.Log[-1].ExitCode' <<<"$output")" = -1 ] ||
        { jq '.[0].State.Health' <<<"$output"; return 1; }
    [[ "$(jq -r '.[0].State.Health.Log[-1].Output' <<<"$output")" == *"no command"* ]]
}

@test "a probe that runs into its timeout is killed, also as the image's user (not left running in the container)" {
    retag_with_config bb slowuser '.config.User="app"
        | .config.Healthcheck={"Test":["CMD","sleep","30"],"Interval":100000000,"Timeout":300000000,"Retries":3}
        | .config.Cmd=["sh","-c","while true; do sleep 1; done"]'
    kiln run -d --name su slowuser
    wait_health su unhealthy
    [ "$(kiln inspect su | jq -r '.[0].State.Health.Log[-1].Output')" = "Health check exceeded timeout (300ms)" ]
    # three probes timed out; at most the one running now is left
    run kiln exec su ps -o args
    [ "$(grep -c '^sleep 30' <<<"$output")" -le 1 ] || { echo "$output"; return 1; }
}
