#!/usr/bin/env bats
# Kubernetes: dataenv/deploy rendered by kubectl's Kustomize and checked offline
# (API schemas of the npm package kubernetes-models, Pod Security "restricted"
# field by field), the digest the build script writes after a push, and
# `kiln kube generate`. Needs the production image (dataenv_image prod).
load helpers
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
