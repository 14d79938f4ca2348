# Test registries for kiln's bats tests: Debian's docker-registry on 127.0.0.1
# at a free port, in four setups, plus a tampering proxy. Everything lives in
# $BATS_TEST_TMPDIR (or $REG_TMP) and is stopped by pid.
#
#   registry_start plain|tls|basic|token [--expired]
#       sets REG (host:port), REG_DIR; tls: REG_CERTS (a --cert-dir with the CA);
#       basic/token: REG_USER / REG_PASS are accepted.
#   tamper_start MODE      a tamper_proxy.py in front of $REG; sets PROXY (host:port)
#   registry_stop          stops all of the above
#
# The registry, token server and proxy pids are kept in $REG_DIR/pids.

REG_USER=kilnuser
REG_PASS='s3cret-pa55'
_REG_HELPERS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until port answers HTTP(S) (up to ~10 s).
_wait_port() {
    local port=$1 i
    for i in $(seq 100); do
        if python3 - "$port" <<'PY' 2>/dev/null; then return 0; fi
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2)
PY
        sleep 0.1
    done
    echo "port $port never opened" >&2
    return 1
}

_wait_file() {
    local i
    for i in $(seq 100); do
        [ -s "$1" ] && return 0
        sleep 0.1
    done
    echo "$1 never appeared" >&2
    return 1
}

_make_ca() {
    local d=$1
    mkdir -p "$d/certs"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kiln test CA" \
        -keyout "$d/ca.key" -out "$d/certs/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
    openssl x509 -req -in "$d/server.csr" -CA "$d/certs/ca.crt" -CAkey "$d/ca.key" \
        -CAcreateserial -days 2 -extfile "$d/ext.cnf" -out "$d/server.crt" 2>/dev/null
}

registry_start() {
    local mode=$1 extra=${2:-}
    REG_DIR=$(mktemp -d "${REG_TMP:-$BATS_TEST_TMPDIR}/registry.$mode.XXXXXX")
    mkdir -p "$REG_DIR/data"
    : >"$REG_DIR/pids"
    local port
    port=$(_free_port)
    REG="127.0.0.1:$port"
    {
        echo "version: 0.1"
        echo "log: {level: error, accesslog: {disabled: true}}"
        echo "storage: {filesystem: {rootdirectory: $REG_DIR/data}, delete: {enabled: true}}"
        echo "http:"
        echo "  addr: 127.0.0.1:$port"
        echo "  secret: kiln-test-secret"
    } >"$REG_DIR/config.yml"
    case "$mode" in
    plain) ;;
    tls)
        _make_ca "$REG_DIR/tls"
        REG_CERTS="$REG_DIR/tls/certs"
        echo "  tls: {certificate: $REG_DIR/tls/server.crt, key: $REG_DIR/tls/server.key}" >>"$REG_DIR/config.yml"
        ;;
    basic)
        htpasswd -Bbn "$REG_USER" "$REG_PASS" >"$REG_DIR/htpasswd" 2>/dev/null
        echo "auth: {htpasswd: {realm: kiln-test, path: $REG_DIR/htpasswd}}" >>"$REG_DIR/config.yml"
        ;;
    token)
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kiln test token signer" \
            -keyout "$REG_DIR/token.key" -out "$REG_DIR/token.crt" 2>/dev/null
        echo "$REG_USER:$REG_PASS" >"$REG_DIR/users"
        python3 "$_REG_HELPERS/token_server.py" "$REG_DIR/token.port" "$REG_DIR/token.key" \
            "$REG_DIR/token.crt" "$REG_DIR/users" kiln-test-registry kiln-test-issuer $extra \
            >"$REG_DIR/token.log" 2>&1 &
        echo $! >>"$REG_DIR/pids"
        _wait_file "$REG_DIR/token.port" || return 1
        TOKEN_PORT=$(cat "$REG_DIR/token.port")
        {
            echo "auth:"
            echo "  token: {realm: 'http://127.0.0.1:$TOKEN_PORT/token', service: kiln-test-registry,"
            echo "          issuer: kiln-test-issuer, rootcertbundle: $REG_DIR/token.crt}"
        } >>"$REG_DIR/config.yml"
        ;;
    *)
        echo "registry_start: unknown mode $mode" >&2
        return 1
        ;;
    esac
    docker-registry serve "$REG_DIR/config.yml" >"$REG_DIR/registry.log" 2>&1 &
    echo $! >>"$REG_DIR/pids"
    _wait_port "$port"
}

tamper_start() {
    local mode=$1
    rm -f "$REG_DIR/proxy.port"
    python3 "$_REG_HELPERS/tamper_proxy.py" "$REG_DIR/proxy.port" "${REG##*:}" "$mode" \
        "$REG_DIR/proxy.log" >"$REG_DIR/proxy.err" 2>&1 &
    echo $! >>"$REG_DIR/pids"
    _wait_file "$REG_DIR/proxy.port" || return 1
    PROXY="127.0.0.1:$(cat "$REG_DIR/proxy.port")"
}

registry_stop() {
    [ -n "${REG_DIR:-}" ] && [ -f "$REG_DIR/pids" ] || return 0
    local pid
    while read -r pid; do
        kill "$pid" 2>/dev/null || true
    done <"$REG_DIR/pids"
    while read -r pid; do
        wait "$pid" 2>/dev/null || true
    done <"$REG_DIR/pids"
    : >"$REG_DIR/pids"
}

# skopeo flags for the current registry setup.
skopeo_tls() {
    case "${REG_CERTS:-}" in
    "") echo "--tls-verify=false" ;;
    *) echo "--cert-dir=$REG_CERTS" ;;
    esac
}
