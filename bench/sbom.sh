#!/usr/bin/env bash
# bench/sbom.sh: `kiln sbom` of the data environment's development and
# production images (SPDX and CycloneDX), warm (snapshots already unpacked, as
# after a build or a first run). Goals (issue 17): under 1 s each, kiln's peak
# RSS under 100 MB. No peer is installable here (trivy and syft are not packaged
# for Debian 12), so it records kiln's figures alone.
#
# The images come from the store the tests share (KILN_TEST_IMAGES, default
# build/test-images; made there by `make ml-build` / `ml-build-prod` if missing)
# and are copied into a scratch store (kiln save | kiln load).
# Standalone: `bench/sbom.sh` prints the figures; under run-all it records them.
set -euo pipefail
own_tmp=${BENCH_TMP:-yes}
. "$(dirname "$0")/lib.sh"
[ "$own_tmp" = yes ] && trap 'rm -rf "$BENCH_TMP"' EXIT

shared=${KILN_TEST_IMAGES:-$BENCH_ROOT/build/test-images}
store=$BENCH_TMP/sbom-store
runs=$([ "$BENCH_QUICK" = 1 ] && echo 3 || echo 5)

for which in dev prod; do
    case $which in
    dev) tag=dataenv:latest target=ml-build ;;
    prod) tag=dataenv:latest-prod target=ml-build-prod ;;
    esac
    if ! KILN_ROOT=$shared/store "$KILN" inspect -f .id "$tag" >/dev/null 2>&1; then
        bench_log "building $tag into $shared/store (make $target)"
        mkdir -p "$shared"
        (flock 9 && KILN_ROOT=$shared/store make -s -C "$BENCH_ROOT" KILN_BIN="$KILN" "$target" \
            >"$shared/$which.log" 2>&1) 9>"$shared/lock"
    fi
    KILN_ROOT=$shared/store "$KILN" save -o - "$tag" | KILN_ROOT=$store "$KILN" load -i - >/dev/null
    # the first SBOM unpacks the layers (a build leaves them unpacked): not measured
    KILN_ROOT=$store "$KILN" sbom "$tag" -o /dev/null 2>/dev/null
    for fmt in spdx-json cyclonedx-json; do
        out=$BENCH_TMP/sbom-$which-$fmt.times
        : >"$out"
        for _ in $(seq "$runs"); do
            KILN_ROOT=$store bench_time "$out" "$KILN" sbom "$tag" --format "$fmt" -o "$BENCH_TMP/out.json"
        done
        secs=$(awk '{ print $1 }' "$out" | tr '\n' ' ')
        rss=$(awk '{ print $2 }' "$out" | tr '\n' ' ')
        cpu=$(awk '{ print $4 }' "$out" | tr '\n' ' ')
        pkgs=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d.get("packages", d.get("components", []))))' "$BENCH_TMP/out.json")
        bench_record bench=sbom case="dataenv-$which" scenario="$fmt" tool=kiln unit=s \
            runs="$secs" rss_kb="$rss" cpu_s="$cpu" note="$pkgs entries" \
            load="$(cut -d' ' -f1 /proc/loadavg)"
        med=$(tr ' ' '\n' <<<"$secs" | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
        cmed=$(tr ' ' '\n' <<<"$cpu" | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
        max_rss=$(tr ' ' '\n' <<<"$rss" | grep . | sort -n | tail -n 1)
        printf 'sbom %-5s %-15s median %6.3f s wall, %5.2f s CPU; peak RSS %5.1f MB (%s entries, %s runs, load %s)\n' \
            "$which" "$fmt" "$med" "$cmed" "$(awk -v k="$max_rss" 'BEGIN { print k / 1024 }')" "$pkgs" \
            "$runs" "$(cut -d' ' -f1 /proc/loadavg)"
    done
done
