#!/usr/bin/env bats
# The data environment built and run for real by kiln, through the Makefile
# targets and the build script's flags. One store for the whole file: the
# development and production images are built once (the base image from
# mmdebstrap, packages from Debian's mirror), every later build reuses the cache.
# TensorFlow and Airflow come from a local PEP 503 index serving stand-in wheels
# built here (tests/dataenv/make_index.py); --push goes to a local docker-registry.

load helpers
load ../registry/common
load same_output

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

setup_file() {
    command -v mmdebstrap >/dev/null || skip "mmdebstrap missing (make deps)"
    export KILN_ROOT="$BATS_FILE_TMPDIR/store"
    # The build script's own epoch (the last commit of versions.conf or the locks)
    unset SOURCE_DATE_EPOCH
    export REG_TMP="$BATS_FILE_TMPDIR"
    # Host ports of their own (RUN and the containers use the host network).
    ML_API_PORT=$(_free_port)
    ML_JUPYTER_PORT=$(_free_port)
    export ML_API_PORT ML_JUPYTER_PORT
    python3 "$ROOT/tests/dataenv/make_index.py" "$BATS_FILE_TMPDIR/index" \
        tensorflow=2.99.0:tensorflow apache-airflow=2.99.1:airflow
    local port
    port=$(_free_port)
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$BATS_FILE_TMPDIR/index" \
        >"$BATS_FILE_TMPDIR/index.log" 2>&1 3>&- &
    echo $! >"$BATS_FILE_TMPDIR/index.pid"
    _wait_port "$port"
    export PIP_INDEX_URL="http://127.0.0.1:$port/simple"
}

# A registry started by a test is that test's (teardown_file cannot see its REG_DIR,
# and a server left running holds bats' output open).
teardown() {
    registry_stop
}

teardown_file() {
    if [ -d "$BATS_FILE_TMPDIR/buildah" ]; then
        B_ROOT="$BATS_FILE_TMPDIR/buildah"
        bh rm -a >/dev/null 2>&1 || true
        bh rmi -a -f >/dev/null 2>&1 || true
    fi
    for id in $("$KILN" ps -q 2>/dev/null); do "$KILN" rm -f "$id" >/dev/null 2>&1 || true; done
    if [ -s "$BATS_FILE_TMPDIR/index.pid" ]; then
        kill "$(cat "$BATS_FILE_TMPDIR/index.pid")" 2>/dev/null || true
    fi
}

# The Makefile's targets, driving the kiln under test in this file's store.
ml() {
    make -s -C "$ROOT" --no-print-directory BUILD="${KILN_TEST_BUILD:-$ROOT/build}" \
        KILN_BIN="$KILN" "$@" 2>&1
}

# Fails the test with the end of the output when the last `run` failed.
ok() {
    [ "$status" -eq 0 ] || {
        echo "status $status"
        tail -n 40 <<<"$output"
        return 1
    }
}

have() { kiln inspect "$1" >/dev/null 2>&1 || { echo "$1 was not built (an earlier test failed)"; return 1; }; }

summary() { awk -v k="$1" '$1 == k { print $2 }' <<<"$output" | tail -n 1; }

# The image id (config digest): what the build summary prints and what a push keeps.
image_id() { kiln inspect "$1" | jq -r '.[0].id'; }

# --------------------------------------------------------------- development image
@test "make ml-build --with-tensorflow --with-airflow: from the local index, imports in the image" {
    run ml ml-build ML_FLAGS="--with-tensorflow --with-airflow"
    ok
    [[ $output == *"== dataenv build summary"* ]]
    # a development build warns about nothing (no production-only build args)
    ! grep -E '^(kiln: )?warning|warning: build arg' <<<"$output"
    size=$(summary size)
    echo "# development image: $size MB, built in $(awk '/build time/ {print $3}' <<<"$output") s" >&3
    # 1359 MB measured: 730 MB before Rust, whose step (rustc, cargo, gcc, LLVM 14) is 628 MB
    [ "${size%.*}" -le 1400 ]
    run kiln run --rm dataenv:latest python -c \
        'import tensorflow, airflow; assert tensorflow.dataenv_test_wheel and airflow.dataenv_test_wheel; print(tensorflow.__version__, airflow.__version__)'
    ok
    [ "$output" = "2.99.0 2.99.1" ]
    run kiln run --rm dataenv:latest cat /opt/venv/requirements.lock
    [[ $output == *"tensorflow==2.99.0"* && $output == *"apache-airflow==2.99.1"* ]]
    # pip asked our index, and nothing else could have answered
    grep -q '"GET /simple/tensorflow/ HTTP' "$BATS_FILE_TMPDIR/index.log"
    grep -q '"GET /files/apache_airflow-2.99.1-py3-none-any.whl HTTP' "$BATS_FILE_TMPDIR/index.log"
}

