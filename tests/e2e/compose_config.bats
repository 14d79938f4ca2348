#!/usr/bin/env bats
# kiln compose config: compose files read into the spec's normal form, merged
# (-f repeated), interpolated (.env, --env-file, the environment), profiles,
# and every bad input refused with file:line:column before anything runs.
# Checks read the JSON form with jq; the YAML form is read back by Python's
# yaml module and must be the same model.

load helpers

setup() {
    setup_store
    P=$BATS_TEST_TMPDIR/proj
    mkdir -p "$P"
    cd "$P"
}

cfg() {
    run kiln compose "$@" config --format json
    [ "$status" -eq 0 ] || {
        echo "status $status: $output"
        return 1
    }
    json=$output
}

jqr() { jq -r "$1" <<<"$json"; }

@test "compose config: every service key in its long syntax" {
    mkdir -p data && echo 's3cret' >token.txt && echo 'k=v' >app.conf
    printf 'FROM_FILE=1\nSHARED=file\n' >svc.env
    cat >compose.yaml <<'EOF'
name: Demo_Stack
services:
  api:
    image: dataenv:latest-prod
    command: uvicorn app.main:app --host "0.0.0.0"
    entrypoint: ["python3", "-m"]
    environment:
      - A=1
      - SHARED=env
      - FROM_HOST
    env_file: svc.env
    ports:
      - "127.0.0.1:8000:8000"
      - 9000
      - "7000-7001:7100-7101/udp"
      - target: 8443
        published: 443
        host_ip: 127.0.0.1
    expose: [8000, "9100"]
    volumes:
      - ./data:/data:ro
      - cache:/cache
      - /anon
      - type: tmpfs
        target: /scratch
    user: "10001:10001"
    working_dir: /app
    healthcheck:
      test: curl -f http://127.0.0.1:8000/health
      interval: 90s
      timeout: 3s
      retries: 3
      start_period: 500ms
    depends_on:
      db:
        condition: service_healthy
    restart: on-failure:3
    secrets: [token]
    configs:
      - source: appconf
        target: /etc/app.conf
        mode: 0440
    labels: {tier: api, replicas: 2}
    stop_signal: SIGINT
    stop_grace_period: 1m30s
    read_only: true
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    init: true
    mem_limit: 512m
    cpus: 1.5
  db:
    build:
      context: ./db
      args: [VERSION=15, EMPTY]
      target: prod
      platforms: [linux/amd64, linux/arm64]
    network_mode: host
    restart: unless-stopped
volumes:
  cache:
secrets:
  token:
    file: ./token.txt
configs:
  appconf:
    file: ./app.conf
EOF
    FROM_HOST=host-value cfg
    [ "$(jqr .name)" = demo_stack ]
    [ "$(jqr '.services.api.command | join("|")')" = "uvicorn|app.main:app|--host|0.0.0.0" ]
    [ "$(jqr '.services.api.entrypoint | join("|")')" = "python3|-m" ]
    [ "$(jqr '.services.api.environment | to_entries | map("\(.key)=\(.value)") | join(",")')" = \
        "A=1,FROM_FILE=1,FROM_HOST=null,SHARED=env" ]
    [ "$(jqr '.services.api.ports | length')" = 5 ]
    [ "$(jqr '.services.api.ports[0] | "\(.host_ip) \(.published) \(.target) \(.protocol) \(.mode)"')" = \
        "127.0.0.1 8000 8000 tcp ingress" ]
    [ "$(jqr '.services.api.ports[1] | "\(.published) \(.target)"')" = "null 9000" ]
    [ "$(jqr '.services.api.ports[2,3] | "\(.published):\(.target)/\(.protocol)"' | paste -sd,)" = \
        "7000:7100/udp,7001:7101/udp" ]
    [ "$(jqr '.services.api.ports[4] | "\(.host_ip) \(.published) \(.target)"')" = "127.0.0.1 443 8443" ]
    [ "$(jqr '.services.api.expose | join(",")')" = "8000,9100" ]
    [ "$(jqr '.services.api.volumes[0] | "\(.type) \(.source) \(.target) \(.read_only)"')" = \
        "bind $P/data /data true" ]
    [ "$(jqr '.services.api.volumes[1] | "\(.type) \(.source) \(.target)"')" = "volume cache /cache" ]
    [ "$(jqr '.services.api.volumes[2] | "\(.type) \(.source) \(.target)"')" = "volume null /anon" ]
    [ "$(jqr '.services.api.volumes[3] | "\(.type) \(.target)"')" = "tmpfs /scratch" ]
    [ "$(jqr .services.api.user)" = 10001:10001 ]
    [ "$(jqr '.services.api.healthcheck.test | join("|")')" = "CMD-SHELL|curl -f http://127.0.0.1:8000/health" ]
    [ "$(jqr '.services.api.healthcheck | "\(.interval) \(.timeout) \(.retries) \(.start_period)"')" = \
        "1m30s 3s 3 500ms" ]
    [ "$(jqr '.services.api.depends_on.db | "\(.condition) \(.required)"')" = "service_healthy true" ]
    [ "$(jqr .services.api.restart)" = on-failure:3 ]
    [ "$(jqr '.services.api.secrets[0].source')" = token ]
    [ "$(jqr '.services.api.configs[0] | "\(.source) \(.target) \(.mode)"')" = "appconf /etc/app.conf 288" ]
    [ "$(jqr '.services.api.labels | "\(.tier) \(.replicas)"')" = "api 2" ]
    [ "$(jqr '.services.api | "\(.stop_signal) \(.stop_grace_period) \(.read_only) \(.init)"')" = \
        "SIGINT 1m30s true true" ]
    [ "$(jqr '.services.api | "\(.cap_add[0]) \(.cap_drop[0]) \(.mem_limit) \(.cpus)"')" = \
        "NET_ADMIN ALL 536870912 1.5" ]
    [ "$(jqr '.services.db.build | "\(.context) \(.dockerfile) \(.target) \(.platforms | join(","))"')" = \
        "$P/db Dockerfile prod linux/amd64,linux/arm64" ]
    [ "$(jqr '.services.db.build.args | "\(.VERSION) \(.EMPTY)"')" = "15 null" ]
    [ "$(jqr .services.db.network_mode)" = host ]
    [ "$(jqr '.volumes.cache.name')" = demo_stack_cache ]
    [ "$(jqr '.secrets.token.file')" = "$P/token.txt" ]
    [ "$(jqr '.configs.appconf | "\(.file) \(.name)"')" = "$P/app.conf demo_stack_appconf" ]
    run kiln compose config --services
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'db\napi')" ]
}

