#!/usr/bin/env bats
# Kubernetes: dataenv/deploy rendered by kubectl's Kustomize and checked offline
# (API schemas of the npm package kubernetes-models, Pod Security "restricted"
# field by field), the digest the build script writes after a push, and
# `kiln kube generate`. Needs the production image (dataenv_image prod).
load build_helpers
load dataenv_images
load ../registry/common

ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
KUBE_CHECK="$ROOT/tests/tools/kube_check.mjs"
# kubernetes-models 5.1.0 carries the API schemas of Kubernetes 1.34 (it has
# resource.k8s.io/v1, GA in 1.34); yaml parses the rendered files for node.
KUBE_MODELS_VERSION=5.1.0
YAML_VERSION=2.9.1

# npm packages installed at test time into the build directory (never the repo),
# once per version pair.
kube_npm() {
    local dir="${KILN_TEST_BUILD:-$ROOT/build}/kube-npm/$KUBE_MODELS_VERSION-$YAML_VERSION"
    mkdir -p "$dir"
    (
        flock 9
        [ -f "$dir/node_modules/kubernetes-models/package.json" ] && [ -f "$dir/node_modules/yaml/package.json" ] && exit 0
        cd "$dir" && echo '{"private":true}' >package.json &&
            timeout 300 npm install --no-audit --no-fund --loglevel=error \
                "kubernetes-models@$KUBE_MODELS_VERSION" "yaml@$YAML_VERSION" >&2
    ) 9>"$dir.lock" || return 1
    echo "$dir/node_modules"
}

setup_file() {
    export KILN_ROOT="$BATS_FILE_TMPDIR/store"
    dataenv_image prod
    export KUBE_NPM
    KUBE_NPM=$(kube_npm)
    export DEPLOY="$BATS_FILE_TMPDIR/deploy"
    mkdir -p "$DEPLOY"
    cp -r "$ROOT/dataenv/deploy/base" "$ROOT/dataenv/deploy/overlays" "$DEPLOY/"
    KILN="$KILN" "$ROOT/scripts/ml-deploy-manifests.sh" --deploy "$DEPLOY" >/dev/null
}

setup() {
    export KILN_ROOT="$BATS_FILE_TMPDIR/store"
}

render() {
    kubectl kustomize "$DEPLOY/overlays/$1" 2>"$BATS_TEST_TMPDIR/$1.err" >"$BATS_TEST_TMPDIR/$1.yaml"
}

@test "kube: the dev, prod and prod-request-rate overlays render with kubectl kustomize" {
    local o
    for o in dev prod prod-request-rate; do
        render $o || { cat "$BATS_TEST_TMPDIR/$o.err"; false; }
    done
    local digest
    digest=$("$KILN" inspect -f .digest dataenv:latest-prod)
    # image by digest, from the store; probes from the HEALTHCHECK (10s/3s/3, start 10s@100ms)
    grep -q "image: dataenv@$digest" "$BATS_TEST_TMPDIR/prod.yaml"
    ! grep -q 'image: dataenv$' "$BATS_TEST_TMPDIR/prod.yaml"
    grep -A6 'startupProbe:' "$BATS_TEST_TMPDIR/prod.yaml" | grep -q 'failureThreshold: 40'
    grep -A6 'startupProbe:' "$BATS_TEST_TMPDIR/prod.yaml" | grep -q 'periodSeconds: 1$'
    grep -A6 'livenessProbe:' "$BATS_TEST_TMPDIR/prod.yaml" | grep -q 'periodSeconds: 10'
    grep -A6 'livenessProbe:' "$BATS_TEST_TMPDIR/prod.yaml" | grep -q 'timeoutSeconds: 3'
    grep -q 'path: /health' "$BATS_TEST_TMPDIR/prod.yaml"
    # dev: one replica, no HPA; prod: three, HPA 3-20, zone anti-affinity, TLS
    grep -q 'replicas: 1$' "$BATS_TEST_TMPDIR/dev.yaml"
    ! grep -q 'kind: HorizontalPodAutoscaler' "$BATS_TEST_TMPDIR/dev.yaml"
    grep -q 'replicas: 3$' "$BATS_TEST_TMPDIR/prod.yaml"
    grep -q 'kind: HorizontalPodAutoscaler' "$BATS_TEST_TMPDIR/prod.yaml"
    grep -q 'minReplicas: 3' "$BATS_TEST_TMPDIR/prod.yaml"
    grep -q 'maxReplicas: 20' "$BATS_TEST_TMPDIR/prod.yaml"
    grep -q 'topologyKey: topology.kubernetes.io/zone' "$BATS_TEST_TMPDIR/prod.yaml"
    grep -q 'secretName: dataenv-tls' "$BATS_TEST_TMPDIR/prod.yaml"
    ! grep -q 'http_requests_per_second' "$BATS_TEST_TMPDIR/prod.yaml"
    grep -q 'name: http_requests_per_second' "$BATS_TEST_TMPDIR/prod-request-rate.yaml"
    # the versions ConfigMap is versions.conf, referenced by its hashed name
    grep -q 'APP_NAME=dataenv' "$BATS_TEST_TMPDIR/prod.yaml"
    cm=$(sed -n 's/^  name: \(dataenv-versions-.*\)/\1/p' "$BATS_TEST_TMPDIR/prod.yaml")
    [ -n "$cm" ]
    grep -q "name: $cm" <(sed -n '/kind: Deployment/,$p' "$BATS_TEST_TMPDIR/prod.yaml")
    # no Secret object: secrets are referenced only
    ! grep -q '^kind: Secret' "$BATS_TEST_TMPDIR/prod.yaml"
    # kiln's own reader takes them (the image, in this store, runs as 10001)
    run "$KILN" kube check "$BATS_TEST_TMPDIR/dev.yaml" "$BATS_TEST_TMPDIR/prod.yaml"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == *"Service/dataenv-api Deployment/dataenv-api PodDisruptionBudget/dataenv-api (not run by kiln) Ingress/dataenv-api (not run by kiln)" ]]
}