@test "--with-tensorflow: an unreachable PIP_INDEX_URL fails the build saying so" {
    have dataenv:latest
    closed=$(_free_port)
    PIP_INDEX_URL=http://127.0.0.1:$closed/simple run ml ml-build ML_FLAGS=--with-tensorflow
    [ "$status" -ne 0 ]
    [[ $output == *"error: tensorflow: package index PIP_INDEX_URL=http://127.0.0.1:$closed/simple is not reachable"* ]]
    # the image from the first build is still the one tagged
    run kiln run --rm dataenv:latest python -c 'import airflow'
    ok
}

@test "make ml-test: health check imports, duckdb, pytest, flake8 + mypy in the image" {
    have dataenv:latest
    run ml ml-test
    ok
    [[ $output == *"imports ok"* ]]
    [[ $output == *"passed"* ]]
    [[ $output == *"Success: no issues found"* ]]
}

@test "make ml-shell: a login shell with the venv, the tools and the aliases" {
    have dataenv:latest
    command -v script >/dev/null || skip "script (util-linux) missing"
    # (the terminal echoes the commands: what is checked is computed, never typed)
    cmds='python -c "import fastapi, pandas; print(1000+42)"; duckdb -csv -c "SELECT 2000+42 AS x"; pytest --version; mypy --version; echo "venv=$VIRTUAL_ENV"; for a in data ml fastapi airflow-web test lint ml-versions health-check; do alias "$a" >/dev/null && echo "alias-ok $a"; done; exit'
    # a terminal, so bash is interactive as for a user (kiln shell needs none)
    run timeout 120 script -qec "make -s -C '$ROOT' --no-print-directory BUILD='${KILN_TEST_BUILD:-$ROOT/build}' KILN_BIN='$KILN' ml-shell" /dev/null <<<"$cmds"
    ok
    [[ $output == *1042* ]]
    [[ $output == *2042* ]]
    [[ $output == *"pytest "[0-9]* ]]
    [[ $output == *"mypy "[0-9]* ]]
    [[ $output == *"venv=/opt/venv"* ]]
    for a in data ml fastapi airflow-web test lint ml-versions health-check; do
        [[ $output == *"alias-ok $a"* ]] || { echo "no alias $a: $output"; return 1; }
    done
}

@test "make ml-jupyter answers on /api; make ml-stop stops it" {
    have dataenv:latest
    run ml ml-jupyter
    ok
    url=$(grep -o 'http://127.0.0.1:[0-9]*/?token=[0-9a-f]*' <<<"$output")
    [[ $url == "http://127.0.0.1:$ML_JUPYTER_PORT/?token="* ]]
    run curl -fsS "http://127.0.0.1:$ML_JUPYTER_PORT/api?token=${url##*=}"
    ok
    [[ $output == *'"version"'* ]]
    run ml ml-stop
    [[ $output == *"stopped dataenv-jupyter"* ]]
    run curl -fsS -o /dev/null "http://127.0.0.1:$ML_JUPYTER_PORT/api"
    [ "$status" -ne 0 ]
    [ -z "$(kiln ps -q)" ]
}

@test "make ml-versions: the same packages as dpkg-query and pip list in the container" {
    have dataenv:latest
    run ml ml-versions
    ok
    [[ $output == *"== debian packages"* && $output == *tensorflow*2.99.0* ]]
    kiln versions --format json dataenv:latest >"$BATS_TEST_TMPDIR/report.json"
    kiln run --rm --entrypoint dpkg-query dataenv:latest -W -f '${db:Status-Abbrev} ${Package} ${Version}\n' \
        >"$BATS_TEST_TMPDIR/dpkg.txt"
    kiln run --rm -e PIP_DISABLE_PIP_VERSION_CHECK=1 dataenv:latest python -m pip list --format json \
        >"$BATS_TEST_TMPDIR/pip.json"
    python3 - "$BATS_TEST_TMPDIR" <<'PY'
import json, re, sys
d = sys.argv[1]
r = json.load(open(f"{d}/report.json"))
dpkg = {p: v for s, p, v in (l.split() for l in open(f"{d}/dpkg.txt")) if s == "ii"}
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
pip = {norm(p["name"]): p["version"] for p in json.load(open(f"{d}/pip.json"))}
rep = {norm(k): v for k, v in r["python"].items()}
assert r["debian"] == dpkg, set(r["debian"].items()) ^ set(dpkg.items())
assert rep == pip, set(rep.items()) ^ set(pip.items())
print(f"# kiln versions = dpkg-query ({len(dpkg)}) and pip list ({len(pip)})")
PY
}

