#!/usr/bin/env bats
# Registry authentication and TLS: htpasswd basic auth, token auth with the
# tests' token server, a TLS registry with a test CA; login/logout and the
# credentials file; credentials never follow a redirect to another host.
load helpers
load ../registry/common

setup() {
    setup_store
    export HOME="$BATS_TEST_TMPDIR/home"
    mkdir -p "$HOME"
    python3 "$MAKE_LAYOUT" "$BATS_TEST_TMPDIR/layout" v1 >/dev/null
}

teardown() {
    registry_stop
}

login() {
    echo "$REG_PASS" | kiln login -u "$REG_USER" --password-stdin "${1:-$REG}"
}

seed_image() { # skopeo pushes the test image as img:v1
    skopeo copy -q --dest-tls-verify=false --dest-creds="$REG_USER:$REG_PASS" \
        "oci:$BATS_TEST_TMPDIR/layout:v1" "docker://$REG/img:v1"
}

@test "basic auth: login checks the password, stores it 0600, pull and push work, logout" {
    registry_start basic
    seed_image
    run kiln pull -q "$REG/img:v1"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"requires authentication"*"kiln login $REG"* ]]
    run sh -c "echo wrong | '$KILN' login -u '$REG_USER' --password-stdin '$REG'"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"wrong username or password"* ]]
    [ ! -e "$HOME/.docker/config.json" ]
    run login
    [ "$status" -eq 0 ]
    [ "$output" = "Login Succeeded" ]
    [ "$(stat -c %a "$HOME/.docker/config.json")" = 600 ]
    ! grep -q "$REG_PASS" "$HOME/.docker/config.json"
    run kiln pull "$REG/img:v1"
    [ "$status" -eq 0 ]
    [[ "$output" != *"$REG_PASS"* ]]
    run kiln push -q "$REG/img:v1" "$REG/other:v1"
    [ "$status" -eq 0 ]
    [ "$(skopeo_digest --creds "$REG_USER:$REG_PASS" "docker://$REG/other:v1")" = "$output" ]
    run kiln logout "$REG"
    [ "$status" -eq 0 ]
    ! grep -q "$REG" "$HOME/.docker/config.json"
    run kiln logout "$REG"
    [ "$status" -ne 0 ]
}

@test "basic auth: credentials written by skopeo/docker (config.json auths) are used" {
    registry_start basic
    seed_image
    mkdir -p "$HOME/.docker"
    printf '{"auths":{"%s":{"auth":"%s"}}}' "$REG" "$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64)" \
        >"$BATS_TEST_TMPDIR/auth.json"
    run kiln pull -q --authfile "$BATS_TEST_TMPDIR/auth.json" "$REG/img:v1"
    [ "$status" -eq 0 ]
    DOCKER_CONFIG="$BATS_TEST_TMPDIR/dc" run kiln pull -q "$REG/img:v1"
    [ "$status" -ne 0 ]
    mkdir -p "$BATS_TEST_TMPDIR/dc" && cp "$BATS_TEST_TMPDIR/auth.json" "$BATS_TEST_TMPDIR/dc/config.json"
    DOCKER_CONFIG="$BATS_TEST_TMPDIR/dc" run kiln pull -q "$REG/img:v1"
    [ "$status" -eq 0 ]
}

# The tests' fake credential helper (docker-credential-kilntest) on PATH,
# keeping its entries in $KILNTEST_CREDS.
use_fake_helper() {
    export PATH="$BATS_TEST_DIRNAME/../registry:$PATH"
    export KILNTEST_CREDS="$BATS_TEST_TMPDIR/helper-creds.json"
    mkdir -p "$HOME/.docker"
}

@test "credsStore: login stores through the helper, pull and push use it, logout erases" {
    registry_start basic
    seed_image
    use_fake_helper
    echo '{"credsStore": "kilntest"}' >"$HOME/.docker/config.json"
    run login
    [ "$status" -eq 0 ]
    [ "$output" = "Login Succeeded" ]
    # The secret is in the helper, not in config.json.
    ! grep -q "$REG_PASS" "$HOME/.docker/config.json"
    ! grep -q "$REG" "$HOME/.docker/config.json"
    [ "$(jq -r --arg r "$REG" '.[$r][1]' "$KILNTEST_CREDS")" = "$REG_PASS" ]
    grep -qx "store $REG" "$KILNTEST_CREDS.log"
    run kiln pull -q "$REG/img:v1"
    [ "$status" -eq 0 ]
    grep -qx "get $REG" "$KILNTEST_CREDS.log"
    run kiln push -q "$REG/img:v1" "$REG/via-helper:v1"
    [ "$status" -eq 0 ]
    [ "$(skopeo_digest --creds "$REG_USER:$REG_PASS" "docker://$REG/via-helper:v1")" = "$output" ]
    run kiln logout "$REG"
    [ "$status" -eq 0 ]
    grep -qx "erase $REG" "$KILNTEST_CREDS.log"
    [ "$(jq -r --arg r "$REG" 'has($r)' "$KILNTEST_CREDS")" = false ]
    run kiln pull -q "$REG/img:v1"
    [ "$status" -ne 0 ]
    [[ "$output" == *"requires authentication"* ]]
    run kiln logout "$REG"
    [ "$status" -ne 0 ]
    [[ "$output" == *"not logged in to $REG"* ]]
}

@test "credHelpers: a registry's helper wins over credsStore and auths; helper failures are one line" {
    registry_start basic
    seed_image
    use_fake_helper
    printf '{"%s": ["%s", "%s"]}' "$REG" "$REG_USER" "$REG_PASS" >"$KILNTEST_CREDS"
    wrong=$(printf '%s:wrong' "$REG_USER" | base64)
    printf '{"auths": {"%s": {"auth": "%s"}}, "credsStore": "nosuchhelper", "credHelpers": {"%s": "kilntest"}}' \
        "$REG" "$wrong" "$REG" >"$HOME/.docker/config.json"
    run kiln pull -q "$REG/img:v1"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    # A helper that is not installed, and one that fails: one line each, naming it.
    printf '{"credsStore": "nosuchhelper"}' >"$HOME/.docker/config.json"
    run kiln pull -q "$REG/img:v1"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"docker-credential-nosuchhelper is not on PATH"* ]]
    printf '{"credsStore": "kilntest"}' >"$HOME/.docker/config.json"
    KILNTEST_CREDS_FAIL=1 run kiln pull -q "$REG/img:v1"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"docker-credential-kilntest get $REG failed: kilntest: the keychain is locked"* ]]
    [[ "$output" != *"$REG_PASS"* ]]
}

