#!/usr/bin/env bats
# The data environment without building it: build script flags (--dry-run), Makefile
# targets (make -n), health check tool, shell profile, Dockerfile shape, bench harness
# smoke. dataenv_build.bats builds the images and runs every target for real.

load helpers

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
SCRIPT=$ROOT/scripts/build-ml-container.sh
HC=${KILN_TEST_BUILD:-$ROOT/build}/healthcheck

setup() {
    setup_store
}

dry() {
    run "$SCRIPT" --dry-run "$@"
}

# --------------------------------------------------------------- build script flags
@test "build script: --help names every flag" {
    run "$SCRIPT" --help
    [ "$status" -eq 0 ]
    for f in --target --slim --without-rust --with-ml --with-tensorflow --with-airflow --platform --push \
        --registry --tag --no-cache --locked --verbose --help --dry-run; do
        [[ $output == *"$f"* ]] || { echo "missing $f"; return 1; }
    done
}

@test "build script: default is a development build tagged latest and the git commit" {
    dry
    [ "$status" -eq 0 ]
    short=$(git -C "$ROOT" rev-parse --short=12 HEAD)
    [[ $output == *" build -f $ROOT/dataenv/Dockerfile --target development "* ]]
    [[ $output == *"-t dataenv:latest -t dataenv:$short "* ]]
    [[ $output == *"--build-arg WITH_JUPYTER=1 "* ]]
    [[ $output == *"--build-arg FASTAPI_VERSION=0.92.0-1 "* ]]
    [[ $output == *"--label org.opencontainers.image.revision=$(git -C "$ROOT" rev-parse HEAD)"* ]]
    [[ $output == *" $ROOT/dataenv" ]] || [[ $output == *" $ROOT/dataenv "* ]]
    [[ $output != *--no-cache* ]]
    [[ $output != *--sbom* ]]
}

@test "build script: --target production tags latest-prod" {
    dry --target production
    [ "$status" -eq 0 ]
    [[ $output == *"--target production"* ]]
    [[ $output == *"-t dataenv:latest-prod "* ]]
    [[ $output != *"-t dataenv:latest "* ]]
    # production carries its SBOM as referrers (docs/sbom.md)
    [[ $output == *" --sbom "* ]]
}

@test "build script: --target rejects anything else" {
    dry --target staging
    [ "$status" -eq 2 ]
    [[ $output == *"development or production"* ]]
}

@test "build script: --slim and --with-ml set the framework build args" {
    dry --slim
    [[ $output == *"WITH_JUPYTER=0"* && $output == *"WITH_RUST=0"* && $output == *"WITH_ML=0"* ]]
    dry --with-ml
    [[ $output == *"WITH_JUPYTER=1"* && $output == *"WITH_RUST=1"* && $output == *"WITH_ML=1"* ]]
    dry --without-rust
    [[ $output == *"WITH_JUPYTER=1"* && $output == *"WITH_RUST=0"* ]]
    dry --slim --with-ml
    [ "$status" -eq 2 ]
}

@test "build script: --with-tensorflow and --with-airflow need PIP_INDEX_URL" {
    PIP_INDEX_URL= run "$SCRIPT" --dry-run --with-tensorflow
    [ "$status" -eq 2 ]
    [[ $output == *"not packaged for Debian"*"PIP_INDEX_URL"* ]]
    PIP_INDEX_URL=http://127.0.0.1:9/simple run "$SCRIPT" --dry-run --with-tensorflow --with-airflow
    [ "$status" -eq 0 ]
    [[ $output == *"WITH_TENSORFLOW=1"* && $output == *"WITH_AIRFLOW=1"* ]]
    [[ $output == *"PIP_INDEX_URL=http://127.0.0.1:9/simple"* ]]
}

@test "build script: --push --registry prefixes the tags and pushes each" {
    dry --push --registry 127.0.0.1:5000/team --tag extra:1
    [ "$status" -eq 0 ]
    [[ $output == *"-t 127.0.0.1:5000/team/dataenv:latest "* ]]
    [[ $output == *"-t extra:1 "* ]]
    [[ $output == *"push 127.0.0.1:5000/team/dataenv:latest"* ]]
    [[ $output == *"push extra:1"* ]]
    [ "$(grep -c ' push ' <<<"$output")" -eq 3 ]
    # production: the first push records the registry's digest for dataenv/deploy
    dry --target production --push --registry 127.0.0.1:5000/team
    [ "$status" -eq 0 ]
    [[ $output =~ " push --digestfile "[^\ ]+" 127.0.0.1:5000/team/dataenv:latest-prod" ]]
}