@test "make ml-build --with-ml: PyTorch and scikit-learn from Debian on the cached stages, in kiln versions" {
    have dataenv:latest
    start=$(date +%s)
    run ml ml-build ML_NAME=dataenv-ml ML_FLAGS=--with-ml
    ok
    # built on the development build's steps: only the ML install and what follows it ran
    grep -q "Built sha256:[0-9a-f]* in [0-9.]*s: [0-9]* steps run, [1-9][0-9]* cached" <<<"$output"
    echo "# --with-ml: $(summary size) MB, $(($(date +%s) - start)) s on the cached stages (load $(cut -d' ' -f1 /proc/loadavg))" >&3
    run kiln run --rm dataenv-ml:latest python -c '
import importlib.metadata as md
import torch
from sklearn.linear_model import LinearRegression
x = torch.arange(4.0)
fit = LinearRegression().fit([[0], [1], [2]], [1, 3, 5])
print(float((x * x).sum()), round(float(fit.coef_[0]), 6))
print(md.version("torch"), md.version("scikit-learn"))'
    ok
    [ "${lines[0]}" = "14.0 2.0" ]
    report=$(kiln versions --format json dataenv-ml:latest)
    [ "$(jq -r '.python.torch + " " + .python["scikit-learn"]' <<<"$report")" = "${lines[1]}" ]
    # (dpkg-query lists in package order)
    deb=$(kiln run --rm --entrypoint dpkg-query dataenv-ml:latest -W -f '${Package}=${Version} ' python3-torch python3-sklearn)
    [ "$(jq -r '"python3-sklearn=" + .debian["python3-sklearn"] + " python3-torch=" + .debian["python3-torch"] + " "' <<<"$report")" = "$deb" ]
    run kiln versions dataenv-ml:latest
    [[ $output == *python3-torch* && $output == *scikit-learn* ]]
    # the default image has neither
    run kiln run --rm dataenv:latest python -c 'import torch'
    [ "$status" -ne 0 ]
}

# --------------------------------------------------------------- production image
@test "make ml-build-prod: at most 150 MB, uid 10001, labels true, no compiler or apt cache" {
    run ml ml-build-prod
    ok
    ! grep -E '^(kiln: )?warning|warning: build arg' <<<"$output"
    size=$(summary size)
    echo "# production image: $size MB" >&3
    [ "${size%.*}" -le 150 ]
    [ "$(summary digest)" = "$(image_id dataenv:latest-prod)" ]
    run kiln run --rm --entrypoint id dataenv:latest-prod -u
    [ "$output" = 10001 ]
    labels=$(kiln inspect dataenv:latest-prod | jq -c '.[0].config.config.Labels')
    rev=$(git -C "$ROOT" rev-parse HEAD)
    [[ $(jq -r '."org.opencontainers.image.revision"' <<<"$labels") == "$rev"* ]]
    # created: HEAD's commit time; the image's own created: the epoch
    [ "$(jq -r '."org.opencontainers.image.created"' <<<"$labels")" = \
        "$(date -u -d "@$(git -C "$ROOT" log -1 --format=%ct)" +%Y-%m-%dT%H:%M:%SZ)" ]
    [ "$(kiln inspect dataenv:latest-prod | jq -r '.[0].created')" = "$(date -u -d "@$(git -C "$ROOT" \
        log -1 --format=%ct -- dataenv/config/versions.conf dataenv/locks)" +%Y-%m-%dT%H:%M:%SZ)" ]
    [ "$(jq -r '."org.opencontainers.image.version"' <<<"$labels")" = \
        "$(sed -n 's/^APP_VERSION=//p' "$ROOT/dataenv/config/versions.conf")" ]
    [ "$(jq -r '."org.opencontainers.image.title"' <<<"$labels")" = dataenv ]
    [ "$(jq -r '."org.opencontainers.image.source"' <<<"$labels")" != null ]
    run kiln run --rm --user 0 --entrypoint sh dataenv:latest-prod -c \
        'for c in cc gcc g++ make rustc cargo; do command -v $c; done; ls /var/cache/apt/archives/*.deb /var/lib/apt/lists/*_Packages 2>/dev/null; true'
    [ -z "$output" ]
}

