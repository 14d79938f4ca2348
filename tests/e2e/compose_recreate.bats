#!/usr/bin/env bats
# kiln compose up on a running project: which containers it replaces
# (a recreated service's dependents, the content of secret, config and
# env_file files), how it refuses replicas, and volumes filled through the
# image's symlinks. Busybox fixture; nothing leaves the pod.

load helpers
load run_lib
load compose_lib

@test "compose up: a recreated service's dependents are stopped first and started after it (restart: false too, as compose); theirs keep running" {
    cat >compose.yaml <<'EOF2'
name: dep
x-svc: &svc {image: bb, command: ["sleep", "1000"], stop_grace_period: 1s}
services:
  db: {<<: *svc, environment: {V: "1"}}
  api: {<<: *svc, depends_on: {db: {condition: service_started, restart: false}}}
  plain: {<<: *svc, depends_on: [db]}
  ui: {<<: *svc, depends_on: [api]}
  other: {<<: *svc}
EOF2
    kiln compose up -d
    remember_pids dep db api ui plain other
    sed -i 's/V: "1"/V: "2"/' compose.yaml
    run kiln compose up -d
    [ "$status" -eq 0 ]
    [[ "$output" == *"dep-db-1  Recreate"* ]]
    [[ "$output" == *"dep-api-1  Restart"* && "$output" == *"dep-plain-1  Restart"* ]]
    [[ "$output" == *"dep-ui-1  Running"* && "$output" == *"dep-other-1  Running"* ]]
    # dependents stopped first, everything started in dependency order
    [ "$(line_of 'dep-api-1  Restart')" -lt "$(line_of 'dep-db-1  Recreate')" ]
    [ "$(line_of 'dep-plain-1  Restart')" -lt "$(line_of 'dep-db-1  Recreate')" ]
    [ "$(line_of 'dep-db-1  Started')" -lt "$(line_of 'dep-api-1  Started')" ]
    [ "$(line_of 'dep-db-1  Started')" -lt "$(line_of 'dep-plain-1  Started')" ]
    restarted dep db api plain
    # a restart does not cascade: api is unchanged, ui keeps running
    kept dep ui other
    run kiln compose exec db sh -c 'echo $V'
    [ "$output" = 2 ]
    # nothing changed: nothing restarts
    run kiln compose up -d
    [[ "$output" != *Restart* && "$output" != *Recreate* ]]
    # --no-recreate: neither the changed one nor its dependents
    remember_pids dep db api
    sed -i 's/V: "2"/V: "3"/' compose.yaml
    run kiln compose up -d --no-recreate
    [[ "$output" != *Restart* && "$output" != *Recreate* ]]
    kept dep db api
    [ "$(n_containers)" -eq 5 ]
    kiln compose down
}

@test "compose up: a changed secret, config or env_file content (same compose file) recreates the service that mounts it, only that one" {
    echo one >tok.txt
    echo k=1 >app.conf
    echo E=1 >app.env
    cat >compose.yaml <<'EOF2'
name: dig
x-svc: &svc {image: bb, command: ["sleep", "1000"], stop_grace_period: 1s}
services:
  s: {<<: *svc, secrets: [tok]}
  v: {<<: *svc, secrets: [vtok]}
  c: {<<: *svc, configs: [conf]}
  e: {<<: *svc, env_file: [./app.env]}
  n: {<<: *svc}
secrets:
  tok: {file: ./tok.txt}
  vtok: {environment: DIG_TOKEN}
configs:
  conf: {file: ./app.conf}
EOF2
    export DIG_TOKEN=a
    kiln compose up -d
    local s
    for s in s v c e n; do eval "pid_$s=\$(state Pid dig-$s-1)"; done
    echo two >tok.txt
    run kiln compose up -d
    [ "$status" -eq 0 ]
    [[ "$output" == *"dig-s-1  Recreate"* ]]
    [ "$(printf '%s\n' "$output" | grep -c Recreate)" -eq 1 ]
    run kiln compose exec s cat /run/secrets/tok
    [ "$output" = two ]
    echo k=2 >app.conf
    run kiln compose up -d
    [[ "$output" == *"dig-c-1  Recreate"* ]]
    [ "$(printf '%s\n' "$output" | grep -c Recreate)" -eq 1 ]
    run kiln compose exec c cat /conf
    [ "$output" = k=2 ]
    echo E=2 >app.env
    run kiln compose up -d
    [[ "$output" == *"dig-e-1  Recreate"* ]]
    [ "$(printf '%s\n' "$output" | grep -c Recreate)" -eq 1 ]
    run kiln compose exec e sh -c 'echo $E'
    [ "$output" = 2 ]
    export DIG_TOKEN=b
    run kiln compose up -d
    [[ "$output" == *"dig-v-1  Recreate"* ]]
    [ "$(printf '%s\n' "$output" | grep -c Recreate)" -eq 1 ]
    run kiln compose exec v cat /run/secrets/vtok
    [ "$output" = b ]
    # the same content again: nothing
    run kiln compose up -d
    [[ "$output" != *Recreate* ]]
    [ "$(state Pid dig-n-1)" = "$pid_n" ]
    [ "$(state Pid dig-s-1)" != "$pid_s" ]
    kiln compose down
}