@test "credentials are never sent to another host on a redirect" {
    registry_start basic
    seed_image
    TAMPER_UPSTREAM_AUTH="$REG_USER:$REG_PASS" tamper_start redirect-blobs
    login "$PROXY"
    run kiln pull -q "$PROXY/img:v1"
    [ "$status" -eq 0 ]
    # To the registry's own host: with credentials; to the redirect target: never.
    grep -q "host=$PROXY auth=yes" "$REG_DIR/proxy.log"
    grep -q "host=127.0.0.2" "$REG_DIR/proxy.log"
    ! grep "host=127.0.0.2" "$REG_DIR/proxy.log" | grep -q "auth=yes"
}

@test "token auth: anonymous pull, login, push and pull with bearer tokens" {
    registry_start token
    seed_image
    run kiln pull -q "$REG/img:v1"
    [ "$status" -eq 0 ]
    run kiln push -q "$REG/img:v1" "$REG/mine:v1"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    run sh -c "echo wrong | '$KILN' login -u '$REG_USER' --password-stdin '$REG'"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"wrong username or password"* ]]
    login
    run kiln push -q "$REG/img:v1" "$REG/mine:v1"
    [ "$status" -eq 0 ]
    [ "$(skopeo_digest --creds "$REG_USER:$REG_PASS" "docker://$REG/mine:v1")" = "$output" ]
    rm -rf "$KILN_ROOT"
    run kiln pull -q "$REG/mine:v1"
    [ "$status" -eq 0 ]
}

# Token requests kiln made for SCOPE since the token log had $1 lines.
tokens_for() { # SINCE SCOPE
    tail -n +$(($1 + 1)) "$REG_DIR/token.log" | grep -c "^token .* scope=$2\$" || true
}

@test "token auth: one token per scope for a whole pull and a whole push" {
    registry_start token
    seed_image
    login
    n=$(wc -l <"$REG_DIR/token.log")
    run kiln pull -q "$REG/img:v1"
    [ "$status" -eq 0 ]
    # manifest, config and two layers: four requests, one token
    [ "$(tokens_for "$n" "repository:img:pull")" -eq 1 ]
    n=$(wc -l <"$REG_DIR/token.log")
    run kiln push -q "$REG/img:v1" "$REG/mine:v1"
    [ "$status" -eq 0 ]
    # three workers' HEADs and mounts, then the manifest: one token per scope
    [ "$(tokens_for "$n" "repository:mine:pull,push")" -eq 1 ]
    [ "$(tokens_for "$n" "repository:mine:pull,push repository:img:pull")" -eq 1 ]
}

@test "bearer tokens are never sent to another host on a redirect" {
    registry_start token
    seed_image
    TAMPER_UPSTREAM_AUTH="$REG_USER:$REG_PASS" tamper_start redirect-blobs
    login "$PROXY"
    run kiln pull -q "$PROXY/img:v1"
    [ "$status" -eq 0 ]
    grep -q "GET /v2/img/manifests/v1 host=$PROXY auth=yes" "$REG_DIR/proxy.log"
    grep -q "host=127.0.0.2" "$REG_DIR/proxy.log"
    ! grep "host=127.0.0.2" "$REG_DIR/proxy.log" | grep -q "auth=yes"
}

@test "token auth: an expired token is one clear line, non-zero" {
    registry_start token --expired
    run login
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"refused the access token"* ]]
    run kiln pull -q "$REG/img:v1"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
}

@test "TLS: verified by default, --cert-dir trusts a CA, --tls-verify=false skips checks" {
    registry_start tls
    skopeo copy -q --dest-cert-dir="$REG_CERTS" "oci:$BATS_TEST_TMPDIR/layout:v1" "docker://$REG/img:v1"
    run kiln pull -q "$REG/img:v1"
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"not trusted"*"--cert-dir"* ]]
    run kiln pull -q --cert-dir "$REG_CERTS" "$REG/img:v1"
    [ "$status" -eq 0 ]
    run kiln push -q --cert-dir "$REG_CERTS" "$REG/img:v1" "$REG/copy:v1"
    [ "$status" -eq 0 ]
    [ "$(skopeo inspect --cert-dir "$REG_CERTS" "docker://$REG/copy:v1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')" = "$output" ]
    run kiln pull -q --tls-verify=false "$REG/copy:v1"
    [ "$status" -eq 0 ]
}

@test "login/logout usage errors" {
    run kiln login
    [ "$status" -eq 2 ]
    run sh -c "'$KILN' login --password-stdin 127.0.0.1:1 </dev/null"
    [ "$status" -eq 2 ]
    run kiln logout
    [ "$status" -eq 2 ]
    run kiln pull
    [ "$status" -eq 2 ]
    run kiln push
    [ "$status" -eq 2 ]
}