@test "kube: every rendered object validates against the Kubernetes 1.34 API schemas" {
    local o
    for o in dev prod prod-request-rate; do
        render $o
        run node "$KUBE_CHECK" "$KUBE_NPM" schema "$BATS_TEST_TMPDIR/$o.yaml"
        echo "$output"
        [ "$status" -eq 0 ]
    done
    # 6 objects in prod: ConfigMap, Service, Deployment, PDB, HPA, Ingress
    [ "$(grep -c '^ok ' <<<"$output")" -eq 6 ]
    # the check can fail: a wrong type and an unknown kind
    sed 's/replicas: 3$/replicas: three/' "$BATS_TEST_TMPDIR/prod.yaml" >"$BATS_TEST_TMPDIR/bad.yaml"
    run node "$KUBE_CHECK" "$KUBE_NPM" schema "$BATS_TEST_TMPDIR/bad.yaml"
    [ "$status" -eq 1 ]
    [[ $output == *"Deployment/dataenv-api: schema: data/spec/replicas must be integer"* ]]
    sed 's/^kind: Service$/kind: Servic/' "$BATS_TEST_TMPDIR/prod.yaml" >"$BATS_TEST_TMPDIR/bad.yaml"
    run node "$KUBE_CHECK" "$KUBE_NPM" schema "$BATS_TEST_TMPDIR/bad.yaml"
    [ "$status" -eq 1 ]
    [[ $output == *"unknown kind Servic in v1"* ]]
}

@test "kube: the pods meet Pod Security restricted; a copy with runAsUser: 0 fails" {
    local o
    for o in dev prod; do
        render $o
        run node "$KUBE_CHECK" "$KUBE_NPM" restricted "$BATS_TEST_TMPDIR/$o.yaml"
        echo "$output"
        [ "$status" -eq 0 ]
        [[ $output == *"ok restricted Deployment/dataenv-api"* ]]
    done
    sed 's/runAsUser: 10001/runAsUser: 0/' "$BATS_TEST_TMPDIR/prod.yaml" >"$BATS_TEST_TMPDIR/root.yaml"
    run node "$KUBE_CHECK" "$KUBE_NPM" restricted "$BATS_TEST_TMPDIR/root.yaml"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"spec.template.spec.securityContext.runAsUser: must not be 0 (restricted)"* ]]
    [[ $output == *"containers[api].securityContext.runAsUser: must not be 0 (restricted)"* ]]
    # and field by field: each rule on its own
    local rule
    for rule in 's/allowPrivilegeEscalation: false/allowPrivilegeEscalation: true/' \
        's/- ALL/- NET_RAW/' 's/type: RuntimeDefault/type: Unconfined/' \
        's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' \
        's/runAsNonRoot: true/runAsNonRoot: false/' 's/emptyDir:/hostPath: {path: \/tmp}\n        emptyDir:/'; do
        sed "$rule" "$BATS_TEST_TMPDIR/prod.yaml" >"$BATS_TEST_TMPDIR/rule.yaml"
        run node "$KUBE_CHECK" "$KUBE_NPM" restricted "$BATS_TEST_TMPDIR/rule.yaml"
        echo "$rule: $output"
        [ "$status" -eq 1 ]
    done
}

