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
  --cache REG/NAME  share the build cache through a registry: --cache-from and
                    --cache-to type=registry,ref=REG/NAME:cache-TARGET,mode=max
                    (an unreachable registry or a missing cache: a warning, a cold build)
  --cache-from SPEC / --cache-to SPEC   passed to kiln build as they are (repeatable)
  --locked          pin apt installs to dataenv/locks/apt.lock (or $DATAENV_APT_LOCK);
                    fail, naming the package, when the mirror lost a locked version;
                    and require the base image's pin (dataenv/locks/base.lock)
  --build-arg K=V   override one build arg (versions.conf values are the defaults)
  --verbose         plain progress output and the commands as they run
  --builder B       kiln (default) or buildah (the peer, same Dockerfile; for comparison)
  --dry-run         print the commands that would run and exit (alias: --print-cmd)
  -h, --help        this text

The base image is pinned by the digest `make ml-base` records in
dataenv/locks/base.lock (or $DATAENV_BASE_LOCK; BASE_DIGEST in the environment
overrides it): FROM names BASE_IMAGE@BASE_DIGEST, and a store whose BASE_IMAGE is
another image is refused before anything is built (make ml-base refreshes the pin).
Only the build args the target's stages declare are passed (kiln build --print-args);
a --build-arg nothing declares is passed all the same, and warned about.

Environment: KILN (kiln binary; default build/kiln, else kiln on PATH), KILN_ROOT,
DATAENV_DEPLOY (production builds write DATAENV_DEPLOY/generated, the Kubernetes
manifests' image layer; default dataenv/deploy), SOURCE_DATE_EPOCH (default: the commit time of the last change to
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
cache_repo="" cache_from=() cache_to=()

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
    --cache) need "$@"; cache_repo=${2%/}; shift ;;
    --cache=*) cache_repo=${1#*=}; cache_repo=${cache_repo%/} ;;
    --cache-from) need "$@"; cache_from+=("$2"); shift ;;
    --cache-from=*) cache_from+=("${1#*=}") ;;
    --cache-to) need "$@"; cache_to+=("$2"); shift ;;
    --cache-to=*) cache_to+=("${1#*=}") ;;
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
# development carries libduckdb from npm's linux-x64 bindings: other platforms are
# production-only for now
if [ -n "$platform" ] && [ "$target" = development ]; then
    for p in ${platform//,/ }; do
        case $p in linux/amd64 | amd64 | x86_64 | linux/x86_64) ;;
        *) die "--platform $p: the development image bundles linux/amd64 duckdb binaries; build --target production for $p" ;;
        esac
    done
fi

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

# The base image's pin (make ml-base): BASE_DIGEST for the BASE_IMAGE it names.
base_lock=${DATAENV_BASE_LOCK:-$CONTEXT/locks/base.lock}
pin_from=$base_lock
if [ -n "${BASE_DIGEST+x}" ]; then
    conf[BASE_DIGEST]=$BASE_DIGEST
    conf_keys+=(BASE_DIGEST)
    pin_from="BASE_DIGEST in the environment"
elif [ -r "$base_lock" ]; then
    lock_image=$(sed -n 's/^BASE_IMAGE=//p' "$base_lock" | tail -n 1)
    if [ "$lock_image" = "${conf[BASE_IMAGE]:-}" ]; then
        conf[BASE_DIGEST]=$(sed -n 's/^BASE_DIGEST=//p' "$base_lock" | tail -n 1)
        [ -n "${conf[BASE_DIGEST]}" ] && conf_keys+=(BASE_DIGEST)
    fi
fi
if [ $locked = 1 ] && [ -z "${conf[BASE_DIGEST]:-}" ]; then
    die "--locked needs the base image pinned by digest, and $base_lock has no BASE_DIGEST for ${conf[BASE_IMAGE]:-the base image}: run make ml-base (it records the pin)"
fi
[ "$builder" = buildah ] && unset 'conf[BASE_DIGEST]' # kiln's digest, not buildah's storage's

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

if [ -n "${KILN:-}" ]; then
    kiln=$KILN
elif [ -x "$ROOT/build/kiln" ]; then
    kiln="$ROOT/build/kiln"
else
    kiln=$(command -v kiln || echo kiln)
fi

# Only the build args the chosen target's stages declare (kiln's stage graph says
# which: kiln build --print-args); the others (production's labels in a development
# build, base-image and npm pins) would only warn. Without a kiln that can say: every
# ARG the Dockerfile declares. --build-arg values are passed whatever they are, so one
# nothing declares is warned about.
declared=""
if [ "$builder" = kiln ]; then
    declared=$("$kiln" build --print-args -f "$CONTEXT/Dockerfile" --target "$target" "$CONTEXT" \
        2>/dev/null | tr '\n' ' ') || declared=""
fi
if [ -z "$declared" ]; then
    declared=$(awk 'toupper($1)=="ARG"{for(i=2;i<=NF;i++){sub(/=.*/,"",$i); print $i}}' \
        "$CONTEXT/Dockerfile" | tr '\n' ' ')
fi
declared=" $declared "
args=()
add_arg() { [[ $declared == *" ${1%%=*} "* ]] && args+=("$1"); return 0; }
for k in "${conf_keys[@]}"; do
    [ -n "${conf[$k]+x}" ] && add_arg "$k=${conf[$k]}"