@test "make ml-api: kiln ps shows it healthy, /health returns the version; make ml-stop" {
    have dataenv:latest-prod
    run ml ml-api
    ok
    # behaviour is asserted; the time from kiln run -d to healthy is reported
    echo "# ml-api: $(grep -o 'healthy after [0-9.]* s' <<<"$output") (load $(cut -d' ' -f1 /proc/loadavg))" >&3
    run kiln ps
    [[ $output == *"(healthy)"*dataenv-api* ]]
    run curl -fsS "http://127.0.0.1:$ML_API_PORT/health"
    ok
    [ "$(jq -r .version <<<"$output")" = "$(sed -n 's/^APP_VERSION=//p' "$ROOT/dataenv/config/versions.conf")" ]
    [ "$(jq -r .status <<<"$output")" = ok ]
    run ml ml-stop
    [[ $output == *"stopped dataenv-api"* ]]
    run curl -fsS "http://127.0.0.1:$ML_API_PORT/health"
    [ "$status" -ne 0 ]
}

@test "production: two --no-cache builds give the digest of the cached one" {
    have dataenv:latest-prod
    want=$(image_id dataenv:latest-prod)
    for i in 1 2; do
        run ml ml-build-prod ML_FLAGS=--no-cache
        ok
        [ "$(summary digest)" = "$want" ] || { echo "build $i: $(summary digest) != $want"; return 1; }
    done
}

# CACHED or DONE: how the build in $output ran its step whose line contains $1
step() {
    local n
    n=$(grep -F -- "$1" <<<"$output" | grep -o '^#[0-9]*' | head -n 1)
    [ -n "$n" ] || { echo "no step '$1'" >&2; return 1; }
    grep -E "^$n (CACHED|DONE)" <<<"$output" | awk '{ print $2 }' | head -n 1
}
layers() { kiln inspect "$1" | jq -r '.[0].manifest.layers[].digest'; }

@test "a commit of code (outside dataenv/, then the app only): apt and venv steps cached, labels follow HEAD" {
    have dataenv:latest && have dataenv:latest-prod
    git -C "$ROOT" rev-parse HEAD >/dev/null 2>&1 || skip "not a git checkout"
    c=$BATS_FILE_TMPDIR/clone
    rm -rf "$c" && git clone -q "$ROOT" "$c"
    # this checkout's files as they are, committed or not (the same build inputs)
    tar -C "$ROOT" --exclude=dataenv/.stage -cf - dataenv scripts tools | tar -C "$c" -xf -
    cbuild() {
        BUILD=$BATS_FILE_TMPDIR/clone-build KILN=$KILN "$c/scripts/build-ml-container.sh" \
            --name dataenv-clone "$@" 2>&1
    }
    commit_at() {
        GIT_AUTHOR_DATE="@$1 +0000" GIT_COMMITTER_DATE="@$1 +0000" git -C "$c" \
            -c user.name=kiln-test -c user.email=kiln-test@localhost commit -q -m "$2" -- "$3"
    }
    h=$(git -C "$c" log -1 --format=%ct)
    echo "# a later commit" >>"$c/README.md" && commit_at $((h + 1000)) readme README.md
    run cbuild --target production
    ok
    [ "$(step 'apt-install python3-minimal')" = CACHED ]
    [ "$(layers dataenv-clone:latest-prod)" = "$(layers dataenv:latest-prod)" ]
    labels=$(kiln inspect dataenv-clone:latest-prod | jq -c '.[0].config.config.Labels')
    [[ $(jq -r '."org.opencontainers.image.revision"' <<<"$labels") == "$(git -C "$c" rev-parse HEAD)"* ]]
    [ "$(jq -r '."org.opencontainers.image.created"' <<<"$labels")" = \
        "$(date -u -d @$((h + 1000)) +%Y-%m-%dT%H:%M:%SZ)" ]
    run cbuild --with-tensorflow --with-airflow
    ok
    for s in 'ca-certificates curl git' python3-pip jupyter-notebook python3-torch 'python3 -m venv' 'pip freeze'; do
        [ "$(step "$s")" = CACHED ] || { echo "step $s: $(step "$s")"; return 1; }
    done
    [ "$(layers dataenv-clone:latest)" = "$(layers dataenv:latest)" ]
    # the app only: its COPY runs, the install above it stays
    echo "# a later commit" >>"$c/dataenv/app/main.py" && commit_at $((h + 2000)) app dataenv/app/main.py
    run cbuild --target production
    ok
    [ "$(step 'apt-install python3-minimal')" = CACHED ]
    [ "$(step 'COPY --chown=10001:10001 app/')" = DONE ]
    [ "$(step 'compileall')" = DONE ]
    [ "$(layers dataenv-clone:latest-prod | head -n -2)" = "$(layers dataenv:latest-prod | head -n -2)" ]
    [ "$(layers dataenv-clone:latest-prod | tail -n 2)" != "$(layers dataenv:latest-prod | tail -n 2)" ]
}

