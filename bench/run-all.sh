#!/usr/bin/env bash
# bench/run-all.sh: kiln against its peers, every measurement in one run.
#
#   bench/run-all.sh --full     everything (about 35 minutes on 2 cores, plus the
#                               two-platform builds: an hour or more); writes
#                               bench/results/<date>-full/ (results.json, chart.png,
#                               figures.jsonl) and the generated part of docs/benchmarks.md
#   bench/run-all.sh --quick    every kind of measurement on less work, under 10 minutes
#                               (same outputs, the page says which mode made it)
#   bench/run-all.sh --smoke    checks the harness starts (used by `make test`): the
#                               scripts parse and the report turns figures into a table
#   --only "build size"         run only these measurement scripts
#
# Peers come from Debian's packages and are installed here when missing. The
# measurement scripts (bench/*.sh, contract in bench/lib.sh) run in this order when
# present: import build size run registry dataenv-api compose kube parse sbom scan, then
# (full run only) build-long and size-long: the four-stage cases (seedlike-dev,
# dataenv-dev), and platform: two-platform builds, arm64 under QEMU (issue 16; the longest).
# buildah and podman work in a storage of their own under the run's temporary
# directory (CONTAINERS_STORAGE_CONF), removed at the end: every run starts as on a
# fresh machine (no layer cached from an earlier run) and leaves the machine's
# /var/lib/containers alone. BENCH_SHARED_STORAGE=1 keeps the machine's storage.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# NAME-long: the same script with BENCH_PASS=long (the full run's multi-minute build
# cases and their sizes come last, so that everything else is in hand first)
SCRIPTS=(import build size run registry dataenv-api compose kube parse sbom scan build-long size-long platform-long)
PEERS="buildah podman podman-compose crun runc skopeo umoci mmdebstrap docker-registry hyperfine time gnuplot-nox jq"

mode=full only=""
while [ $# -gt 0 ]; do
    case "$1" in
    --full) mode=full ;;
    --quick) mode=quick ;;
    --smoke) mode=smoke ;;
    --only) only=$2; shift ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-all: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ -n "$only" ] && read -r -a SCRIPTS <<<"$only"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
cleanup() {
    # images the harness tagged in the peers' storage, then its own files
    if [ "$mode" != smoke ] && command -v buildah >/dev/null; then
        if [ -f "$tmp/containers/storage.conf" ]; then
            # the private storage: containers, images and their overlay mounts
            # (no `podman system reset`: it would remove the machine's /run/libpod)
            local b=(buildah --root "$tmp/containers/storage" --runroot "$tmp/containers/run")
            "${b[@]}" rm --all >/dev/null 2>&1 || true
            "${b[@]}" rmi --all --force >/dev/null 2>&1 || true
            findmnt -rn -o TARGET | grep -F "$tmp/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
        else
            buildah images --format '{{.Name}}:{{.Tag}}' 2>/dev/null | grep -E '(^|/)bench-' |
                xargs -r buildah rmi -f >/dev/null 2>&1 || true
        fi
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

if [ "$mode" = smoke ]; then
    for s in lib report "${SCRIPTS[@]}"; do
        f=$BENCH_DIR/${s%-long}.sh
        [ "$s" = report ] && continue
        [ -f "$f" ] || continue
        bash -n "$f" || { echo "run-all: $f does not parse" >&2; exit 1; }
    done
    python3 -c "import ast, sys; ast.parse(open(sys.argv[1]).read())" "$BENCH_DIR/report.py"
    cat >"$tmp/figures.jsonl" <<'EOF'
{"bench": "build", "case": "files20k", "scenario": "unchanged", "tool": "kiln", "unit": "s", "median": 0.5, "min": 0.4, "max": 0.6, "n": 5, "rss_kb_max": 20000}
{"bench": "build", "case": "files20k", "scenario": "unchanged", "tool": "buildah", "unit": "s", "median": 1.0, "min": 0.9, "max": 1.1, "n": 5}
{"bench": "build", "case": "smoke", "scenario": "cold", "tool": "kiln", "unit": "s", "median": 40.0, "min": 39, "max": 41, "n": 3}
{"bench": "build", "case": "smoke", "scenario": "cold", "tool": "buildah", "unit": "s", "median": 20.0, "min": 19, "max": 21, "n": 3}
{"bench": "size", "case": "smoke", "scenario": "bytes", "tool": "kiln", "na": "kiln build not available"}
{"bench": "parse", "case": "smoke", "scenario": "parse+expand", "tool": "kiln", "unit": "ms", "median": 3.5, "min": 2.0, "max": 4.0, "n": 50}
EOF
    echo '{"date": "smoke", "machine": {}, "tools": {}}' >"$tmp/meta.json"
    out=$(python3 "$BENCH_DIR/report.py" --figures "$tmp/figures.jsonl" --meta "$tmp/meta.json" --out "$tmp/out")
    grep -q 'kiln 2.00x better' <<<"$out" && grep -q 'buildah 2.00x better' <<<"$out" &&
        grep -q 'n/a (kiln build not available)' <<<"$out" &&
        grep -Eq 'files20k +unchanged .*>= 20x faster, RSS < 64 MB +NO' <<<"$out" &&
        grep -Eq 'parse\+expand .*< 5 ms +yes' <<<"$out" &&
        [ -s "$tmp/out/results.json" ] || { echo "$out"; echo "run-all: report is wrong" >&2; exit 1; }
    echo "$out"
    echo "run-all: smoke ok"
    exit 0
fi

# peers, from Debian's packages
missing=""
for p in $PEERS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "run-all: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    # shellcheck disable=SC2086
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ "${BENCH_SHARED_STORAGE:-0}" != 1 ]; then
    mkdir -p "$tmp/containers/storage" "$tmp/containers/run"
    printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' \
        "$tmp/containers/storage" "$tmp/containers/run" >"$tmp/containers/storage.conf"
    export CONTAINERS_STORAGE_CONF=$tmp/containers/storage.conf
    # buildah keeps RUN --mount=type=cache directories under TMPDIR (/var/tmp):
    # fresh too, as kiln's in its fresh store
    mkdir -p "$tmp/tmp"
    export TMPDIR=$tmp/tmp
