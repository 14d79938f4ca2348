#!/usr/bin/env bats
# The data environment as a stack (dataenv/compose.yaml): `make ml-up` brings up
# api, jupyter and prometheus in one kiln pod and returns when all are healthy;
# then each is met as a user meets it (the API and its /docs page in Chromium,
# Jupyter with and without its token, Prometheus scraping the API), `make ml-down`
# leaves nothing behind, and Debian's podman-compose brings the same file's
# services up on the same ports. Only 127.0.0.1 ports are reached (podman's
# inside a namespace kiln made: see podman_compose.bash).

load helpers
load dataenv_images
load chromium
load podman_compose
load run_lib
load ../registry/registry

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

setup_file() {
    export KILN_ROOT="$BATS_FILE_TMPDIR/store"
    dataenv_image prod
    dataenv_image dev
    dataenv_image prometheus
    API_PORT=$(_free_port)
    JUPYTER_PORT=$(_free_port)
    PROMETHEUS_PORT=$(_free_port)
    # make ml-up writes the token when the file is missing
    JUPYTER_TOKEN_FILE="$BATS_FILE_TMPDIR/secrets/jupyter_token"
    export API_PORT JUPYTER_PORT PROMETHEUS_PORT JUPYTER_TOKEN_FILE
}

teardown_file() {
    "$KILN" compose -f "$ROOT/dataenv/compose.yaml" down -v >/dev/null 2>&1 || true
}

setup() {
    export KILN_ROOT="$BATS_FILE_TMPDIR/store"
}

# kiln compose up is written on its own branch: until it is in this kiln, the
# kiln half of this file is skipped, saying so.
need_compose_up() {
    "$KILN" help compose 2>&1 | grep -qE '^ +up( |$)' || skip "kiln compose up is not in this kiln yet"
}

need_stack() {
    need_compose_up
    [ -e "$BATS_FILE_TMPDIR/up" ] || skip "make ml-up did not succeed"
}

ml() {
    make -s -C "$ROOT" --no-print-directory BUILD="${KILN_TEST_BUILD:-$ROOT/build}" KILN_BIN="$KILN" "$@"
}

# every pid the store's containers and pods recorded (processes, supervisors,
# namespace holders, slirp4netns)
store_pids() {
    cat "$KILN_ROOT"/containers/*/state.json "$KILN_ROOT"/pods/*/state.json 2>/dev/null |
        jq -r '[.Pid, .Supervisor, .NetHolder, .NetHelper][] | select(. != null and . > 0)' | sort -u
}

listening() {
    ss -Htln "sport = :$1" | grep -q .
}

@test "make ml-up: returns with every service healthy and prints the URLs" {
    need_compose_up
    [ ! -e "$JUPYTER_TOKEN_FILE" ]
    run timeout 300 env -u SOURCE_DATE_EPOCH make -s -C "$ROOT" --no-print-directory \
        BUILD="${KILN_TEST_BUILD:-$ROOT/build}" KILN_BIN="$KILN" ml-up
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"wrote a new Jupyter token to $JUPYTER_TOKEN_FILE"* ]]
    [ "$(stat -c %a "$JUPYTER_TOKEN_FILE")" = 600 ]
    [[ $output == *"API:        http://127.0.0.1:$API_PORT/docs"* ]]
    [[ $output == *"Jupyter:    http://127.0.0.1:$JUPYTER_PORT/?token=$(cat "$JUPYTER_TOKEN_FILE")"* ]]
    [[ $output == *"Prometheus: http://127.0.0.1:$PROMETHEUS_PORT/targets"* ]]
    # healthy when it returned: no waiting here
    run "$KILN" ps
    echo "$output"
    [ "$(grep -c '(healthy)' <<<"$output")" -eq 3 ]
    run curl -fsS "http://127.0.0.1:$API_PORT/health"
    [ "$status" -eq 0 ]
    [ "$(jq -r .status <<<"$output")" = ok ]
    store_pids >"$BATS_FILE_TMPDIR/pids"
    [ -s "$BATS_FILE_TMPDIR/pids" ]
    touch "$BATS_FILE_TMPDIR/up"
    # ml-ps lists the three services
    run ml ml-ps
    echo "$output"
    [ "$status" -eq 0 ]
    for s in api jupyter prometheus; do [[ $output == *"dataenv-$s-1"* ]]; done
}