@test "build script: --no-cache --platform --verbose --locked reach the build" {
    # --locked needs the base image's pin (make ml-base writes it)
    printf 'BASE_IMAGE=localhost/debian:bookworm-slim\nBASE_DIGEST=sha256:%064d\n' 1 >"$BATS_TEST_TMPDIR/base.lock"
    DATAENV_BASE_LOCK=$BATS_TEST_TMPDIR/base.lock dry --no-cache --platform linux/amd64 --verbose --locked
    [ "$status" -eq 0 ]
    [[ $output == *"BASE_DIGEST=sha256:$(printf '%064d' 1)"* ]]
    [[ $output == *"--no-cache"* ]]
    [[ $output == *"--platform linux/amd64"* ]]
    [[ $output == *"--progress plain"* ]]
    [[ $output == *"DATAENV_LOCKED=1"* ]]
    [[ $output == *"ml-stage.sh --locked"* ]]
}

@test "build script: versions.conf keys are overridable from the environment and --build-arg" {
    APP_VERSION=9.8.7 run "$SCRIPT" --dry-run --target production --build-arg EXTRA=1
    [ "$status" -eq 0 ]
    [[ $output == *"--build-arg APP_VERSION=9.8.7 "* ]]
    [[ $output == *"org.opencontainers.image.version=9.8.7"* ]]
    [[ $output == *"--build-arg EXTRA=1 "* ]]
    dry --build-arg novalue
    [ "$status" -eq 2 ]
}

@test "build script: SOURCE_DATE_EPOCH given sets the epoch and the created label" {
    SOURCE_DATE_EPOCH=1700000000 run "$SCRIPT" --dry-run --target production
    [ "$(build_arg SOURCE_DATE_EPOCH)" = 1700000000 ]
    [[ $output == *"BUILD_DATE=2023-11-14T22:13:20Z"* ]]
    [[ $output == *"org.opencontainers.image.created=2023-11-14T22:13:20Z"* ]]
}

# A clone of this checkout to commit in; commit_at EPOCH MESSAGE commits all changes then.
clone_checkout() {
    git -C "$ROOT" rev-parse HEAD >/dev/null 2>&1 || skip "not a git checkout"
    CLONE=$BATS_TEST_TMPDIR/clone
    git clone -q "$ROOT" "$CLONE"
    cp "$SCRIPT" "$CLONE/scripts/" # the script under test, committed or not
}
commit_at() {
    GIT_AUTHOR_DATE="@$1 +0000" GIT_COMMITTER_DATE="@$1 +0000" \
        git -C "$CLONE" -c user.name=kiln-test -c user.email=kiln-test@localhost commit -qam "$2"
}
build_arg() { grep -o -- "--build-arg $1=[^ ]*" <<<"$output" | cut -d= -f2-; }

@test "build script: the epoch is the last commit of versions.conf or the locks; created is HEAD's" {
    clone_checkout
    unset SOURCE_DATE_EPOCH
    run "$CLONE/scripts/build-ml-container.sh" --dry-run
    epoch=$(build_arg SOURCE_DATE_EPOCH)
    [ "$epoch" = "$(git -C "$CLONE" log -1 --format=%ct -- dataenv/config/versions.conf dataenv/locks)" ]
    h=$(git -C "$CLONE" log -1 --format=%ct)
    # code: outside dataenv/, then the app only: the epoch stays, the labels follow HEAD
    echo "# more" >>"$CLONE/README.md" && commit_at $((h + 1000)) readme
    echo "# more" >>"$CLONE/dataenv/app/main.py" && commit_at $((h + 2000)) app
    run "$CLONE/scripts/build-ml-container.sh" --dry-run --target production
    [ "$(build_arg SOURCE_DATE_EPOCH)" = "$epoch" ]
    [ "$(build_arg BUILD_DATE)" = "$(date -u -d @$((h + 2000)) +%Y-%m-%dT%H:%M:%SZ)" ]
    [[ $output == *"org.opencontainers.image.created=$(date -u -d @$((h + 2000)) +%Y-%m-%dT%H:%M:%SZ)"* ]]
    [[ $output == *"org.opencontainers.image.revision=$(git -C "$CLONE" rev-parse HEAD) "* ]]
    # the pins: versions.conf, then a lock
    echo "# more" >>"$CLONE/dataenv/config/versions.conf" && commit_at $((h + 3000)) versions
    run "$CLONE/scripts/build-ml-container.sh" --dry-run
    [ "$(build_arg SOURCE_DATE_EPOCH)" = $((h + 3000)) ]
    echo "# more" >>"$CLONE/dataenv/locks/apt.lock" && commit_at $((h + 4000)) lock
    run "$CLONE/scripts/build-ml-container.sh" --dry-run --target production
    [ "$(build_arg SOURCE_DATE_EPOCH)" = $((h + 4000)) ]
    [ "$(build_arg BUILD_DATE)" = "$(date -u -d @$((h + 4000)) +%Y-%m-%dT%H:%M:%SZ)" ]
}