@test "kube: after build-ml-container.sh --target production --push the prod manifest names the pushed digest" {
    export REG_TMP="$BATS_TEST_TMPDIR"
    registry_start plain
    local shared="${KILN_TEST_IMAGES:-${KILN_TEST_BUILD:-$ROOT/build}/test-images}"
    local deploy="$BATS_TEST_TMPDIR/deploy"
    mkdir -p "$deploy"
    cp -r "$ROOT/dataenv/deploy/base" "$ROOT/dataenv/deploy/overlays" "$deploy/"
    # the shared image store: its build cache makes this a rebuild of the labels only
    (
        flock 9
        KILN_ROOT="$shared/store" DATAENV_DEPLOY="$deploy" KILN="$KILN" \
            "$ROOT/scripts/build-ml-container.sh" --target production --push --registry "$REG" \
            >"$BATS_TEST_TMPDIR/build.log" 2>&1
        rc=$?
        # the registry tags go again (the port is this test's)
        KILN_ROOT="$shared/store" "$KILN" rmi "$REG/dataenv:latest-prod" \
            "$REG/dataenv:$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo nogit)-prod" >/dev/null 2>&1
        exit $rc
    ) 9>"$shared/lock" || {
        tail -n 30 "$BATS_TEST_TMPDIR/build.log"
        registry_stop
        false
    }
    local pushed
    pushed=$(skopeo_digest "docker://$REG/dataenv:latest-prod")
    registry_stop
    [[ $pushed == sha256:* ]]
    kubectl kustomize "$deploy/overlays/prod" 2>/dev/null >"$BATS_TEST_TMPDIR/prod.yaml"
    grep '^ *image: ' "$BATS_TEST_TMPDIR/prod.yaml"
    [ "$(grep -c '^ *image: ' "$BATS_TEST_TMPDIR/prod.yaml")" -eq 1 ]
    grep -q "image: $REG/dataenv@$pushed\$" "$BATS_TEST_TMPDIR/prod.yaml"
}

# YAML to JSON with the test's npm yaml package.
to_json() {
    node -e 'import(process.argv[1]).then((Y) => { for (const d of Y.parseAllDocuments(require("fs").readFileSync(process.argv[2], "utf8"))) console.log(JSON.stringify(d.toJS())); })' \
        "$KUBE_NPM/yaml/dist/index.js" "$1"
}

