#!/usr/bin/env bash
# build-ml-container.sh: builds the data environment (dataenv/) with kiln.
# Reads dataenv/config/versions.conf into build args, stages the files the
# Dockerfile copies (scripts/ml-stage.sh), builds, tags, optionally pushes, and
# prints a summary (image, digest, size, build time). Run with --help for the flags.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONTEXT="$ROOT/dataenv"
CONF="$CONTEXT/config/versions.conf"

usage() {
    cat <<'EOF'
usage: scripts/build-ml-container.sh [OPTIONS]

Builds dataenv/Dockerfile with kiln and tags NAME:latest (NAME:latest-prod for
production) and NAME:<git short commit> (NAME:<commit>-prod).

  --target T        development (default) or production
  --slim            no optional parts (no Jupyter, no Rust, no --with-* extras)
  --without-rust    no Rust toolchain in the development image (it is 628 MB of it)
  --with-ml         add PyTorch and scikit-learn (Debian's python3-torch, python3-sklearn)
  --with-tensorflow add TensorFlow with pip from PIP_INDEX_URL (not packaged for Debian)
  --with-airflow    add Apache Airflow with pip from PIP_INDEX_URL (not packaged for Debian)
  --platform P      target platform(s), e.g. linux/amd64 or linux/amd64,linux/arm64
  --push            push every tag after the build
  --registry R      prefix the tags with registry R (host[:port][/namespace])
  --tag T           tag the image T as well
  --name N          image name (default: APP_NAME from versions.conf, "dataenv")
  --no-cache        build every step again
  --locked          pin apt installs to dataenv/locks/apt.lock (or $DATAENV_APT_LOCK);
                    fail, naming the package, when the mirror lost a locked version
  --build-arg K=V   override one build arg (versions.conf values are the defaults)
  --verbose         plain progress output and the commands as they run
  --builder B       kiln (default) or buildah (the peer, same Dockerfile; for comparison)
  --dry-run         print the commands that would run and exit (alias: --print-cmd)
  -h, --help        this text

Environment: KILN (kiln binary; default build/kiln, else kiln on PATH), KILN_ROOT,
SOURCE_DATE_EPOCH (default: the commit time of the last change to
dataenv/config/versions.conf or dataenv/locks, so code commits keep the install
steps cached; the created label says HEAD's commit time), PIP_INDEX_URL,
PIP_TRUSTED_HOST, and any versions.conf key (overrides the file).
EOF
}

die() {
    echo "build-ml-container: $*" >&2
    exit 2
}

target=development slim=0 no_rust=0 with_ml=0 with_tf=0 with_airflow=0 platform="" push=0
registry="" extra_tags=() name="" no_cache=0 locked=0 verbose=0 dry_run=0 builder=kiln
user_args=()

need() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --target) need "$@"; target=$2; shift ;;
    --target=*) target=${1#*=} ;;
    --slim) slim=1 ;;
    --without-rust) no_rust=1 ;;
    --with-ml) with_ml=1 ;;
    --with-tensorflow) with_tf=1 ;;
    --with-airflow) with_airflow=1 ;;
    --platform) need "$@"; platform=$2; shift ;;
    --platform=*) platform=${1#*=} ;;
    --push) push=1 ;;
    --registry) need "$@"; registry=${2%/}; shift ;;
    --registry=*) registry=${1#*=}; registry=${registry%/} ;;
    --tag | -t) need "$@"; extra_tags+=("$2"); shift ;;
    --tag=*) extra_tags+=("${1#*=}") ;;
    --name) need "$@"; name=$2; shift ;;
    --no-cache) no_cache=1 ;;
    --locked) locked=1 ;;
    --build-arg) need "$@"; [[ $2 == *=* ]] || die "--build-arg wants KEY=VALUE, got '$2'"; user_args+=("$2"); shift ;;
    --verbose | -v) verbose=1 ;;
    --builder) need "$@"; builder=$2; shift ;;
    --dry-run | --print-cmd) dry_run=1 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done

case "$target" in development | production) ;; *) die "--target must be development or production, not '$target'" ;; esac
case "$builder" in kiln | buildah) ;; *) die "--builder must be kiln or buildah, not '$builder'" ;; esac
if [ $slim = 1 ] && [ $((with_ml + with_tf + with_airflow)) -gt 0 ]; then
    die "--slim builds without optional frameworks; drop --with-ml/--with-tensorflow/--with-airflow"