@test "build script: unknown options and missing values are errors" {
    dry --frobnicate
    [ "$status" -eq 2 ]
    dry --tag
    [ "$status" -eq 2 ]
}

# kiln builds for real (its --dry-run came first): a one-step build in this test's store
kiln_builds() {
    mkdir -p "$BATS_TEST_TMPDIR/probe" && echo p >"$BATS_TEST_TMPDIR/probe/f"
    printf 'FROM scratch\nCOPY f /f\n' >"$BATS_TEST_TMPDIR/probe/Dockerfile"
    kiln build -t probe:1 "$BATS_TEST_TMPDIR/probe" >/dev/null 2>&1
}

@test "build script: without a kiln that builds it says so instead of building" {
    kiln_builds && skip "kiln build builds"
    KILN=$KILN run "$SCRIPT"
    [ "$status" -ne 0 ]
    [[ $output == *"no build command yet"* || $output == *"can only plan builds"* ]]
}

# the script's kiln command line with --dry-run instead of the flags a plan has no use for
plan() {
    local cmd a skip_next=0
    cmd=$("$SCRIPT" --dry-run "$@" | sed -n 2p)
    read -r -a argv <<<"$cmd"
    args=()
    for a in "${argv[@]:2}"; do
        if [ $skip_next = 1 ]; then skip_next=0; continue; fi
        case $a in
        -t | --label | --iidfile) skip_next=1 ;;
        *) args+=("$a") ;;
        esac
    done
    run kiln build --dry-run "${args[@]}"
}

@test "kiln build --dry-run plans dataenv/Dockerfile with the script's build args" {
    kiln help build >/dev/null 2>&1 || skip "kiln build is not available yet"
    plan --target production
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
    [[ $output == *'Target: stage 3 "production"'* ]]
    [[ $output == *'stage 1 "python-builder": not needed'* ]]
    [[ $output == *"org.opencontainers.image.revision=$(git -C "$ROOT" rev-parse HEAD)"* ]]
    [[ $output == *'USER 10001:10001'* ]]
    plan
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
    [[ $output == *'Target: stage 2 "development"'* ]]
    [[ $output == *'stage 0 "system-base"'*'stage 1 "python-builder"'*'stage 2 "development"'* ]]
    [[ $output == *'Skipped stages:'*'stage 3 "production"'* ]]
}

# --------------------------------------------------------------- Makefile targets
@test "Makefile: every ml-* target is wired to the script or kiln" {
    cd "$ROOT"
    run make -n ml-build-prod ML_FLAGS=--no-cache
    [ "$status" -eq 0 ]
    [[ $output == *"build-ml-container.sh --name dataenv --target production --no-cache"* ]]
    run make -n ml-build-slim
    [[ $output == *"build-ml-container.sh --name dataenv --slim"* ]]
    run make -n ml-build
    [[ $output == *"scripts/ml-base.sh"* && $output == *" import "* ]]
    run make -n ml-test
    [[ $output == *"run --rm dataenv:latest python -m pytest"* ]]
    run make -n ml-shell
    [[ $output == *"shell dataenv:latest"* ]]
    run make -n ml-api
    [[ $output == *"run -d --name dataenv-api -e UVICORN_PORT=8000"*"dataenv:latest-prod"* ]]
    run make -n ml-jupyter
    [[ $output == *"jupyter notebook"* && $output == *"8888"* ]]
    for t in ml-lock ml-versions ml-stop bench bench-quick; do
        run make -n "$t"
        [ "$status" -eq 0 ] || { echo "make -n $t: $output"; return 1; }
    done
}