@test "jupyter: answers with its token, refuses without it; the token is on no command line" {
    need_stack
    token=$(cat "$JUPYTER_TOKEN_FILE")
    [ ${#token} -eq 48 ]
    run curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$JUPYTER_PORT/api/contents?token=$token"
    [ "$output" = 200 ]
    run curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: token $token" "http://127.0.0.1:$JUPYTER_PORT/api/contents"
    [ "$output" = 200 ]
    run curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$JUPYTER_PORT/api/contents"
    [ "$output" = 403 ]
    run curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$JUPYTER_PORT/api/contents?token=wrong$token"
    [ "$output" = 403 ]
    run curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$JUPYTER_PORT/tree"
    [[ $output == "302 http://127.0.0.1:$JUPYTER_PORT/login"* ]]
    # every process's command line and environment in the container
    run "$KILN" compose -f "$ROOT/dataenv/compose.yaml" exec jupyter sh -c \
        'for p in /proc/[0-9]*; do tr "\0" " " < $p/cmdline; echo; tr "\0" "\n" < $p/environ; done 2>/dev/null'
    [ "$status" -eq 0 ]
    [[ $output == *jupyter-notebook* ]]
    [[ $output != *"$token"* ]]
    # the secret: at its path, the notebook user's, mode 0400
    run "$KILN" compose -f "$ROOT/dataenv/compose.yaml" exec jupyter stat -c '%a %u' /run/secrets/jupyter_token
    [ "$output" = "400 1000" ]
}

@test "prometheus: the api target is up and the request counter has samples" {
    need_stack
    for i in 1 2 3; do curl -fsS -o /dev/null "http://127.0.0.1:$API_PORT/sales/summary?by=region"; done
    local q='sum(http_requests_total{route="/sales/summary",status="200"})' up="" val=""
    # scraped every 5 s: up to ~30 s for a scrape after the requests
    for i in $(seq 60); do
        up=$(curl -fsS "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/targets" |
            jq -r '.data.activeTargets[] | select(.labels.job == "dataenv-api") | .health')
        val=$(curl -fsS -G "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/query" --data-urlencode "query=$q" |
            jq -r '.data.result[0].value[1] // empty')
        [ "$up" = up ] && [ -n "$val" ] && [ "$val" -ge 3 ] && break
        sleep 0.5
    done
    echo "# target: $up, $q = $val" >&3
    [ "$up" = up ]
    [ -n "$val" ] && [ "$val" -ge 3 ]
    # its data is in the project's named volume; the server runs as its own user
    [ -d "$KILN_ROOT/volumes/dataenv_prometheus-data/wal" ]
    run "$KILN" compose -f "$ROOT/dataenv/compose.yaml" exec prometheus sh -c \
        'for p in /proc/[0-9]*; do [ "$(cat $p/comm)" = prometheus ] && stat -c "%U %u" $p; done'
    [ "$output" = "prometheus 100" ]
}

@test "api: Chromium renders /docs with the operation list" {
    need_stack
    command -v chromium >/dev/null || skip "chromium missing (make deps)"
    run chromium_dom "http://127.0.0.1:$API_PORT/docs"
    [ "$status" -eq 0 ]
    docs_operations_rendered "$output"
    shots=$(screenshot_dir)
    chromium_screenshot "http://127.0.0.1:$API_PORT/docs" "$shots/stack-docs.png"
    echo "# screenshot: $shots/stack-docs.png" >&3
}

@test "make ml-down: no container, process, mount or listening port left" {
    need_stack
    run ml ml-down
    echo "$output"
    [ "$status" -eq 0 ]
    run "$KILN" ps -a -q
    [ -z "$output" ]
    run "$KILN" pod ps -q
    [ -z "$output" ] || [[ $output != *dataenv* ]]
    local pid st
    while read -r pid; do
        # gone, or a zombie waiting for this machine's init to reap it (its
        # resources are freed; ps shows it <defunct>)
        st=$(sed -E 's/^.*\) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
        if [ -n "$st" ] && [ "$st" != Z ]; then
            echo "pid $pid ($(tr '\0' ' ' </proc/$pid/cmdline 2>/dev/null), state $st) still runs"
            return 1
        fi
        [ -z "$st" ] || echo "# pid $pid: a zombie (parent $(awk '/^PPid:/ { print $2 }' /proc/$pid/status))" >&3
    done <"$BATS_FILE_TMPDIR/pids"
    run grep -F "$KILN_ROOT" /proc/self/mountinfo
    [ "$status" -ne 0 ]
    for p in "$API_PORT" "$JUPYTER_PORT" "$PROMETHEUS_PORT"; do
        if listening "$p"; then
            echo "port $p still listens"
            return 1
        fi
    done
    run curl -sS -m 2 "http://127.0.0.1:$API_PORT/health"
    [ "$status" -ne 0 ]
}

@test "podman-compose: the same file's services answer on the same ports (api, prometheus)" {
    command -v podman-compose >/dev/null || skip "podman-compose missing (make deps-test)"
    command -v skopeo >/dev/null || skip "skopeo missing"
    podman_usable || skip "podman cannot run containers here"
    pc_setup "$BATS_FILE_TMPDIR/podman" dataenv:latest-prod
    pc_copy_image dataenv:latest-prod
    pc_copy_image dataenv-prometheus:latest
    # podman-compose bind-mounts secret files as they are (no uid/mode): a readable copy
    mkdir -p "$BATS_FILE_TMPDIR/pc"
    JUPYTER_TOKEN_FILE="$BATS_FILE_TMPDIR/pc/token"
    echo 0123456789abcdef >"$JUPYTER_TOKEN_FILE"
    local f="$ROOT/dataenv/compose.yaml" proj=kilnpc$$
    run pc_compose -f "$f" -p "$proj" up -d api prometheus
    echo "$output"
    [ "$status" -eq 0 ]
    run pc_wait_healthy 120 "${proj}_api_1" "${proj}_prometheus_1"
    r1=$status
    run pc_in curl -fsS -m 5 "http://127.0.0.1:$API_PORT/health"
    r2=$status
    api=$output
    run pc_in curl -fsS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
    r3=$status
    ready=$output
    pc_teardown "$proj" "$f"
    [ "$r1" -eq 0 ]
    [ "$r2" -eq 0 ] && [ "$(jq -r .status <<<"$api")" = ok ]
    [ "$r3" -eq 0 ] && [ "$ready" = 200 ]
    # nothing of podman's on the host's own ports
    if listening "$API_PORT"; then return 1; fi
    # kiln, with the same file and ports (the stack above ran on them)
    need_compose_up
    run "$KILN" compose -f "$f" -p "$proj" up -d --wait api prometheus
    echo "$output"
    [ "$status" -eq 0 ]
    run curl -fsS -m 5 "http://127.0.0.1:$API_PORT/health"
    k1=$status
    kapi=$output
    run curl -fsS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
    k2=$status
    kready=$output
    "$KILN" compose -f "$f" -p "$proj" down -v
    [ "$k1" -eq 0 ] && [ "$(jq -r .status <<<"$kapi")" = ok ]
    [ "$k2" -eq 0 ] && [ "$kready" = 200 ]
}