@test "kube generate: dataenv:latest-prod gives a Deployment and Service that validate" {
    run "$KILN" kube generate --service dataenv:latest-prod
    [ "$status" -eq 0 ]
    echo "$output" >"$BATS_TEST_TMPDIR/gen.yaml"
    run node "$KUBE_CHECK" "$KUBE_NPM" schema "$BATS_TEST_TMPDIR/gen.yaml"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"ok apps/v1 Deployment/dataenv"* ]]
    [[ $output == *"ok v1 Service/dataenv"* ]]
    run "$KILN" kube check "$BATS_TEST_TMPDIR/gen.yaml"
    [ "$status" -eq 0 ]
    [[ $output == *"Deployment/dataenv Service/dataenv" ]]
    local digest
    digest=$("$KILN" inspect -f .digest dataenv:latest-prod)
    to_json "$BATS_TEST_TMPDIR/gen.yaml" >"$BATS_TEST_TMPDIR/gen.json"
    local c='select(.kind == "Deployment") | .spec.template.spec.containers[0]'
    [ "$(jq -r "$c | .image" "$BATS_TEST_TMPDIR/gen.json")" = "dataenv@$digest" ]
    [ "$(jq -c "$c | .command" "$BATS_TEST_TMPDIR/gen.json")" = '["python3","--check-hash-based-pycs","never","-m","app.serve","app.main:app"]' ]
    [ "$(jq -r "$c | .workingDir" "$BATS_TEST_TMPDIR/gen.json")" = /app ]
    [ "$(jq -c "$c | .ports" "$BATS_TEST_TMPDIR/gen.json")" = '[{"containerPort":8000,"protocol":"TCP"}]' ]
    [ "$(jq -c "$c | .securityContext" "$BATS_TEST_TMPDIR/gen.json")" = '{"runAsUser":10001,"runAsGroup":10001,"runAsNonRoot":true}' ]
    # HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --start-interval=100ms --retries=3
    [ "$(jq -c "$c | .livenessProbe" "$BATS_TEST_TMPDIR/gen.json")" = '{"exec":{"command":["/usr/local/bin/healthcheck","-t","2"]},"periodSeconds":10,"timeoutSeconds":3,"failureThreshold":3}' ]
    [ "$(jq -c "$c | .startupProbe | [.periodSeconds, .failureThreshold]" "$BATS_TEST_TMPDIR/gen.json")" = '[1,40]' ]
    [ "$(jq -c 'select(.kind == "Service") | .spec.ports' "$BATS_TEST_TMPDIR/gen.json")" = '[{"name":"8000-tcp","port":8000,"targetPort":8000,"protocol":"TCP"}]' ]
    # -f writes the same to a file
    "$KILN" kube generate --service -f "$BATS_TEST_TMPDIR/gen2.yaml" dataenv:latest-prod
    cmp "$BATS_TEST_TMPDIR/gen.yaml" "$BATS_TEST_TMPDIR/gen2.yaml"
}