@test "compose config: the YAML form reads back as the same model, and again gives the same bytes" {
    cat >compose.yaml <<'EOF'
services:
  web:
    image: "busybox:1.36"
    command: ["echo", "true", "8000", "", "null", "yes"]
    environment: {NUM: 8000, BOOL: true, OCT: "0o17", COLON: "1:30", TEXT: "a: b"}
    ports: ["8080:80"]
EOF
    cfg
    run kiln compose config
    [ "$status" -eq 0 ]
    printf '%s\n' "$output" >out.yaml
    python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1])), sort_keys=True))' out.yaml >a.json
    jq -cS . <<<"$json" >b.json
    [ "$(jq -cS . a.json)" = "$(cat b.json)" ]
    run kiln compose -f out.yaml -p proj config
    [ "$status" -eq 0 ]
    [ "$output" = "$(cat out.yaml)" ]
    [ "$(jqr '.services.web.environment | "\(.NUM) \(.BOOL) \(.OCT) \(.COLON)"')" = "8000 true 0o17 1:30" ]
}

@test "compose config: -f files merge by the spec's rules" {
    cat >compose.yaml <<'EOF'
services:
  api:
    image: api:1
    command: ["serve", "--slow"]
    environment: {A: "1", B: "1"}
    ports: ["8000:8000", "9000:9000"]
    volumes: ["./a:/data", "/keep"]
    cap_add: [NET_ADMIN]
    labels: {x: "1"}
  db:
    image: db:1
EOF
    cat >override.yaml <<'EOF'
services:
  api:
    image: api:2
    command: ["serve"]
    environment: {B: "2", C: "3"}
    ports: ["9000:9000", "9100:9100"]
    volumes: ["./b:/data"]
    cap_add: [SYS_TIME, NET_ADMIN]
  extra:
    image: extra:1
EOF
    cfg -f compose.yaml -f override.yaml
    [ "$(jqr .services.api.image)" = api:2 ]
    [ "$(jqr '.services.api.command | join(" ")')" = serve ]
    [ "$(jqr '.services.api.environment | "\(.A) \(.B) \(.C)"')" = "1 2 3" ]
    [ "$(jqr '[.services.api.ports[].published] | join(",")')" = "8000,9000,9100" ]
    [ "$(jqr '[.services.api.volumes[] | "\(.source // "-"):\(.target)"] | join(",")')" = "$P/b:/data,-:/keep" ]
    [ "$(jqr '.services.api.cap_add | join(",")')" = "NET_ADMIN,SYS_TIME" ]
    [ "$(jqr .services.api.labels.x)" = 1 ]
    [ "$(jqr '.services | keys | join(",")')" = "api,db,extra" ]
}

@test "compose config: interpolation from the environment, .env and --env-file; \$\$ stays" {
    printf 'TAG=from-dotenv\nPORT=8001\n' >.env
    printf 'TAG=from-envfile\n' >other.env
    cat >compose.yaml <<'EOF'
services:
  api:
    image: "app:${TAG}"
    ports: ["127.0.0.1:${PORT:-80}:8000"]
    command: echo $$HOME ${UNSET:-fallback} ${TAG:+tagged}
    environment:
      MSG: "${GREETING-hello}"
EOF
    cfg
    [ "$(jqr .services.api.image)" = app:from-dotenv ]
    [ "$(jqr '.services.api.ports[0].published')" = 8001 ]
    [ "$(jqr '.services.api.command | join(" ")')" = 'echo $HOME fallback tagged' ]
    [ "$(jqr .services.api.environment.MSG)" = hello ]
    TAG=from-shell cfg
    [ "$(jqr .services.api.image)" = app:from-shell ]
    cfg --env-file other.env
    [ "$(jqr .services.api.image)" = app:from-envfile ]
    [ "$(jqr '.services.api.ports[0].published')" = 80 ]
}

@test "compose config: profiles select services (--profile, COMPOSE_PROFILES)" {
    cat >compose.yaml <<'EOF'
services:
  api: {image: api}
  debug: {image: dbg, profiles: [debug]}
  metrics: {image: prom, profiles: [monitoring, debug]}
EOF
    cfg
    [ "$(jqr '.services | keys | join(",")')" = api ]
    cfg --profile monitoring
    [ "$(jqr '.services | keys | join(",")')" = api,metrics ]
    COMPOSE_PROFILES=debug cfg
    [ "$(jqr '.services | keys | join(",")')" = api,debug,metrics ]
}

@test "compose config: the file is found as compose.yaml, compose.yml, docker-compose.yml; -p names the project" {
    echo 'services: {a: {image: x}}' >docker-compose.yml
    cfg
    [ "$(jqr .name)" = proj ]
    echo 'services: {b: {image: y}}' >compose.yml
    cfg -p Other.Name
    [ "$(jqr '.services | keys[0]')" = b ]
    [ "$(jqr .name)" = othername ]
    rm compose.yml docker-compose.yml
    run kiln compose config
    [ "$status" -ne 0 ]
    [[ $output == *"no compose file in"*"name one with -f"* ]]
}

# bad_input FILE-CONTENT EXPECTED-MESSAGE: config refuses it with that message.
bad_input() {
    printf '%s\n' "$1" >compose.yaml
    run kiln compose config
    [ "$status" -ne 0 ] || {
        echo "accepted: $1"
        return 1
    }
    [[ $output == *"$2"* ]] || {
        echo "got: $output"
        echo "want: $2"
        return 1
    }
    [ "${#lines[@]}" -eq 1 ] || {
        echo "more than one line: $output"
        return 1
    }
}

@test "compose config: YAML and type errors name file:line:column" {
    bad_input $'services:\n  api:\n    image: [unclosed' "$P/compose.yaml:4:1: did not find expected"
    bad_input $'services:\n  api:\n    image: x\n    ports: "8000"' "$P/compose.yaml:4:12: ports must be a list"
    bad_input $'services:\n  api:\n    image: x\n    ports: ["70000:80"]' "compose.yaml:4:13: ports: invalid host port \"70000\""
    bad_input $'services:\n  api:\n    image: x\n    read_only: maybe' "compose.yaml:4:5: read_only must be true or false"
    bad_input $'services:\n  api:\n    image: x\n    restart: sometimes' "compose.yaml:4:14: restart must be no, always"
    bad_input $'services:\n  api:\n    image: x\n    healthcheck: {interval: soon}' \
        "compose.yaml:4:29: interval: invalid duration \"soon\" (e.g. 30s, 1m30s, 500ms)"
    bad_input $'services:\n  api:\n    image: x\n    image: y' "compose.yaml:4:5: duplicate key \"image\""
    bad_input $'services:\n  api:\n    image: ${NOPE:?set NOPE first}' "compose.yaml:3:12: required variable NOPE is missing a value: set NOPE first"
    bad_input $'services:\n  api:\n    imgae: x' "compose.yaml:3:5: unknown service key \"imgae\""
    bad_input $'servics:\n  api: {image: x}' "compose.yaml:2:3: unknown top-level key \"servics\""
    bad_input $'- just\n- a list' "compose.yaml:1:1: the top level must be a mapping"
}

@test "compose config: references checked whole: depends_on, cycles, volumes, secret files" {
    bad_input $'services:\n  api:\n    image: x\n    depends_on: [db]' \
        "compose.yaml:4:18: service \"api\" depends on undefined service \"db\""
    bad_input $'services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [c]}\n  c: {image: x, depends_on: [a]}' \
        "dependency cycle: a -> b -> c -> a"
    bad_input $'services:\n  api:\n    image: x\n    volumes: ["data:/data"]' \
        "compose.yaml:4:15: service \"api\" refers to undefined volume \"data\""
    bad_input $'services:\n  api:\n    image: x\n    secrets: [tok]\nsecrets:\n  tok:\n    file: ./missing.txt' \
        "compose.yaml:7:5: secret \"tok\": file $P/missing.txt: No such file or directory"
    bad_input $'services:\n  api: {build: {context: ., squash: true}}' "build: key \"squash\" is not supported by kiln"
    bad_input $'services:\n  api: {image: x, env_file: nope.env}' "env_file: env file $P/nope.env: No such file or directory"
}

@test "compose config: keys kiln does not run: an error where ignoring would change what runs, else a warning" {
    bad_input $'services:\n  api:\n    image: x\n    privileged: true' \
        "compose.yaml:4:5: service key \"privileged\" is not supported by kiln (ignoring it would change what runs)"
    cat >compose.yaml <<'EOF'
version: "3.9"
services:
  api:
    image: x
    logging: {driver: json-file}
    x-custom: anything
networks:
  front: {}
x-anchors: &common {restart: always}
EOF
    run kiln compose config -q
    [ "$status" -eq 0 ]
    [[ $output == *"warning: $P/compose.yaml:1:10: \"version\" is obsolete and ignored"* ]]
    [[ $output == *"warning: $P/compose.yaml:5:5: service key \"logging\" is ignored by kiln"* ]]
    [[ $output == *"\"networks\" is ignored: a project is one pod"* ]]
}

@test "compose config: anchors, aliases and << merge keys; a billion laughs is refused" {
    cat >compose.yaml <<'EOF'
x-base: &base
  image: base:1
  restart: always
  environment: {A: "1"}
services:
  one:
    <<: *base
    environment: {B: "2"}
  two: *base
EOF
    cfg
    [ "$(jqr '.services.one | "\(.image) \(.restart) \(.environment | keys | join(","))"')" = "base:1 always B" ]
    [ "$(jqr '.services.two | "\(.image) \(.restart)"')" = "base:1 always" ]
    {
        echo 'x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'
        prev=a
        for l in b c d e f g h; do
            echo "x-$l: &$l [*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev]"
            prev=$l
        done
        echo 'services: {a: {image: x}}'
    } >compose.yaml
    run timeout 20 "$KILN" compose config -q
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ]
    [[ $output == *"too many values once aliases are expanded"* ]]
}

# Debian's podman-compose (1.0.3) has no `config`: its model is read from the
# `podman run` lines of `--dry-run up`, with a podman that does nothing (no
# network, volume or container is made). tests/e2e/compose_cmp.py compares.
@test "compose config: the same model as podman-compose's (its --dry-run up), interpolation, env_file and ranges included" {
    mkdir -p src bin
    printf '#!/bin/sh\nexit 0\n' >bin/podman
    chmod +x bin/podman
    printf 'E=from-file\nF=2\n' >web.env
    echo "B_VAL=from-dotenv" >.env
    cat >compose.yaml <<'EOF2'
services:
  web:
    image: busybox
    command: httpd -f -p ${PORT:-8080}
    env_file: [web.env]
    environment:
      B: ${B_VAL:-two}
      C:
    ports: ["127.0.0.1:18080:8080", "9000-9001:9000-9001/udp", "8443"]
    volumes: [data:/data, ./src:/src:ro, /tmp:/hosttmp]
    labels: {x: y, tier: front}
    restart: on-failure:3
  worker:
    image: busybox
    command: ["sleep", "1000"]
    environment:
      - A=1
      - D=${UNSET_VAR:-dflt}
    volumes:
      - type: volume
        source: data
        target: /w
        read_only: true
    restart: unless-stopped
volumes:
  data: {}
EOF2
    kiln compose -p cmp config --format json >kiln.json
    podman-compose --podman-path "$P/bin/podman" -p cmp --dry-run up -d >pc.txt 2>&1
    run python3 "$BATS_TEST_DIRNAME/compose_cmp.py" kiln.json pc.txt
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"compared 2 services, 0 differences"* ]]
    # the comparison can fail: one value changed on kiln's side is a difference
    jq '.services.web.environment.B = "other"' kiln.json >changed.json
    run python3 "$BATS_TEST_DIRNAME/compose_cmp.py" changed.json pc.txt
    [ "$status" -eq 1 ]
    [[ "$output" == *"service web: env: kiln"* ]]
}

@test "compose config: durations as Docker Compose prints them (Go's time.Duration: 1h0m0s, 2m0s, 1.001s, 100µs)" {
    cat >compose.yaml <<'EOF2'
services:
  api:
    image: x
    healthcheck:
      test: ["CMD", "true"]
      interval: 1h
      timeout: 2m
      start_period: 1.001s
      start_interval: 100us
    stop_grace_period: 60
EOF2
    cfg
    [ "$(jqr '.services.api.healthcheck | "\(.interval) \(.timeout) \(.start_period) \(.start_interval)"')" = \
        "1h0m0s 2m0s 1.001s 100µs" ]
    [ "$(jqr .services.api.stop_grace_period)" = 1m0s ]
    # the YAML form too, and up reads its own durations back
    run kiln compose config
    [[ "$output" == *"interval: 1h0m0s"* && "$output" == *"stop_grace_period: 1m0s"* ]]
    kiln compose config >again.yaml
    run kiln compose -f again.yaml config --format json
    [ "$status" -eq 0 ]
    [ "$(jq -r .services.api.healthcheck.start_interval <<<"$output")" = "100µs" ]
}