@test "compose up: scale / deploy.replicas / --scale run N replicas of a service that does not listen, scale down and up; one that listens, or 0, is refused naming the key" {
    cat >compose.yaml <<'EOF2'
name: sc
services:
  w:
    image: bb
    command: ["sh", "-c", "echo worker-$$(hostname) >/scratch/me; echo started; exec sleep 1000"]
    scale: 3
    volumes: ["/scratch"]
    stop_grace_period: 1s
  after: {image: bb, command: ["sleep", "1000"], depends_on: [w], stop_grace_period: 1s}
  web:
    image: bb
    command: ["sleep", "1000"]
    expose: ["8080"]
    stop_grace_period: 1s
    deploy: {replicas: 2, resources: {limits: {cpus: "0.5"}}}
EOF2
    run kiln compose config
    [ "$status" -eq 0 ]
    [[ "$output" == *"scale: 3"* && "$output" == *"replicas: 2"* ]]
    [[ "$output" == *'service key "deploy.resources" is ignored by kiln'* ]]
    sed -i 's/, resources: {limits: {cpus: "0.5"}}//' compose.yaml
    # a service that listens cannot have replicas in one network namespace
    run kiln compose up -d
    [ "$status" -ne 0 ]
    [[ "$output" == *"service web: deploy.replicas 2 with expose: kiln runs a project as one pod"* ]]
    [ -z "$(ls "$KILN_ROOT/containers/names")" ]
    [ -z "$(ls "$KILN_ROOT/pods")" ]
    run kiln compose up -d --scale w=0 w
    [ "$status" -ne 0 ]
    [[ "$output" == *"service w: --scale 0: kiln runs at least one container"* ]]
    run kiln compose up -d --scale nope=1
    [ "$status" -ne 0 ]
    [[ "$output" == *"--scale nope=1: no such service: nope"* ]]
    [ -z "$(ls "$KILN_ROOT/containers/names")" ]
    # three workers, each its own anonymous volume; after waits for all three
    run kiln compose up -d --scale web=1
    [ "$status" -eq 0 ]
    local k
    for k in 1 2 3; do
        [ "$(state Status sc-w-$k)" = running ]
        [[ "$output" == *"sc-w-$k  Waiting"* ]]
        [ "$(cat "$KILN_ROOT/volumes/sc_w_anon0$([ $k = 1 ] || echo _$k)/me")" = worker-w ]
    done
    [ "$(line_of 'sc-w-3  Started')" -lt "$(line_of 'sc-after-1  Started')" ]
    run kiln compose ps
    [ "$(printf '%s\n' "$output" | grep -c ' w ')" -eq 3 ]
    run kiln compose exec --index 2 w cat /scratch/me
    [ "$output" = worker-w ]
    run kiln compose logs w
    [[ "$output" == *"w-2  | started"* && "$output" == *"w-3  | started"* ]]
    # scale down: the highest numbers go; up again: new ones, the rest keep running
    local p1
    p1=$(state Pid sc-w-1)
    run kiln compose up -d --scale web=1 --scale w=1
    [ "$status" -eq 0 ]
    [[ "$output" == *"sc-w-2  Removed"* && "$output" == *"sc-w-3  Removed"* ]]
    [ ! -e "$KILN_ROOT/containers/names/sc-w-2" ]
    [ "$(state Pid sc-w-1)" = "$p1" ]
    run kiln compose up -d --scale web=1 --scale w=2
    [[ "$output" == *"sc-w-1  Running"* && "$output" == *"sc-w-2  Started"* ]]
    # a changed worker is recreated replica by replica, its dependent restarted
    sed -i 's/echo started/echo started again/' compose.yaml
    run kiln compose up -d --scale web=1 --scale w=2
    [[ "$output" == *"sc-w-1  Recreate"* && "$output" == *"sc-w-2  Recreate"* ]]
    [[ "$output" == *"sc-after-1  Restart"* ]]
    kiln compose down -v
    [ -z "$(ls "$KILN_ROOT/containers/names")" ]
    [ -z "$(ls "$KILN_ROOT/volumes" | grep sc_w_anon)" ]
}