fi
export BENCH_ROOT=$ROOT BENCH_TMP=$tmp BENCH_OUT=$tmp/figures.jsonl
export KILN=${KILN:-$ROOT/build/kiln} KILN_ROOT=$tmp/kiln-store
[ "$mode" = quick ] && export BENCH_QUICK=1 || export BENCH_QUICK=0
: >"$BENCH_OUT"
start=$(date +%s)
commit=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || commit="$commit (with local changes)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "run-all: $mode, $(nproc) cores, load average $load_start, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
for s in "${SCRIPTS[@]}"; do
    pass=short
    case $s in *-long)
        [ "$mode" = full ] || continue
        s=${s%-long} pass=long ;;
    esac
    f=$BENCH_DIR/$s.sh
    if [ ! -f "$f" ]; then
        echo "run-all: bench/$s.sh not there yet, skipped"
        continue
    fi
    echo "run-all: $s $([ $pass = long ] && echo "(long cases) ")($(($(date +%s) - start)) s so far)"
    BENCH_PASS=$pass bash "$f" || echo "run-all: bench/$s.sh failed (exit $?); its figures so far are kept"
done

ver() { "$@" 2>/dev/null | head -n 1 | tr -d '"' || true; }
dreg=$(dpkg-query -W -f='${Version}' docker-registry 2>/dev/null || true)
python3 - "$tmp/meta.json" "$mode" "$(($(date +%s) - start))" "$load_start" "$(uptime)" <<PY
import json, os, platform, sys
tools = {
    "kiln": """$(ver "$KILN" version)""",
    "buildah": """$(ver buildah --version)""",
    "podman": """$(ver podman --version)""",
    "crun": """$(ver crun --version)""",
    "runc": """$(ver runc --version)""",
    "skopeo": """$(ver skopeo --version)""",
    "umoci": """$(ver umoci --version)""",
    "mmdebstrap": """$(ver mmdebstrap --version)""",
    "docker-registry": """$dreg""",
    "hyperfine": """$(ver hyperfine --version)""",
}
mem = 0
with open("/proc/meminfo") as f:
    for line in f:
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) / 1024 / 1024
cpu = ""
with open("/proc/cpuinfo") as f:
    for line in f:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
meta = {
    "date": """$(date -u +%Y-%m-%dT%H:%M:%SZ)""",
    "mode": sys.argv[2],
    "duration_s": int(sys.argv[3]),
    "commit": """$commit""",
    "machine": {"cores": os.cpu_count(), "memory_gb": round(mem, 1), "cpu": cpu,
                "kernel": platform.release(), "arch": platform.machine(),
                "loadavg_start": sys.argv[4],
                "loadavg_end": " ".join(f"{x:.1f}" for x in os.getloadavg()),
                "uptime_end": sys.argv[5].strip()},
    "tools": {k: v.strip() or "not installed" for k, v in tools.items()},
}
json.dump(meta, open(sys.argv[1], "w"), indent=2)
PY

stamp=$(date -u +%Y%m%dT%H%M%SZ)
outdir=$ROOT/bench/results/$stamp-$mode
docs=(--docs "$ROOT/docs/benchmarks.md")
echo
python3 "$BENCH_DIR/report.py" --figures "$BENCH_OUT" --meta "$tmp/meta.json" --out "$outdir" \
    --mode "$mode" "${docs[@]}"
cp "$BENCH_OUT" "$outdir/figures.jsonl"