@test "kube generate: a container's command, env and user, the fields podman kube generate writes agree" {
    export KILN_ROOT="$BATS_TEST_TMPDIR/store"
    import_busybox
    mkdir -p "$BATS_TEST_TMPDIR/ctx"
    cat >"$BATS_TEST_TMPDIR/ctx/Dockerfile" <<'DF'
FROM busybox:test
ENV GREETING=hello
WORKDIR /srv
EXPOSE 8080 9090/udp
USER 1000:1000
HEALTHCHECK --interval=15s --timeout=4s --start-period=20s --retries=5 CMD ["/bin/true", "x"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["sleep 1000"]
DF
    "$KILN" build -q -t kt:1 "$BATS_TEST_TMPDIR/ctx" >/dev/null
    "$KILN" run -d --name kt --network none -e EXTRA=1 kt:1 >/dev/null
    run "$KILN" kube generate kt
    "$KILN" stop -t 1 kt >/dev/null 2>&1 || true
    "$KILN" rm kt >/dev/null 2>&1 || true
    [ "$status" -eq 0 ]
    echo "$output" >"$BATS_TEST_TMPDIR/kiln.yaml"
    run node "$KUBE_CHECK" "$KUBE_NPM" schema "$BATS_TEST_TMPDIR/kiln.yaml"
    [ "$status" -eq 0 ]
    to_json "$BATS_TEST_TMPDIR/kiln.yaml" >"$BATS_TEST_TMPDIR/kiln.json"
    local k='.spec.template.spec.containers[0]'
    # the env the container added, not the image's; startup: (20 + 5*15) s every 15 s
    [ "$(jq -c "$k.env" "$BATS_TEST_TMPDIR/kiln.json")" = '[{"name":"EXTRA","value":"1"}]' ]
    [ "$(jq -c "$k | [.command, .args, .workingDir]" "$BATS_TEST_TMPDIR/kiln.json")" = '[["/bin/sh","-c"],["sleep 1000"],"/srv"]' ]
    [ "$(jq -c "$k.ports" "$BATS_TEST_TMPDIR/kiln.json")" = '[{"containerPort":8080,"protocol":"TCP"},{"containerPort":9090,"protocol":"UDP"}]' ]
    [ "$(jq -c "$k.startupProbe | [.periodSeconds, .timeoutSeconds, .failureThreshold]" "$BATS_TEST_TMPDIR/kiln.json")" = '[15,4,7]' ]
    [ "$(jq -c "$k.livenessProbe.failureThreshold" "$BATS_TEST_TMPDIR/kiln.json")" = 5 ]
    [ "$(jq -r '.metadata.name' "$BATS_TEST_TMPDIR/kiln.json")" = kt ]

    # podman 4.3 on the same image and container (a private podman store)
    "$KILN" save --format docker-archive -o "$BATS_TEST_TMPDIR/kt.tar" kt:1
    local P=(podman --root "$BATS_TEST_TMPDIR/podman" --runroot "$BATS_TEST_TMPDIR/podman-run" --storage-driver vfs)
    "${P[@]}" load -q -i "$BATS_TEST_TMPDIR/kt.tar" >/dev/null
    "${P[@]}" create --name kt -e EXTRA=1 kt:1 >/dev/null
    "${P[@]}" kube generate kt >"$BATS_TEST_TMPDIR/podman.yaml"
    "${P[@]}" rm -f kt >/dev/null 2>&1 || true
    to_json "$BATS_TEST_TMPDIR/podman.yaml" >"$BATS_TEST_TMPDIR/podman.json"
    cat "$BATS_TEST_TMPDIR/podman.json"
    # podman writes a Pod; kiln the Deployment around the same pod spec
    local f
    for f in '.containers[0].name' '.containers[0].args' '.containers[0].env' \
        '.automountServiceAccountToken' '.enableServiceLinks'; do
        [ "$(jq -c ".spec$f" "$BATS_TEST_TMPDIR/podman.json")" = "$(jq -c ".spec.template.spec$f" "$BATS_TEST_TMPDIR/kiln.json")" ]
    done
}

@test "kube check: bad manifests give one clear error each (file:line:column)" {
    local d="$BATS_TEST_TMPDIR"
    printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: [p\n' >"$d/syntax.yaml"
    printf 'apiVersion: v1\nkind: Pdo\nmetadata: {name: p}\n' >"$d/kind.yaml"
    printf 'apiVersion: apps/v2\nkind: Deployment\nmetadata: {name: d}\n' >"$d/api.yaml"
    printf 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - port: eighty\n' >"$d/type.yaml"
    local f want
    for f in syntax kind api type; do
        run "$KILN" kube check "$d/$f.yaml"
        echo "$f: $output"
        [ "$status" -eq 1 ]
        [ "${#lines[@]}" -eq 1 ]
        case $f in
        syntax) want="kiln: $d/syntax.yaml:5:1: YAML: did not find expected ',' or ']'" ;;
        kind) want="kiln: $d/kind.yaml:1:1: Pdo/p: kind: unknown kind \"Pdo\" in apiVersion v1" ;;
        api) want="kiln: $d/api.yaml:1:1: Deployment/d: apiVersion: Deployment is not served as \"apps/v2\" (use apiVersion: apps/v1)" ;;
        type) want="kiln: $d/type.yaml:6:11: Service/s: spec.ports[0].port: expected an integer, got a string (eighty)" ;;
        esac
        [[ $output == "$want"* ]]
    done
    # runAsNonRoot against the image's USER (busybox:test has none: root)
    export KILN_ROOT="$BATS_TEST_TMPDIR/store"
    import_busybox
    local bb
    bb=$("$KILN" inspect -f .digest busybox:test)
    printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  securityContext: {runAsNonRoot: true}\n  containers:\n  - name: c\n    image: busybox@%s\n' \
        "$bb" >"$d/root.yaml"
    run "$KILN" kube check "$d/root.yaml"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "$output" = "kiln: $d/root.yaml:7:5: Pod/p: container c: runAsNonRoot, but image busybox@$bb runs as root (USER unset); set runAsUser" ]
    run "$KILN" kube check --no-images "$d/root.yaml"
    [ "$status" -eq 0 ]
    sed 's/runAsNonRoot: true/runAsNonRoot: true, runAsUser: 1000/' "$d/root.yaml" >"$d/uid.yaml"
    run "$KILN" kube check "$d/uid.yaml"
    [ "$status" -eq 0 ]
    [ "$output" = "$d/uid.yaml: Pod/p" ]
    run "$KILN" kube check "$d/missing.yaml"
    [ "$status" -eq 1 ]
    [[ $output == *"missing.yaml"* ]]
    run "$KILN" kube generate no-such-image:1
    [ "$status" -eq 1 ]
    [[ $output == *"no-such-image"* ]]
}
