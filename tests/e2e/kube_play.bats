#!/usr/bin/env bats
# kiln kube play: the rendered dev overlay (the Deployment with the real
# production image, by digest) runs as a kiln pod with its securityContext
# enforced and its probes as the health check; kube generate's output plays;
# bad manifests fail with one error and leave nothing. Every connection goes to
# 127.0.0.1 (published ports) or stays inside the pod's namespace.
load build_helpers
load dataenv_images
load net_lib

ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"

setup_file() {
    export KILN_ROOT="$BATS_FILE_TMPDIR/store"
    dataenv_image prod
    local deploy="$BATS_FILE_TMPDIR/deploy"
    mkdir -p "$deploy"
    cp -r "$ROOT/dataenv/deploy/base" "$ROOT/dataenv/deploy/overlays" "$deploy/"
    KILN="$KILN" "$ROOT/scripts/ml-deploy-manifests.sh" --deploy "$deploy" >/dev/null
    kubectl kustomize "$deploy/overlays/dev" 2>/dev/null >"$BATS_FILE_TMPDIR/dev.yaml"
}

setup() {
    export KILN_ROOT="$BATS_FILE_TMPDIR/store"
}

teardown() {
    local f
    for f in "$BATS_TEST_TMPDIR"/*.yaml; do
        [ -f "$f" ] && "$KILN" kube play --down "$f" >/dev/null 2>&1
    done
    true
}

# Waits (up to $2 s) until `kiln ps` says container $1 is healthy.
wait_healthy() {
    local i
    for i in $(seq 1 $(($2 * 5))); do
        "$KILN" ps | grep -q "(healthy).*$1\$" && return 0
        sleep 0.2
    done
    "$KILN" ps
    return 1
}

# Nothing of pod $1 (its container $2, published port $3) is left: record,
# processes, port, mounts, volume directories.
assert_gone() {
    [ ! -e "$KILN_ROOT/pods/$1" ]
    [ ! -e "$KILN_ROOT/kube/$1" ]
    run "$KILN" ps -a
    [[ $output != *"$2"* ]]
    ! grep -q "$KILN_ROOT" /proc/mounts
    port_is_free "$3"
}

@test "kube play: the dev overlay with the production image: /health, read-only root, uid 10001 without capabilities, ready by its probes; --down leaves nothing" {
    local port digest
    port=$(free_port)
    digest=$("$KILN" inspect -f .digest dataenv:latest-prod)
    grep -q "image: dataenv@$digest" "$BATS_FILE_TMPDIR/dev.yaml"
    # the Service's port 80 is where the pod is published: a free one for the test
    sed "s/^    port: 80\$/    port: $port/" "$BATS_FILE_TMPDIR/dev.yaml" >"$BATS_TEST_TMPDIR/dev.yaml"
    run "$KILN" kube play "$BATS_TEST_TMPDIR/dev.yaml"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"warning: not run by kube play (kiln runs Pods, Deployments and Services): PodDisruptionBudget/dataenv-api, Ingress/dataenv-api"* ]]
    [[ $output == *"Pod dataenv-api-pod (Deployment/dataenv-api): 127.0.0.1:$port->8000/tcp"* ]]
    local c=dataenv-api-pod-api
    # the probes (httpGet /health on the named port) are the health check
    [ "$("$KILN" inspect "$c" | jq -c '.[0].Config.Healthcheck.Test')" = '["KILN-HTTPGET","8000","/health"]' ]
    wait_healthy "$c" 30
    run curl -fsS --max-time 5 "http://127.0.0.1:$port/health"
    [ "$status" -eq 0 ]
    [[ $output == *'"status":"ok"'* ]]
    run "$KILN" health "$c"
    [ "$status" -eq 0 ]
    [[ $output == *"HTTP/1.1 200"* ]]
    # readOnlyRootFilesystem; the emptyDir on /tmp and the ConfigMap file are there
    run "$KILN" exec "$c" sh -c 'echo x >/probe'
    [ "$status" -ne 0 ]
    [[ $output == *"Read-only file system"* ]]
    "$KILN" exec "$c" sh -c 'echo x >/tmp/probe'
    "$KILN" exec "$c" grep -q '^APP_NAME=dataenv' /etc/dataenv/versions.conf
    run "$KILN" exec "$c" sh -c 'echo x >/etc/dataenv/versions.conf'
    [ "$status" -ne 0 ]
    # runAsUser/runAsGroup 10001, capabilities drop ALL, no_new_privs, seccomp
    run "$KILN" exec "$c" cat /proc/1/status
    grep -qP '^Uid:\t10001\t10001\t10001\t10001$' <<<"$output"
    grep -qP '^Gid:\t10001\t' <<<"$output"
    grep -qP '^CapEff:\t0000000000000000$' <<<"$output"
    grep -qP '^CapBnd:\t0000000000000000$' <<<"$output"
    grep -qP '^NoNewPrivs:\t1$' <<<"$output"
    grep -qP '^Seccomp:\t2$' <<<"$output"
    # a second play of the same file is refused, nothing touched
    run "$KILN" kube play "$BATS_TEST_TMPDIR/dev.yaml"
    [ "$status" -eq 1 ]
    [[ $output == *"pod dataenv-api-pod exists (kiln kube play --down removes what play made)"* ]]
    local sup holder slirp
    sup=$(jq -r .Supervisor "$KILN_ROOT/pods/dataenv-api-pod/state.json")
    holder=$(jq -r .NetHolder "$KILN_ROOT/pods/dataenv-api-pod/state.json")
    slirp=$(jq -r .NetHelper "$KILN_ROOT/pods/dataenv-api-pod/state.json")
    local pid1
    pid1=$("$KILN" inspect "$c" | jq -r '.[0].State.Pid')
    run "$KILN" kube play --down "$BATS_TEST_TMPDIR/dev.yaml"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"removed container $c"* ]]
    [[ $output == *"removed pod dataenv-api-pod"* ]]
    assert_gone dataenv-api-pod "$c" "$port"
    local p
    for p in "$sup" "$holder" "$slirp" "$pid1"; do
        [ "$p" -gt 0 ] && ! kill -0 "$p" 2>/dev/null
    done
    ! curl -fsS --max-time 2 "http://127.0.0.1:$port/health"
}

@test "kube play: kube generate's output for dataenv:latest-prod plays (from standard input), ready by the exec probe" {
    local port
    port=$(free_port)
    "$KILN" kube generate --service dataenv:latest-prod >"$BATS_TEST_TMPDIR/gen.yaml"
    sed -i "s/^  - name: 8000-tcp\$/  - name: web/; s/^    port: 8000\$/    port: $port/" "$BATS_TEST_TMPDIR/gen.yaml"
    grep -q "port: $port" "$BATS_TEST_TMPDIR/gen.yaml"
    run "$KILN" kube play - <"$BATS_TEST_TMPDIR/gen.yaml"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"Pod dataenv-pod (Deployment/dataenv): 127.0.0.1:$port->8000/tcp"* ]]
    [ "$("$KILN" inspect dataenv-pod-dataenv | jq -c '.[0].Config.Healthcheck.Test')" = '["CMD","/usr/local/bin/healthcheck","-t","2"]' ]
    wait_healthy dataenv-pod-dataenv 30
    curl -fsS --max-time 5 "http://127.0.0.1:$port/health" | grep -q '"status":"ok"'
    run "$KILN" kube play --down - <"$BATS_TEST_TMPDIR/gen.yaml"
    [ "$status" -eq 0 ]
    assert_gone dataenv-pod dataenv-pod-dataenv "$port"
}

@test "kube play: env and volumes from the file's ConfigMap and Secret, capabilities dropped and added, a root image run as root" {
    import_busybox
    local bb
    bb=$("$KILN" inspect -f .digest busybox:test)
    cat >"$BATS_TEST_TMPDIR/bb.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {GREETING: hello, app.conf: "mode=test"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {TOKEN: czNjcjN0}
---
apiVersion: v1
kind: Pod
metadata: {name: bb, labels: {app: bb}}
spec:
  volumes:
  - {name: conf, configMap: {name: conf}}
  - {name: creds, secret: {secretName: creds}}
  - {name: scratch, emptyDir: {}}
  containers:
  - name: main
    image: busybox@$bb
    command: [sh, -c]
    args: ["touch /ready; exec sleep 1000"]
    env:
    - {name: PLAIN, value: "1"}
    - name: TOKEN
      valueFrom: {secretKeyRef: {name: creds, key: TOKEN}}
    envFrom:
    - configMapRef: {name: conf}
      prefix: CM_
    - secretRef: {name: absent, optional: true}
    volumeMounts:
    - {name: conf, mountPath: /etc/app}
    - {name: creds, mountPath: /run/creds}
    - {name: scratch, mountPath: /scratch}
    securityContext:
      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
    readinessProbe:
      exec: {command: [test, -e, /ready]}
      periodSeconds: 1
EOF
    run "$KILN" kube play "$BATS_TEST_TMPDIR/bb.yaml"
    echo "$output"
    [ "$status" -eq 0 ]
    wait_healthy bb-pod-main 15
    run "$KILN" exec bb-pod-main sh -c 'echo "$PLAIN $TOKEN $CM_GREETING"; cat /etc/app/app.conf /run/creds/TOKEN; echo; grep -E "^(Uid|CapEff|CapBnd):" /proc/1/status; touch /scratch/x /rootfs-ok && echo writable'
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "1 s3cr3t hello" ]
    [ "${lines[1]}" = "mode=tests3cr3t" ]
    grep -qP '^Uid:\t0\t' <<<"$output"
    # NET_BIND_SERVICE (10) alone
    grep -qP '^CapEff:\t0000000000000400$' <<<"$output"
    grep -qP '^CapBnd:\t0000000000000400$' <<<"$output"
    [ "${lines[-1]}" = writable ]
    run "$KILN" exec bb-pod-main sh -c 'echo x >/etc/app/new'
    [ "$status" -ne 0 ]
    "$KILN" kube play --down "$BATS_TEST_TMPDIR/bb.yaml"
    [ ! -e "$KILN_ROOT/pods/bb-pod" ]
    [ ! -e "$KILN_ROOT/kube" ]
}

@test "kube play: bad manifests give one clear error each and leave nothing" {
    import_busybox
    local d="$BATS_TEST_TMPDIR" bb
    bb=$("$KILN" inspect -f .digest busybox:test)
    printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: [p\n' >"$d/syntax.yaml"
    printf 'apiVersion: v1\nkind: Pdo\nmetadata: {name: p}\n' >"$d/kind.yaml"
    printf 'apiVersion: apps/v2\nkind: Deployment\nmetadata: {name: d}\n' >"$d/api.yaml"
    printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: busybox@%s\n    ports:\n    - containerPort: http\n' "$bb" >"$d/type.yaml"
    printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  securityContext: {runAsNonRoot: true}\n  containers:\n  - name: c\n    image: busybox@%s\n' "$bb" >"$d/root.yaml"
    printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: busybox@%s\n    env:\n    - name: X\n      valueFrom: {configMapKeyRef: {name: nope, key: k}}\n' "$bb" >"$d/ref.yaml"
    local f want
    for f in syntax kind api type root ref; do
        run "$KILN" kube play "$d/$f.yaml"
        echo "$f: $output"
        [ "$status" -eq 1 ]
        [ "${#lines[@]}" -eq 1 ]
        case $f in
        syntax) want="kiln: $d/syntax.yaml:5:1: YAML: did not find expected ',' or ']'" ;;
        kind) want="kiln: $d/kind.yaml:1:1: Pdo/p: kind: unknown kind \"Pdo\" in apiVersion v1" ;;
        api) want="kiln: $d/api.yaml:1:1: Deployment/d: apiVersion: Deployment is not served as \"apps/v2\" (use apiVersion: apps/v1)" ;;
        type) want="kiln: $d/type.yaml:9:22: Pod/p: spec.containers[0].ports[0].containerPort: expected an integer, got a string (http)" ;;
        root) want="kiln: $d/root.yaml:7:5: Pod/p: container c: runAsNonRoot, but image busybox@$bb runs as root (USER unset); set runAsUser" ;;
        ref) want="kiln: $d/ref.yaml:6:5: Pod/p: container c: env X: ConfigMap nope not in the manifest" ;;
        esac
        [[ $output == "$want"* ]]
        # nothing left: no pod, container, volume directory
        [ -z "$(ls -A "$KILN_ROOT/pods" 2>/dev/null)" ]
        [ ! -e "$KILN_ROOT/kube" ]
        run "$KILN" ps -a
        [ "${#lines[@]}" -eq 1 ]
    done
}
