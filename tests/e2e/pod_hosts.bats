#!/usr/bin/env bats
# A pod's /etc/hosts (KILN_ROOT/pods/NAME/hosts, bound into each member): a
# line per container that joined, gone again with the container. Busybox
# fixture; nothing leaves the pod.

load helpers
load run_lib

setup_file() {
    run_fixture_file
}

setup() {
    run_fixture_store
}

teardown() {
    remove_containers
    remove_pods
}

@test "pod: a removed container's line leaves the pod's /etc/hosts (rm, rm -f, run --rm), as seen by a member still running; a new one of the same name is there once" {
    kiln pod create --name hp >/dev/null
    kiln run -d --pod hp --name stay bb sh -c 'while true; do sleep 1; done'
    kiln run -d --pod hp --name gone bb sh -c 'while true; do sleep 1; done'
    kiln run -d --pod hp --name gone2 bb true
    kiln run --rm --pod hp --name once bb true
    run kiln exec stay cat /etc/hosts
    [[ "$output" == *$'127.0.0.1\tstay '* && "$output" == *$'127.0.0.1\tgone '* ]]
    [[ "$output" == *$'127.0.0.1\tgone2 '* ]]
    [[ "$output" != *$'\tonce '* ]]
    kiln rm -f gone
    local i
    for i in $(seq 100); do
        [ "$(kiln inspect gone2 | jq -r '.[0].State.Status')" = exited ] && break
        sleep 0.1
    done
    kiln rm gone2
    run kiln exec stay cat /etc/hosts
    [[ "$output" == *$'127.0.0.1\tstay '* && "$output" == *localhost* ]]
    [[ "$output" != *gone* ]]
    # the name again: one line, not two
    kiln run -d --pod hp --name gone bb sh -c 'while true; do sleep 1; done'
    run kiln exec stay cat /etc/hosts
    [ "$(printf '%s\n' "$output" | grep -c $'\tgone ')" -eq 1 ]
    kiln rm -f gone stay
    # what pod create wrote: localhost's two lines
    [ "$(grep -cv localhost "$KILN_ROOT/pods/hp/hosts")" -eq 0 ]
}