@test "--platform: the host's platform builds (from the cache); development is amd64 only; bad ones refused" {
    have dataenv:latest-prod
    want=$(image_id dataenv:latest-prod)
    run ml ml-build-prod ML_FLAGS="--platform linux/amd64"
    ok
    [ "$(summary digest)" = "$want" ]
    # arm64 production is tests/e2e/platform_dataenv.bats (minutes under emulation)
    run ml ml-build ML_FLAGS="--platform linux/arm64"
    [ "$status" -ne 0 ]
    [[ $output == *"the development image bundles linux/amd64 duckdb binaries"* ]]
    run ml ml-build-prod ML_FLAGS="--platform linux/sparc"
    [ "$status" -ne 0 ]
    [[ $output == *"architecture sparc is not supported"* ]]
}

@test "--tag --verbose: one more tag on the same image, plain progress and the commands shown" {
    have dataenv:latest-prod
    want=$(image_id dataenv:latest-prod)
    run ml ml-build-prod ML_FLAGS="--tag dataenv:extra-prod --verbose"
    ok
    [ "$(image_id dataenv:extra-prod)" = "$want" ]
    [[ $output == *"+ "*"/ml-stage.sh"* ]]
    [[ $output == *" build -f "*"-t dataenv:extra-prod "* ]]
    [[ $output == *"#1 [production 1/"* ]]
    grep -q '^  tags .* dataenv:extra-prod$' <<<"$output"
}

@test "--push --registry: every tag reaches a local registry, same image" {
    have dataenv:latest-prod
    command -v docker-registry >/dev/null || skip "docker-registry missing (make deps)"
    registry_start plain
    run ml ml-build-prod ML_FLAGS="--push --registry $REG/team"
    ok
    [[ $output == *"pushed"*"$REG/team/dataenv:latest-prod"* ]]
    want=$(image_id "$REG/team/dataenv:latest-prod")
    short=$(git -C "$ROOT" rev-parse --short=12 HEAD)
    for t in latest-prod "$short-prod"; do
        run skopeo inspect --raw --tls-verify=false "docker://$REG/team/dataenv:$t"
        ok
        [ "$(jq -r .config.digest <<<"$output")" = "$want" ]
    done
}

@test "make ml-lock: apt.lock and requirements.lock match dpkg-query and pip freeze" {
    have dataenv:latest && have dataenv:latest-prod
    locks=$BATS_FILE_TMPDIR/locks
    run ml ml-lock ML_LOCK_DIR="$locks"
    ok
    for img in dataenv:latest dataenv:latest-prod; do
        sed -n "/^# image: $img\$/,/^# image:/p" "$locks/apt.lock" | grep -v '^#' >"$BATS_TEST_TMPDIR/locked"
        kiln run --rm --entrypoint dpkg-query "$img" -W -f '${db:Status-Abbrev} ${Package}=${Version}\n' |
            awk '$1 == "ii" { print $2 }' | LC_ALL=C sort >"$BATS_TEST_TMPDIR/installed"
        [ -s "$BATS_TEST_TMPDIR/installed" ]
        diff "$BATS_TEST_TMPDIR/locked" "$BATS_TEST_TMPDIR/installed"
    done
    kiln run --rm -e PIP_DISABLE_PIP_VERSION_CHECK=1 dataenv:latest python -m pip freeze --all \
        >"$BATS_TEST_TMPDIR/freeze"
    diff "$locks/requirements.lock" "$BATS_TEST_TMPDIR/freeze"
    grep -qx 'tensorflow==2.99.0' "$locks/requirements.lock"
}