@test "compose up: a new volume at a path through a symlink in the image is filled from the resolved path, inside the image's root" {
    # /data -> /srv/data; /up -> ../../../../srv climbs past / and stays in the root;
    # /loop1 <-> /loop2 never resolves
    printf 'FROM bb\nRUN mkdir -p /srv/data/sub && echo seed >/srv/data/sub/f && chown -R 65534:65534 /srv/data && chmod 0750 /srv/data && ln -s /srv/data /data && ln -s ../../../../srv /up && ln -s /loop2 /loop1 && ln -s loop1 /loop2\n' >Dockerfile
    cat >compose.yaml <<'EOF2'
name: sym
services:
  app:
    build: .
    command: ["sleep", "1000"]
    volumes: ["abs:/data", "rel:/up/data/sub", "loop:/loop1/x"]
    stop_grace_period: 1s
volumes: {abs: {}, rel: {}, loop: {}}
EOF2
    run kiln compose up -d
    # a loop resolves nowhere: the runtime refuses the mount, up removes what it started
    [ "$status" -ne 0 ]
    [[ "$output" == *"/loop1/x: Too many levels of symbolic links"* ]]
    [ -z "$(ls "$KILN_ROOT/containers/names")" ]
    sed -i 's/, "loop:\/loop1\/x"//' compose.yaml
    kiln compose down -v
    [ ! -e "$KILN_ROOT/volumes/sym_abs" ]
    kiln compose up -d
    [ "$(cat "$KILN_ROOT/volumes/sym_abs/sub/f")" = seed ]
    [ "$(stat -c '%a %u' "$KILN_ROOT/volumes/sym_abs")" = "750 65534" ]
    [ "$(cat "$KILN_ROOT/volumes/sym_rel/f")" = seed ]
    run kiln compose exec app cat /data/sub/f /srv/data/sub/f
    [ "$output" = "$(printf 'seed\nseed')" ]
    kiln compose down -v
}

@test "compose restart SERVICE: also its depends_on restart: true dependents (transitively), stopped first and started after it; --no-deps only SERVICE" {
    cat >compose.yaml <<'EOF2'
name: rs
x-svc: &svc {image: bb, command: ["sleep", "1000"], stop_grace_period: 1s}
services:
  db: {<<: *svc}
  api: {<<: *svc, depends_on: {db: {condition: service_started, restart: true}}}
  worker: {<<: *svc, depends_on: {api: {condition: service_started, restart: true}}}
  plain: {<<: *svc, depends_on: {db: {condition: service_started, restart: false}}}
  other: {<<: *svc}
EOF2
    kiln compose up -d
    remember_pids rs db api worker plain other
    run kiln compose restart db
    [ "$status" -eq 0 ]
    restarted rs db api worker
    kept rs plain other
    # dependents stopped first, started after what they depend on
    [ "$(line_of 'rs-worker-1  Stopped')" -lt "$(line_of 'rs-api-1  Stopped')" ]
    [ "$(line_of 'rs-api-1  Stopped')" -lt "$(line_of 'rs-db-1  Stopped')" ]
    [ "$(line_of 'rs-db-1  Started')" -lt "$(line_of 'rs-api-1  Started')" ]
    [ "$(line_of 'rs-api-1  Started')" -lt "$(line_of 'rs-worker-1  Started')" ]
    [[ "$output" != *rs-plain-1* && "$output" != *rs-other-1* ]]
    # from the middle: api and worker, not db
    remember_pids rs db api worker
    run kiln compose restart api
    [ "$status" -eq 0 ]
    kept rs db
    restarted rs api worker
    # --no-deps: db only
    remember_pids rs db api worker
    run kiln compose restart --no-deps db
    [ "$status" -eq 0 ]
    restarted rs db
    kept rs api worker
    kiln compose down
}
