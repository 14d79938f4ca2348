#!/usr/bin/env bash
# bench/platform.sh: two-platform builds (linux/amd64 + linux/arm64, arm64 under QEMU
# through binfmt_misc for both tools) of bench/seedlike --target production, kiln vs
# `buildah build --platform linux/amd64,linux/arm64 --manifest`, same Dockerfile,
# context and base (an amd64+arm64 index of the mmdebstrap tars, scripts/ml-base.sh).
# Scenarios, alternating kiln buildah kiln buildah ...:
#   cold       --no-cache (apt cache mounts warm: one untimed warm-up build each of
#              a small Dockerfile that runs seedlike's apt-get update and downloads,
#              without installing, every package its stages install, for both
#              platforms, into the same cache mounts: under QEMU a full warm-up
#              build is as long as a cold one, and buildah's takes an hour)
#   unchanged  the same build again
# Also recorded: kiln's arm64 step times over its amd64 ones in a cold build (the
# emulation cost, from --progress=plain's "DONE n.ns" lines).
# Not run by make test. BENCH_QUICK=1: 2 runs per scenario; BENCH_PLATFORM_RUNS=N
# sets the runs per scenario (a two-platform cold build takes many minutes).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export BUILDAH_RUNTIME=${BUILDAH_RUNTIME:-$(buildah_runtime)}
export KILN_ROOT=${KILN_ROOT:-$BENCH_TMP/kiln-store}
mkdir -p "$KILN_ROOT"
PLATFORMS=linux/amd64,linux/arm64
# buildah: "together" (default: one `buildah build --platform a,b --manifest`, as
# the issue names it) or "sequential" (one build per platform into one list)
BUILDAH_PLATFORMS=${BENCH_BUILDAH_PLATFORMS:-together}
MREF=${BASE_REF}-multi
CTX=$BENCH_TMP/ctx/seedlike