@test "--locked: builds pinned to the lock; a version the mirror lacks fails naming the package" {
    lock=$BATS_FILE_TMPDIR/locks/apt.lock
    [ -s "$lock" ] || { echo "no lock (the ml-lock test failed)"; return 1; }
    DATAENV_APT_LOCK=$lock run ml ml-build-prod ML_FLAGS=--locked
    ok
    run kiln run --rm --entrypoint dpkg-query dataenv:latest-prod -W -f '${Package}=${Version}\n' python3-starlette
    grep -qxF "$output" "$lock"
    # python3-starlette comes in as a dependency of python3-fastapi, not by name
    sed 's/^python3-starlette=.*/python3-starlette=0.0.1-kiln-missing/' "$lock" >"$BATS_TEST_TMPDIR/apt.lock"
    ! cmp -s "$lock" "$BATS_TEST_TMPDIR/apt.lock"
    DATAENV_APT_LOCK=$BATS_TEST_TMPDIR/apt.lock run ml ml-build-prod ML_FLAGS=--locked
    [ "$status" -ne 0 ]
    [[ $output == *"python3-starlette=0.0.1-kiln-missing (from apt.lock) is no longer on the mirror"* ]]
}

# --------------------------------------------------------------- the other variants
@test "make ml-build-slim: no Jupyter, no Rust, the rest from the cache" {
    have dataenv:latest
    run ml ml-build-slim ML_NAME=dataenv-slim
    ok
    [[ $output == *"dataenv-slim:latest"* ]]
    run kiln run --rm dataenv-slim:latest python -c 'import fastapi, pandas; import notebook'
    [ "$status" -ne 0 ]
    [[ $output == *"No module named 'notebook'"* ]]
    run kiln run --rm dataenv-slim:latest sh -c 'python -c "import fastapi, pandas" && duckdb -c "SELECT 1"'
    ok
    run kiln run --rm dataenv-slim:latest sh -c 'for c in rustc cargo; do command -v $c; done; ls -d /usr/lib/rustlib 2>/dev/null; true'
    ok
    [ -z "$output" ]
    run kiln versions --format json dataenv-slim:latest
    [ "$(jq -r '.debian.rustc // "none"' <<<"$output")" = none ]
    # the development image of the same file has it
    run kiln run --rm dataenv:latest rustc --version
    ok
    v=$(sed -n 's/^RUST_VERSION=//p' "$ROOT/dataenv/config/versions.conf")
    [[ $output == "rustc $v" || $output == "rustc $v "* ]]
}

# --------------------------------------------------------------- same output as buildah
# bench/seedlike (production and development) and dataenv/Dockerfile (production)
# built by kiln in this file's store (its apt cache mounts are warm from the builds
# above) and by `buildah build --layers --format docker` (1.28) from the same base
# image (kiln's, copied into buildah's storage by skopeo); root file systems and
# configs compared as tests/e2e/same_output.bash does. Left out: the volatile files
# tests/dataenv/same-output.volatile lists (with the reason); where buildah 1.28
# differs from BuildKit, the test says how.

