#!/usr/bin/env bash
# ml-deploy-manifests.sh: writes dataenv/deploy/generated/, the Kustomize layer
# between the hand-written base and the overlays: the image by digest (an
# images: entry), the probes derived from the image's HEALTHCHECK and the
# versions ConfigMap from dataenv/config/versions.conf. Run with --help for the flags.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    cat <<'USAGE'
usage: scripts/ml-deploy-manifests.sh [OPTIONS]

Writes DEPLOY/generated/{kustomization.yaml,probes.yaml,versions.conf} for the
production image, read from the kiln store (KILN_ROOT):

  --image REF     the local image to describe (default dataenv:latest-prod)
  --name NAME     the image name the cluster pulls (default: REF without its tag)
  --digest D      the manifest digest the cluster pulls (default: REF's digest in
                  the store; give the pushed digest after a push)
  --deploy DIR    the deploy directory (default dataenv/deploy)
  -h, --help      this text

Environment: KILN (kiln binary; default build/kiln, else kiln on PATH), KILN_ROOT.
USAGE
}

die() {
    echo "ml-deploy-manifests: $*" >&2
    exit 2
}

image=dataenv:latest-prod name="" digest="" deploy="$ROOT/dataenv/deploy"
need() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --image) need "$@"; image=$2; shift ;;
    --name) need "$@"; name=$2; shift ;;
    --digest) need "$@"; digest=$2; shift ;;
    --deploy) need "$@"; deploy=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done
[ -d "$deploy/base" ] || die "$deploy/base not found (--deploy names the directory holding base/ and overlays/)"
command -v jq >/dev/null || die "jq is needed (make deps)"

if [ -n "${KILN:-}" ]; then
    kiln=$KILN
elif [ -x "$ROOT/build/kiln" ]; then
    kiln="$ROOT/build/kiln"
else
    kiln=$(command -v kiln || echo kiln)
fi

info=$("$kiln" inspect "$image") || die "no image $image in the store (make ml-build-prod)"
[ -n "$digest" ] || digest=$(jq -r '.[0].digest' <<<"$info")
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || die "digest '$digest' is not sha256:<64 hex>"
if [ -z "$name" ]; then
    name=${image%@*}
    # drop a tag, not a registry port
    [[ ${name##*/} == *:* ]] && name=${name%:*}
fi

# HEALTHCHECK (nanoseconds in the config) -> probes, in whole seconds (at least 1):
#   liveness   every Interval, Timeout, Retries failures   (docker: unhealthy)
#   readiness  the same test and timing: out of the Service while failing
#   startup    every StartInterval (else Interval) for StartPeriod + Retries*Interval,
#              the window in which docker would not yet call the container unhealthy
hc=$(jq -c '.[0].config.config.Healthcheck // empty' <<<"$info")
[ -n "$hc" ] || die "$image has no HEALTHCHECK: the probes are derived from it"
url=$(jq -r '.[0].config.config.Env // [] | map(select(startswith("HEALTHCHECK_URL="))) | .[0] // ""' <<<"$info")
path=/health
if [[ $url =~ ^https?://[^/]+(/.*)$ ]]; then path=${BASH_REMATCH[1]}; fi
probes=$(jq -r --arg path "$path" '
  def secs(ns): ((ns // 0) / 1e9 | ceil) as $s | if $s < 1 then 1 else $s end;
  (secs(.Interval // 30e9)) as $period | (secs(.Timeout // 30e9)) as $timeout |
  (.Retries // 3) as $retries |
  (if (.StartInterval // 0) > 0 then secs(.StartInterval) else $period end) as $speriod |
  ((((.StartPeriod // 0) / 1e9) + $retries * $period) / $speriod | ceil) as $sfail |
  def probe(p; f): "          httpGet:\n            path: \($path)\n            port: http\n" +
     "          periodSeconds: \(p)\n          timeoutSeconds: \($timeout)\n          failureThreshold: \(f)";
  "        # from the image HEALTHCHECK: \(.)\n" +
  "        startupProbe:\n" + probe($speriod; (if $sfail < 1 then 1 else $sfail end)) + "\n" +
  "        readinessProbe:\n" + probe($period; $retries) + "\n" +
  "        livenessProbe:\n" + probe($period; $retries)' <<<"$hc")

out="$deploy/generated"
tmp=$(mktemp -d "$deploy/.generated.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$ROOT/dataenv/config/versions.conf" "$tmp/versions.conf"
{
    echo "# Written by scripts/ml-deploy-manifests.sh from $image; do not edit."
    echo "apiVersion: apps/v1"
    echo "kind: Deployment"
    echo "metadata:"
    echo "  name: dataenv-api"
    echo "spec:"
    echo "  template:"
    echo "    spec:"
    echo "      containers:"
    echo "      - name: api"
    echo "$probes"
} >"$tmp/probes.yaml"
cat >"$tmp/kustomization.yaml" <<KUST
# Written by scripts/ml-deploy-manifests.sh from $image; do not edit.
# The built image's facts on top of ../base: what the cluster pulls (by digest),
# the probes from its HEALTHCHECK, the versions it was built from.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
bases:
  - ../base
images:
  - name: dataenv
    newName: $name
    digest: $digest
patchesStrategicMerge:
  - probes.yaml
configMapGenerator:
  - name: dataenv-versions
    files:
      - versions.conf
KUST
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "ml-deploy-manifests: $out: $name@$digest"