fi
[ -r "$CONF" ] || die "$CONF not found"

# versions.conf, with the environment overriding any key it names
declare -A conf=()
conf_keys=()
while IFS= read -r line; do
    [[ $line =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]] || continue
    k=${BASH_REMATCH[1]}
    v=${BASH_REMATCH[2]}
    [ -n "${!k+x}" ] && v=${!k}
    [ -z "${conf[$k]+x}" ] && conf_keys+=("$k")
    conf[$k]=$v
done <"$CONF"

name=${name:-${conf[APP_NAME]:-dataenv}}
git_ref=unknown git_short=nogit
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    git_ref=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
    git_short=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo nogit)
    if [ -n "$(git -C "$ROOT" status --porcelain -- dataenv tools 2>/dev/null)" ]; then
        git_ref="$git_ref-dirty"
    fi
fi
# Two times. The epoch (kiln's SOURCE_DATE_EPOCH: file mtimes, the image config's
# created, the SOURCE_DATE_EPOCH build arg that Debian's byte-compiling sees) is
# the commit time of the last change to what the installs are pinned by
# (versions.conf and the locks), so a commit of code leaves the apt and venv
# steps cached. The created label is the commit time of HEAD: when this source was
# made. SOURCE_DATE_EPOCH given sets both.
head_time=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || true)
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    created_epoch=$SOURCE_DATE_EPOCH
else
    SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct -- dataenv/config/versions.conf \
        dataenv/locks 2>/dev/null || true)
    SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-${head_time:-0}}
    created_epoch=${head_time:-$SOURCE_DATE_EPOCH}
fi
export SOURCE_DATE_EPOCH
build_date=$(date -u -d "@$created_epoch" +%Y-%m-%dT%H:%M:%SZ)

suffix=""
[ "$target" = production ] && suffix="-prod"
prefix=""
[ -n "$registry" ] && prefix="$registry/"
tags=("$prefix$name:latest$suffix" "$prefix$name:$git_short$suffix")
for t in "${extra_tags[@]+"${extra_tags[@]}"}"; do tags+=("$t"); done

# Only the versions.conf keys the Dockerfile declares as ARG become build args;
# the rest (base-image and npm pins) serve other scripts and would only warn.
declared=" $(awk 'toupper($1)=="ARG"{for(i=2;i<=NF;i++){sub(/=.*/,"",$i); print $i}}' \
    "$CONTEXT/Dockerfile" | tr '\n' ' ') "
args=()
for k in "${conf_keys[@]}"; do
    [[ $declared == *" $k "* ]] && args+=("$k=${conf[$k]}")
done
with_jupyter=1 with_rust=1
[ $slim = 1 ] && with_jupyter=0 with_rust=0
[ $no_rust = 1 ] && with_rust=0
args+=("WITH_JUPYTER=$with_jupyter" "WITH_RUST=$with_rust" "WITH_ML=$with_ml" "WITH_TENSORFLOW=$with_tf"
    "WITH_AIRFLOW=$with_airflow" "DATAENV_LOCKED=$locked" "VCS_REF=$git_ref"
    "BUILD_DATE=$build_date" "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH")
[ -n "${PIP_INDEX_URL:-}" ] && args+=("PIP_INDEX_URL=$PIP_INDEX_URL")
[ -n "${PIP_TRUSTED_HOST:-}" ] && args+=("PIP_TRUSTED_HOST=$PIP_TRUSTED_HOST")
for a in "${user_args[@]+"${user_args[@]}"}"; do args+=("$a"); done

if [ $with_tf = 1 ] || [ $with_airflow = 1 ]; then
    [ -n "${PIP_INDEX_URL:-}" ] || die "--with-tensorflow/--with-airflow: TensorFlow and Airflow are not packaged for Debian; set PIP_INDEX_URL to a package index this machine reaches"
fi

if [ -n "${KILN:-}" ]; then
    kiln=$KILN
elif [ -x "$ROOT/build/kiln" ]; then
    kiln="$ROOT/build/kiln"
else
    kiln=$(command -v kiln || echo kiln)
fi

iidfile=$(mktemp "${TMPDIR:-/tmp}/dataenv-iid.XXXXXX")
trap 'rm -f "$iidfile"' EXIT