# The warm-up Dockerfile: seedlike's keep-debs setting and its apt cache mounts, and
# one apt-get install --download-only of the packages of all its apt steps, with the
# version pins its ARGs give (read from the Dockerfile, so the two cannot drift).
warm_dockerfile() {
    local df=$BENCH_DIR/seedlike/Dockerfile pkgs fa uv
    fa=$(sed -n 's/^ARG FASTAPI_VERSION=//p' "$df")
    uv=$(sed -n 's/^ARG UVICORN_VERSION=//p' "$df")
    pkgs=$(awk '/apt-get install/ { on = 1 } on { print } on && !/\\$/ { on = 0 }' "$df" |
        tr -d '\\' | tr ' ' '\n' | grep -v -e '^$' -e '^-' -e '^&&$' -e '^apt-get$' -e '^install$' |
        sed -e "s/\${FASTAPI_VERSION}/$fa/" -e "s/\${UVICORN_VERSION}/$uv/" | sort -u | tr '\n' ' ')
    cat <<EOD
ARG BASE_IMAGE
FROM \${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
RUN echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > /etc/apt/apt.conf.d/01keep-debs
RUN --mount=type=cache,target=/var/cache/apt \\
    --mount=type=cache,target=/var/lib/apt/lists \\
    apt-get update && apt-get install -y --no-install-recommends --download-only $pkgs
EOD
}

prepare() {
    mkdir -p "$BENCH_TMP/ctx/warm" "$BENCH_TMP/buildah-tmp"
    [ -d "$CTX" ] || cp -a "$BENCH_DIR/seedlike" "$CTX"
    warm_dockerfile >"$BENCH_TMP/ctx/warm/Dockerfile"
    local amd arm
    amd=$("$BENCH_ROOT/scripts/ml-base.sh")
    arm=$("$BENCH_ROOT/scripts/ml-base.sh" --arch arm64)
    # kiln: both imported, one index
    SOURCE_DATE_EPOCH=$BENCH_EPOCH "$KILN" import "$amd" -t "$MREF-amd64" -c 'CMD ["bash"]' >/dev/null
    SOURCE_DATE_EPOCH=$BENCH_EPOCH "$KILN" import --platform linux/arm64 "$arm" -t "$MREF-arm64" -c 'CMD ["bash"]' >/dev/null
    "$KILN" index "$MREF" "$MREF-amd64" "$MREF-arm64" >/dev/null
    # buildah: the same two images (copied from kiln's store), one manifest list
    local a
    for a in amd64 arm64; do
        skopeo copy -q "oci:$KILN_ROOT:$MREF-$a" "containers-storage:$MREF-$a"
    done
    buildah manifest rm "$MREF" >/dev/null 2>&1 || true
    buildah manifest create "$MREF" "$MREF-amd64" "$MREF-arm64" >/dev/null
}

cmd() {
    local tool=$1 nocache=${2:-} ctx=$CTX
    local args=(--target production --build-arg "BASE_IMAGE=$MREF" --build-arg "SOURCE_DATE_EPOCH=$BENCH_EPOCH")
    [ -n "$nocache" ] && args+=(--no-cache)
    if [ "$nocache" = warm ]; then
        ctx=$BENCH_TMP/ctx/warm
        args=(--no-cache --build-arg "BASE_IMAGE=$MREF")
    fi
    if [ "$tool" = kiln ]; then
        # its progress into a file of its own (bench_time sends output to cmd.log);
        # exec keeps kiln the process bench_time watches
        CMD=(bash -c 'exec "$@" >"$0" 2>&1' "$BENCH_TMP/kiln.progress"
            env "SOURCE_DATE_EPOCH=$BENCH_EPOCH" "$KILN" build --progress=plain --platform "$PLATFORMS" -t "bench-platform:kiln" "${args[@]}" "$ctx")
    else
        buildah manifest rm localhost/bench-platform:buildah >/dev/null 2>&1 || true
        local b=(buildah build --layers --pull=never --network host --format oci --timestamp "$BENCH_EPOCH"
            --manifest localhost/bench-platform:buildah "${args[@]}")
        if [ "$BUILDAH_PLATFORMS" = together ]; then
            CMD=("${b[@]}" --platform "$PLATFORMS" "$ctx")
        else
            # one buildah build per platform into the same manifest list (buildah
            # 1.28's default --jobs 1 builds the platforms one after the other anyway)
            CMD=(bash -c 'ctx=${!#}; set -- "${@:1:$#-1}"
                for p in ${0//,/ }; do "$@" --platform "$p" "$ctx" || exit; done' "$PLATFORMS" "${b[@]}" "$ctx")
        fi
        # buildah keeps its cache mounts in $TMPDIR/buildah-cache-UID, one per target
        # path for every build on the machine: another buildah's apt step in the same
        # /var/cache/apt fails this one's ("Could not get lock
        # /var/cache/apt/archives/lock", seen 2026-12-06 beside a helper's bench)
        CMD=(env "TMPDIR=$BENCH_TMP/buildah-tmp" "${CMD[@]}")
    fi
}

prepare
for t in kiln buildah; do
    bench_log "warm-up $t (apt caches: downloads only)"
    cmd $t warm
    "${CMD[@]}" >>"$BENCH_TMP/cmd.log" 2>&1
    bench_log "warm-up $t done"
done
for s in cold unchanged; do
    n=${BENCH_PLATFORM_RUNS:-$([ "$BENCH_QUICK" = 1 ] && echo 2 || echo 3)}
    for t in kiln buildah; do : >"$BENCH_TMP/$s.$t"; done
    for ((i = 0; i < n; i++)); do
        for t in kiln buildah; do
            cmd $t $([ $s = cold ] && echo --no-cache)
            bench_time "$BENCH_TMP/$s.$t" "${CMD[@]}" || bench_log "$s $t failed (see $BENCH_TMP/cmd.log)"
            [ $t = kiln ] && [ $s = cold ] && cp "$BENCH_TMP/kiln.progress" "$BENCH_TMP/cold.kiln.progress"
            bench_log "$s $t: $(tail -n 1 "$BENCH_TMP/$s.$t" | cut -d' ' -f1) s"
        done
    done
    for t in kiln buildah; do
        f=$BENCH_TMP/$s.$t
        bench_record bench=platform case=seedlike-prod-2platforms scenario="$s" tool="$t" unit=s \
            runs="$(awk '{ printf "%s ", $1 }' "$f")" rss_kb="$(awk '{ printf "%s ", $2 }' "$f")" \
            cpu_s="$(awk '{ printf "%s ", $4 }' "$f")" own_rss_kb="$(awk '{ printf "%s ", $5 }' "$f")" load="$(cut -d' ' -f1 /proc/loadavg)"
    done
done
# emulation cost: each step's "#N [linux/ARCH ...]" line gives its platform, its
# "#N DONE s" its time. That time includes waits the progress does not always
# announce (for a job, for its turn at a shared cache mount the other platform's step
# holds), so a step with a log of its own (more than 5 "#N SECONDS text" lines: the
# apt steps, which print within a second of starting) counts from its first line on.
# Summed per platform over the last cold build.
read -r arm amd <<<"$(awk '/^#[0-9]+ \[linux\// { split($2, p, "/"); arch[$1] = p[2]; next }
     /^#[0-9]+ DONE / { d = $3 + 0; if (lines[$1] > 5 && first[$1] < d) d -= first[$1]
                        t[arch[$1]] += d; next }
     /^#[0-9]+ [0-9]+\.[0-9]+ / { if (!lines[$1]++) first[$1] = $2 + 0 }
     END { printf "%.1f %.1f\n", t["arm64"], t["amd64"] }' "$BENCH_TMP/cold.kiln.progress")"
if awk -v a="$amd" 'BEGIN { exit !(a > 0) }'; then
    ratio=$(awk -v a="$arm" -v b="$amd" 'BEGIN { printf "%.2f", a / b }')
    bench_log "emulation cost: arm64 steps ${arm} s, amd64 steps ${amd} s: ${ratio}x"
    bench_record bench=platform case=seedlike-prod-2platforms scenario=emulation-cost tool=kiln \
        unit=x value="$ratio" note="arm64 step times ${arm} s over amd64 ${amd} s (QEMU user emulation)"
fi
