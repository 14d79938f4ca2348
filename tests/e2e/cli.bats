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