done
with_jupyter=1 with_rust=1
[ $slim = 1 ] && with_jupyter=0 with_rust=0
[ $no_rust = 1 ] && with_rust=0
for a in "WITH_JUPYTER=$with_jupyter" "WITH_RUST=$with_rust" "WITH_ML=$with_ml" "WITH_TENSORFLOW=$with_tf" \
    "WITH_AIRFLOW=$with_airflow" "DATAENV_LOCKED=$locked" "VCS_REF=$git_ref" \
    "BUILD_DATE=$build_date" "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"; do
    add_arg "$a"
done
[ -n "${PIP_INDEX_URL:-}" ] && add_arg "PIP_INDEX_URL=$PIP_INDEX_URL"
[ -n "${PIP_TRUSTED_HOST:-}" ] && add_arg "PIP_TRUSTED_HOST=$PIP_TRUSTED_HOST"
for a in "${user_args[@]+"${user_args[@]}"}"; do args+=("$a"); done

if [ $with_tf = 1 ] || [ $with_airflow = 1 ]; then
    [ -n "${PIP_INDEX_URL:-}" ] || die "--with-tensorflow/--with-airflow: TensorFlow and Airflow are not packaged for Debian; set PIP_INDEX_URL to a package index this machine reaches"
fi

iidfile=$(mktemp "${TMPDIR:-/tmp}/dataenv-iid.XXXXXX")
pushed_digest=$(mktemp "${TMPDIR:-/tmp}/dataenv-pushed.XXXXXX")
trap 'rm -f "$iidfile" "$pushed_digest"' EXIT

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
if [ -n "$cache_repo" ] && [ "$builder" = buildah ]; then
    cache_from+=("$cache_repo") # buildah: a repository, its cache tagged by key
    cache_to+=("$cache_repo")
elif [ -n "$cache_repo" ]; then
    cache_from+=("type=registry,ref=$cache_repo:cache-$target")
    cache_to+=("type=registry,ref=$cache_repo:cache-$target,mode=max")
fi
for c in "${cache_from[@]+"${cache_from[@]}"}"; do cmd+=(--cache-from "$c"); done
for c in "${cache_to[@]+"${cache_to[@]}"}"; do cmd+=(--cache-to "$c"); done
if [ "$builder" = kiln ]; then
    [ $verbose = 1 ] && cmd+=(--progress plain)
    cmd+=(--iidfile "$iidfile")
    # production carries its SBOM (SPDX and CycloneDX) as OCI referrers: pushed
    # with it, read back by `kiln sbom --attached` (docs/sbom.md)
    [ "$target" = production ] && cmd+=(--sbom)
else
    cmd+=(--timestamp "$SOURCE_DATE_EPOCH" --iidfile "$iidfile")
    [ $verbose = 0 ] && cmd+=(--quiet)
fi
cmd+=("$CONTEXT")

stage_cmd=("$ROOT/scripts/ml-stage.sh")
[ $locked = 1 ] && stage_cmd+=(--locked)
[ -n "$platform" ] && stage_cmd+=(--platform "$platform")

push_cmds=()
if [ $push = 1 ]; then
    for t in "${tags[@]}"; do
        # The first tag of a production push records the registry's digest for
        # dataenv/deploy (the manifests name the image by it).
        if [ "$builder" = kiln ] && [ "$target" = production ] && [ ${#push_cmds[@]} -eq 0 ]; then
            push_cmds+=("$kiln push --digestfile $pushed_digest $t")
        elif [ "$builder" = kiln ]; then
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

# The pin against the store, before anything is staged or built (kiln refuses it
# too, but cannot name the command that refreshes it).
if [ "$builder" = kiln ] && [ -n "${conf[BASE_DIGEST]:-}" ]; then
    have=$("$kiln" inspect "${conf[BASE_IMAGE]}" 2>/dev/null | jq -r '.[0].indexDigest // .[0].digest // empty' 2>/dev/null || true)
    if [ -n "$have" ] && [ "$have" != "${conf[BASE_DIGEST]}" ]; then
        die "the base image is pinned to ${conf[BASE_DIGEST]} ($pin_from) but the store's ${conf[BASE_IMAGE]} is $have; run make ml-base to refresh the pin (or load the pinned image)"
    fi
fi

[ $verbose = 1 ] && set -x
"${stage_cmd[@]}"
start=$(date +%s.%N)
"${cmd[@]}"
end=$(date +%s.%N)
for p in "${push_cmds[@]+"${push_cmds[@]}"}"; do $p; done
# Production: the Kubernetes manifests' generated layer (dataenv/deploy/generated,
# or DATAENV_DEPLOY/generated) names this image by digest, the pushed one after
# --push (the registry's manifest is gzip-compressed: another digest than the store's).
if [ "$target" = production ] && [ "$builder" = kiln ] && [ -z "$platform" ]; then
    deploy_args=(--image "${tags[0]}" --name "$prefix$name" --deploy "${DATAENV_DEPLOY:-$CONTEXT/deploy}")
    [ -s "$pushed_digest" ] && deploy_args+=(--digest "$(cat "$pushed_digest")")
    KILN="$kiln" "$ROOT/scripts/ml-deploy-manifests.sh" "${deploy_args[@]}"
fi
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
            # an index (several platforms): the sum over its images
            bytes=$(jq -r '.manifests[]?.digest' "$store/blobs/sha256/${m#sha256:}" |
                while read -r d; do cat "$store/blobs/sha256/${d#sha256:}"; done |
                jq -s --slurpfile top "$store/blobs/sha256/${m#sha256:}" \
                    '[(if ($top[0].layers) then $top[0] else .[] end) | .layers[].size] | add')
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