cmd=()
if [ "$builder" = kiln ]; then
    cmd=("$kiln" build)
else
    cmd=(buildah build --layers --pull=never --format docker)
fi
cmd+=(-f "$CONTEXT/Dockerfile" --target "$target")
for t in "${tags[@]}"; do cmd+=(-t "$t"); done
for a in "${args[@]}"; do cmd+=(--build-arg "$a"); done
cmd+=(--label "org.opencontainers.image.revision=$git_ref"
    --label "org.opencontainers.image.created=$build_date"
    --label "org.opencontainers.image.version=${conf[APP_VERSION]:-0.0.0}")
[ -n "$platform" ] && cmd+=(--platform "$platform")
[ $no_cache = 1 ] && cmd+=(--no-cache)
if [ "$builder" = kiln ]; then
    [ $verbose = 1 ] && cmd+=(--progress plain)
    cmd+=(--iidfile "$iidfile")
else
    cmd+=(--timestamp "$SOURCE_DATE_EPOCH" --iidfile "$iidfile")
    [ $verbose = 0 ] && cmd+=(--quiet)
fi
cmd+=("$CONTEXT")

stage_cmd=("$ROOT/scripts/ml-stage.sh")
[ $locked = 1 ] && stage_cmd+=(--locked)

push_cmds=()
if [ $push = 1 ]; then
    for t in "${tags[@]}"; do
        if [ "$builder" = kiln ]; then
            push_cmds+=("$kiln push $t")
        else
            push_cmds+=("buildah push $t docker://$t")
        fi
    done
fi

if [ $dry_run = 1 ]; then
    printf '%q ' "${stage_cmd[@]}"
    echo
    printf '%q ' "${cmd[@]}"
    echo
    for p in "${push_cmds[@]+"${push_cmds[@]}"}"; do echo "$p"; done
    exit 0
fi

if [ "$builder" = kiln ] && ! "$kiln" help build >/dev/null 2>&1; then
    die "'$kiln' has no build command yet (kiln help build failed); build kiln with 'make' or use --builder buildah"
fi
if [ "$builder" = kiln ] && "$kiln" help build 2>/dev/null | grep -q 'without --dry-run this version fails'; then
    die "'$kiln' can only plan builds (--dry-run) so far; use --builder buildah until the build executor lands"
fi

[ $verbose = 1 ] && set -x
"${stage_cmd[@]}"
start=$(date +%s.%N)
"${cmd[@]}"
end=$(date +%s.%N)
for p in "${push_cmds[@]+"${push_cmds[@]}"}"; do $p; done
set +x

digest=$(cat "$iidfile" 2>/dev/null || true)
size=unknown
if [ "$builder" = buildah ]; then
    size=$(buildah images --format '{{.Size}}' "${tags[0]}" 2>/dev/null | sed -n 1p)
    size=${size:-unknown}
else
    # the store is a plain OCI layout: sum the manifest's layer sizes for the tag
    store=${KILN_ROOT:-/var/lib/kiln}
    if [ -r "$store/index.json" ] && command -v jq >/dev/null; then
        m=$(jq -r --arg t "${tags[0]}" --arg s "$name:latest$suffix" '.manifests[]
              | select(.annotations["org.opencontainers.image.ref.name"] as $r
                       | $r == $t or $r == $s or $r == ("localhost/" + $s)) | .digest' \
            "$store/index.json" | head -n 1)
        if [ -n "$m" ] && [ -r "$store/blobs/sha256/${m#sha256:}" ]; then
            [ -n "$digest" ] || digest=$m
            bytes=$(jq '[.layers[].size] | add' "$store/blobs/sha256/${m#sha256:}")
            size=$(awk -v b="$bytes" 'BEGIN { printf "%.1f MB", b / 1e6 }')
        fi
    fi
fi
secs=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')

echo
echo "== dataenv build summary"
printf '  %-10s %s\n' image "${tags[0]}" target "$target" tags "${tags[*]}" \
    digest "${digest:-unknown}" size "$size" "build time" "${secs} s" \
    revision "$git_ref" created "$build_date" epoch "$SOURCE_DATE_EPOCH"
[ $push = 1 ] && printf '  %-10s %s\n' pushed "${tags[*]}"
exit 0