# same_dataenv NAME CONTEXT DOCKERFILE SED [BUILD ARGS...]: buildah builds
# DOCKERFILE edited by the sed script SED.
same_dataenv() {
    local name=$1 ctx=$2 df=$3 sed_script=$4
    shift 4
    # buildah's cold builds of the three take about 10 minutes here (apt from the
    # mirror, no layer cached): KILN_TEST_SAME_DATAENV=0 leaves them out locally.
    [ "${KILN_TEST_SAME_DATAENV:-1}" = 1 ] || skip "KILN_TEST_SAME_DATAENV=0: not compared with buildah"
    command -v buildah >/dev/null || skip "buildah is not installed"
    command -v umoci >/dev/null || skip "umoci is not installed"
    run ml ml-base
    ok
    B_ROOT="$BATS_FILE_TMPDIR/buildah"
    B_STORE="overlay@$B_ROOT/root+$B_ROOT/run"
    export BUILDAH_RUNTIME=${BUILDAH_RUNTIME:-$(if [ -d /sys/fs/cgroup/unified ] && command -v runc >/dev/null; then echo runc; else echo crun; fi)}
    local base
    base=$(sed -n 's/^BASE_IMAGE=//p' "$ROOT/dataenv/config/versions.conf")
    skopeo copy -q "oci:$KILN_ROOT:$base" "containers-storage:[$B_STORE]$base"
    sed "$sed_script" "$df" >"$BATS_TEST_TMPDIR/Dockerfile.buildah"
    SAME_META_DIR="$BATS_TEST_TMPDIR/meta"
    mkdir -p "$SAME_META_DIR"
    # buildah leaves the /dev mount point of its RUN steps in the image;
    # BuildKit removes the mount stubs it made (the base has no /dev)
    echo "dev RUN mount point" >"$SAME_META_DIR/buildah.extra"
    # buildah moves a redefined variable (PATH) to the end of Env; BuildKit
    # replaces it in place
    echo "Env" >"$SAME_META_DIR/config.unordered"
    # what kiln's config has that buildah 1.28 cannot give
    echo "Healthcheck.StartInterval  HEALTHCHECK --start-interval (left out of buildah's Dockerfile)" \
        >"$SAME_META_DIR/config.kiln-only"
    SAME_VOLATILE="$ROOT/tests/dataenv/same-output.volatile"
    # The targets of the apt cache mounts hold what the base image has there
    # (BuildKit and kiln keep it); buildah 1.28 at times whites them out in the
    # layer of the RUN that mounts them: left out of the comparison.
    SAME_SKIP+=(--skip var/cache/apt --skip var/lib/apt/lists)
    local t0=$SECONDS
    run same_build_compare "$name" "$ctx" "$df" "$BATS_TEST_TMPDIR/Dockerfile.buildah" \
        --build-arg "BASE_IMAGE=$base" --build-arg SOURCE_DATE_EPOCH=1700000000 "$@"
    echo "# same as buildah, $name: $((SECONDS - t0)) s (load $(cut -d' ' -f1 /proc/loadavg))" >&3
    [ "$status" -eq 0 ] || { echo "$output" | head -n 80; return 1; }
    # the comparison saw the files (not two empty trees)
    [ "$(wc -l <"$BATS_TEST_TMPDIR/out-$name/kiln.tree")" -gt 1000 ]
}

# buildah makes a WORKDIR only when a later RUN or COPY needs it (so a COPY
# --chown makes it, owned as the COPY says); BuildKit makes it at WORKDIR, as the
# USER of the time: buildah's Dockerfile gets a RUN true after each WORKDIR.
SAME_WORKDIR_SED='/^WORKDIR /a RUN true'

@test "same as buildah: bench/seedlike production" {
    same_dataenv seedlike-prod "$ROOT/bench/seedlike" "$ROOT/bench/seedlike/Dockerfile" \
        "$SAME_WORKDIR_SED" --target production
}

@test "same as buildah: bench/seedlike development" {
    same_dataenv seedlike-dev "$ROOT/bench/seedlike" "$ROOT/bench/seedlike/Dockerfile" \
        "$SAME_WORKDIR_SED" --target development
}

@test "same as buildah: dataenv/Dockerfile production" {
    "$ROOT/scripts/ml-stage.sh" >/dev/null
    conf() { sed -n "s/^$1=//p" "$ROOT/dataenv/config/versions.conf" | tail -n 1; }
    # buildah 1.28 predates HEALTHCHECK --start-interval (a config-only flag)
    same_dataenv dataenv-prod "$ROOT/dataenv" "$ROOT/dataenv/Dockerfile" \
        "$SAME_WORKDIR_SED"$'\n''s/ --start-interval=[^ ]*//' --target production \
        --build-arg "FASTAPI_VERSION=$(conf FASTAPI_VERSION)" \
        --build-arg "UVICORN_VERSION=$(conf UVICORN_VERSION)" \
        --build-arg "APP_VERSION=$(conf APP_VERSION)" --build-arg "APP_SOURCE=$(conf APP_SOURCE)" \
        --build-arg VCS_REF=same-output --build-arg BUILD_DATE=2023-11-14T22:13:20Z
}