@test "ml-base.sh: the cache key follows the package set and the base's epoch, not the build's" {
    a=$(KILN_BASE_CACHE=$BATS_TEST_TMPDIR "$ROOT/scripts/ml-base.sh" --print-path)
    b=$(BASE_SOURCE_DATE_EPOCH=1 KILN_BASE_CACHE=$BATS_TEST_TMPDIR "$ROOT/scripts/ml-base.sh" --print-path)
    [[ $a == "$BATS_TEST_TMPDIR"/bookworm-slim-*.tar ]]
    [ "$a" != "$b" ]
    [ "$a" = "$(KILN_BASE_CACHE=$BATS_TEST_TMPDIR "$ROOT/scripts/ml-base.sh" --print-path)" ]
    # the app build's SOURCE_DATE_EPOCH (one per commit) makes no new base
    [ "$a" = "$(SOURCE_DATE_EPOCH=1 KILN_BASE_CACHE=$BATS_TEST_TMPDIR "$ROOT/scripts/ml-base.sh" --print-path)" ]
}

# --------------------------------------------------------------- health check tool
start_http() {
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$BATS_TEST_TMPDIR/www" && echo ok >"$BATS_TEST_TMPDIR/www/health"
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$BATS_TEST_TMPDIR/www" >/dev/null 2>&1 &
    srv=$!
    for _ in $(seq 50); do "$HC" -q "http://127.0.0.1:$port/health" && return 0; sleep 0.1; done
    return 1
}

@test "healthcheck: 0 on 2xx, 1 on 404, refused, and a bad URL" {
    start_http
    run "$HC" "http://127.0.0.1:$port/health"
    [ "$status" -eq 0 ]
    run "$HC" "http://localhost:$port/missing"
    [ "$status" -eq 1 ]
    [[ $output == *"status 404"* ]]
    kill "$srv"
    wait "$srv" 2>/dev/null || true
    run "$HC" "http://127.0.0.1:$port/health"
    [ "$status" -eq 1 ]
    run "$HC" "https://127.0.0.1/"
    [ "$status" -eq 1 ]
    HEALTHCHECK_URL=http://127.0.0.1:1/ run "$HC" -q
    [ "$status" -eq 1 ]
    [ -z "$output" ]
}

@test "healthcheck: a server that never answers fails within the timeout" {
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    ready=$BATS_TEST_TMPDIR/ready
    python3 -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1',$port)); s.listen(); open('$ready','w').close(); c=s.accept(); time.sleep(30)" &
    srv=$!
    for _ in $(seq 100); do [ -e "$ready" ] && break; sleep 0.05; done
    t0=$(date +%s%N)
    run "$HC" -t 0.5 "http://127.0.0.1:$port/health"
    t1=$(date +%s%N)
    kill "$srv"
    [ "$status" -eq 1 ]
    [[ $output == *"timed out"* ]]
    [ $(((t1 - t0) / 1000000)) -lt 3000 ]
}

@test "healthcheck: static and small" {
    run file "$HC"
    [[ $output == *"statically linked"* ]]
    [ "$(stat -c %s "$HC")" -lt 100000 ]
}

@test "ml-stage.sh: the healthcheck goes to \$BUILD even when a caller's MAKEFLAGS names another" {
    # `make asan` runs the tests with BUILD=build-asan in MAKEFLAGS; a nested make
    # took that over the environment's BUILD and the stage found no healthcheck.
    b=$BATS_TEST_TMPDIR/stage-build
    MAKEFLAGS="BUILD=$BATS_TEST_TMPDIR/elsewhere" BUILD=$b run bash "$ROOT/scripts/ml-stage.sh"
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
    [ -x "$b/healthcheck" ]
    [ ! -e "$BATS_TEST_TMPDIR/elsewhere/healthcheck" ]
    cmp "$b/healthcheck" "$ROOT/dataenv/.stage/bin/healthcheck"
}

