#!/usr/bin/env bats
# The CLI shell: help, version, usage errors and exit codes.
load helpers

@test "kiln --version prints the version" {
    run kiln --version
    [ "$status" -eq 0 ]
    [[ "$output" == "kiln version "* ]]
}

@test "kiln help lists commands and kiln help CMD prints usage" {
    run kiln help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Commands:"* ]]
    run kiln help version
    [ "$status" -eq 0 ]
    [[ "$output" == "Usage: kiln version"* ]]
}

@test "an unknown command is a usage error (exit 2)" {
    run kiln frobnicate
    [ "$status" -eq 2 ]
    [[ "$output" == *'unknown command "frobnicate"'* ]]
}

@test "no command prints usage and exits 2" {
    run kiln
    [ "$status" -eq 2 ]
}

@test "every command's help comes from its option table, and -h equals kiln help" {
    # Every command in the overview answers -h with its usage line and -h itself
    # (compose and kube keep their own help until they declare tables).
    for cmd in $(kiln help | awk '/^Commands:/{on=1; next} /^$/{on=0} on{print $1}'); do
        run kiln "$cmd" -h
        [ "$status" -eq 0 ] || { echo "$cmd -h: $status"; false; }
        [[ "$output" == "Usage: kiln $cmd"* ]] || { echo "$cmd: $output"; false; }
        case $cmd in compose | kube) continue ;; esac
        [[ "$output" == *"  -h, --help"* ]] || { echo "$cmd: no -h line"; false; }
        [ "$output" = "$(kiln help "$cmd")" ] || { echo "$cmd: -h differs from kiln help"; false; }
    done
    run kiln help stop
    [[ "$output" == *"  -t, --time SECONDS  grace period before SIGKILL (10)"* ]]
    run kiln help pod
    [[ "$output" == *"Commands:"*"  create  "*"  rm  "*"  ps  "* ]]
    run kiln help pod create
    [ "$status" -eq 0 ]
    [[ "$output" == "Usage: kiln pod create [OPTIONS]"*"-p, --publish"* ]]
    run kiln help scan db import
    [[ "$output" == "Usage: kiln scan db import [OPTIONS] FILE|DIR..."* ]]
}

@test "option errors: one line naming the option, the help hint, exit 2" {
    run kiln stop -t soon c1
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = 'kiln stop: option -t wants an integer, not "soon"' ]
    [ "${lines[1]}" = "Run 'kiln help stop' for usage." ]
    run kiln images --bogus
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "kiln images: unknown option --bogus" ]
    run kiln history
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "kiln history: missing IMAGE" ]
    run kiln tag a b c
    [ "$status" -eq 2 ]
    [[ "${lines[0]}" == "kiln tag: takes at most 2 arguments"* ]]
    run kiln build --pull=sometimes .
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "kiln build: --pull: sometimes: use always, missing or never" ]
    run kiln pull --tls-verify=maybe x
    [ "$status" -eq 2 ]
    [[ "${lines[0]}" == *'--tls-verify: give true or false, not "maybe"' ]]
    run kiln pod create --name
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "kiln pod create: option --name needs NAME" ]
}

@test "options may follow operands, except after run's and exec's image or container" {
    setup_store
    run kiln images --format=json
    [ "$status" -eq 0 ]
    run kiln history no-such-image --format bogus
    [ "$status" -eq 2 ]
    [[ "${lines[0]}" == *'--format must be table or json, not "bogus"' ]]
    # After IMAGE, -q belongs to the command: run fails on the image, not on -q.
    run kiln run no-such-image -q
    [ "$status" -eq 125 ]
    [[ "$output" != *"unknown option"* ]]
}