# --------------------------------------------------------------- shell profile
# (bash raises SHLVL by one when it starts: SHLVL=0 in the environment is a top-level shell)
@test "profile: auto-activates only at SHLVL 1 with no venv active, and defines the aliases" {
    venv=$BATS_TEST_TMPDIR/venv
    mkdir -p "$venv/bin"
    echo 'VIRTUAL_ENV=active-from-test; export VIRTUAL_ENV' >"$venv/bin/activate"
    prof=$ROOT/dataenv/profile/dataenv.sh
    run env -u VIRTUAL_ENV SHLVL=0 DATAENV_VENV="$venv" bash --norc -c ". '$prof'; echo \"V=\$VIRTUAL_ENV\"; alias"
    [[ $output == *"V=active-from-test"* ]]
    for a in data ml fastapi airflow-web test lint ml-versions health-check; do
        [[ $output == *"alias $a="* ]] || { echo "no alias $a"; return 1; }
    done
    run env -u VIRTUAL_ENV SHLVL=1 DATAENV_VENV="$venv" bash --norc -c ". '$prof'; echo \"V=\$VIRTUAL_ENV\""
    [[ $output == *"V="* && $output != *active-from-test* ]]
    run env VIRTUAL_ENV=/other SHLVL=0 DATAENV_VENV="$venv" bash --norc -c ". '$prof'; echo \"V=\$VIRTUAL_ENV\""
    [[ $output == *"V=/other"* ]]
    run env -u VIRTUAL_ENV SHLVL=0 DATAENV_VENV="$BATS_TEST_TMPDIR/none" bash --norc -c ". '$prof'; echo \"V=\$VIRTUAL_ENV\""
    [[ $output == *"V="* && $output != *none* ]]
    run env SHLVL=2 DATAENV_VENV="$venv" PATH=/usr/bin:/bin bash --norc -c ". '$prof'; airflow_web"
    [ "$status" -eq 1 ]
    [[ $output == *"Airflow is not installed"* ]]
}

# --------------------------------------------------------------- Dockerfile shape
@test "Dockerfile: four stages, production non-root with healthcheck, port, labels" {
    df=$ROOT/dataenv/Dockerfile
    run grep -oE '^FROM [^ ]+ AS [a-z-]+' "$df"
    [ "${lines[0]##* }" = system-base ]
    [ "${lines[1]##* }" = python-builder ]
    [ "${lines[2]##* }" = development ]
    [ "${lines[3]##* }" = production ]
    prod=$(sed -n '/AS production/,$p' "$df")
    grep -q '^USER 10001:10001' <<<"$prod"
    grep -q '^EXPOSE 8000' <<<"$prod"
    grep -q 'CMD \["/usr/local/bin/healthcheck"' <<<"$prod"
    grep -q '^ENTRYPOINT \["python3", "--check-hash-based-pycs", "never", "-m", "app.serve", "app.main:app"\]' <<<"$prod"
    for l in created revision version source title; do
        grep -q "org.opencontainers.image.$l=" <<<"$prod" || { echo "label $l"; return 1; }
    done
    ! grep -qE 'build-essential|gcc|python3-dev|rustc|cargo' <<<"$prod"
    grep -q 'mount=type=cache,target=/var/cache/apt' "$df"
}

@test "versions.conf: every build arg the Dockerfile pins comes from it" {
    conf=$ROOT/dataenv/config/versions.conf
    for k in BASE_IMAGE PYTHON_VERSION FASTAPI_VERSION UVICORN_VERSION PANDAS_VERSION RUST_VERSION RUSTC_VERSION CARGO_VERSION APP_VERSION DUCKDB_VERSION DUCKDB_NPM_INTEGRITY; do
        grep -q "^$k=" "$conf" || { echo "missing $k"; return 1; }
    done
}

# --------------------------------------------------------------- bench harness
@test "bench: the harness starts (smoke)" {
    run "$ROOT/bench/run-all.sh" --smoke
    [ "$status" -eq 0 ]
    [[ $output == *"smoke ok"* ]]
}

# (the images themselves are built, run and checked in dataenv_build.bats)

@test "ml-versions: reports config, python and debian packages as JSON" {
    command -v dpkg-query >/dev/null || skip "no dpkg here"
    run "$ROOT/dataenv/bin/ml-versions" --format json
    [ "$status" -eq 0 ]
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["debian"]["dpkg"] and r["tools"]["python"] and "python" in r' "$output"
}
