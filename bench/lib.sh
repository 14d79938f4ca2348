# bench/lib.sh: shared by every bench/*.sh script (sourced, bash).
#
# Contract for a measurement script bench/NAME.sh:
#   - source this file; honour BENCH_QUICK=1 (fewer cases/runs);
#   - measure kiln and its peers on the same inputs, alternating runs (A B A B ...);
#   - record each figure with `bench_record` (one JSON line into $BENCH_OUT);
#   - write temporary files under $BENCH_TMP only and stop what it starts, by pid.
# bench/run-all.sh sets BENCH_OUT, BENCH_TMP, BENCH_ROOT and KILN and makes the report.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_ROOT=${BENCH_ROOT:-$(cd "$BENCH_DIR/.." && pwd)}
KILN=${KILN:-$BENCH_ROOT/build/kiln}
BENCH_QUICK=${BENCH_QUICK:-0}
if [ -z "${BENCH_TMP:-}" ]; then
    # a script run alone: its scratch directory goes when it exits (a script that
    # sets its own EXIT trap removes it there)
    BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
    trap 'rm -rf "$BENCH_TMP"' EXIT
fi
BENCH_OUT=${BENCH_OUT:-$BENCH_TMP/figures.jsonl}
BENCH_EPOCH=${BENCH_EPOCH:-1735689600}
# its own name, so that a bench run and a developer's builds never retag each other's base
BASE_REF=${BASE_REF:-localhost/kiln-bench/debian:bookworm-slim}
export KILN BENCH_OUT BENCH_TMP BENCH_QUICK BENCH_EPOCH BASE_REF

# runs for a measurement whose single run takes about $1 seconds (issue 8: at least 5
# where a run takes under a minute, 3 for longer ones; quick mode: 3 under 10 s, else 2)
bench_runs() {
    local secs=${1%.*}
    if [ "$BENCH_QUICK" = 1 ]; then
        [ "${secs:-0}" -ge 10 ] && echo 2 || echo 3
    else
        [ "${secs:-0}" -ge 60 ] && echo 3 || echo 5
    fi
}

bench_log() { echo "bench: $*" >&2; }

# kiln's commands are being written: a row is measured only when kiln has the command.
# `build` is probed with a real one-step build (its --dry-run came first).
kiln_has() {
    [ -x "$KILN" ] && "$KILN" help "$1" >/dev/null 2>&1 || return 1
    [ "$1" = build ] || return 0
    [ -f "$BENCH_TMP/.kiln-builds" ] && return 0
    [ -f "$BENCH_TMP/.kiln-no-build" ] && return 1
    local p=$BENCH_TMP/build-probe
    mkdir -p "$p/ctx" && echo probe >"$p/ctx/f" && printf 'FROM scratch\nCOPY f /f\n' >"$p/ctx/Dockerfile"
    if KILN_ROOT=$p/store "$KILN" build -t probe:1 "$p/ctx" >/dev/null 2>&1; then
        touch "$BENCH_TMP/.kiln-builds"
    else
        touch "$BENCH_TMP/.kiln-no-build"
        return 1
    fi
}

# The peers need runc on hosts whose cgroup2 mount still owns controllers (crun
# refuses "hybrid mode"); choose once.
buildah_runtime() {
    if [ -d /sys/fs/cgroup/unified ] && command -v runc >/dev/null; then echo runc; else echo crun; fi
}

# bench_time OUTFILE CMD...: runs CMD, appends "seconds max_rss_kb exit cpu_seconds
# own_rss_kb" to OUTFILE. Before it starts, untimed, `sync`: no run pays for the
# writeback of what the run before it (often the other tool's) left dirty. Wall time
# from the monotonic clock around /usr/bin/time, which gives the max RSS of the
# largest process in the tree that was waited for (for a build with RUN steps that
# is often the step's program, e.g. apt, not the builder) and the CPU time (user +
# system) of the whole tree: on a shared machine the wall time follows the load, the
# CPU time much less. own_rss_kb is the peak RSS (VmHWM) of CMD's own process, the
# tool itself, sampled every 50 ms (0 when it ended before the third sample).
bench_time() {
    local out=$1
    shift
    local t0 t1 rssf rss cpu rc tp sp done_pid pid="" own=0 line samples=0
    rssf=$(mktemp "$BENCH_TMP/rss.XXXXXX")
    sync
    t0=$(date +%s%N)
    /usr/bin/time -f '%M %U %S' -o "$rssf" "$@" >>"$BENCH_TMP/cmd.log" 2>&1 &
    tp=$!
    while :; do
        [ -n "$pid" ] || pid=$(pgrep -P "$tp" | head -n 1 || true)
        if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
            samples=$((samples + 1))
            while IFS= read -r line; do
                case $line in VmHWM:*)
                    line=${line#VmHWM:}
                    line=${line% kB}
                    [ "${line// /}" -gt "$own" ] 2>/dev/null && own=${line// /}
                    ;;
                esac
            done <"/proc/$pid/status" 2>/dev/null || true
        fi
        sleep 0.05 &
        sp=$!
        done_pid=""
        if wait -n -p done_pid "$tp" "$sp"; then rc=0; else rc=$?; fi
        [ "$done_pid" = "$tp" ] && break
    done
    t1=$(date +%s%N)
    # a run too short to be watched: its tree's figure stands for it (then the tool
    # is all there was)
    [ "$samples" -ge 3 ] || own=0
    kill "$sp" 2>/dev/null || true
    wait "$sp" 2>/dev/null || true
    read -r rss cpu <<<"$(tail -n 1 "$rssf" 2>/dev/null | awk '{ printf "%s %.3f", $1, $2 + $3 }')"
    [[ $rss =~ ^[0-9]+$ ]] || rss=0
    [[ $cpu =~ ^[0-9.]+$ ]] || cpu=0
    rm -f "$rssf"
    echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }') $rss $rc $cpu $own" >>"$out"
    return $rc
}

# bench_record KEY=VALUE...: one figure as a JSON line. Known keys: bench case
# scenario tool unit runs (space-separated numbers) rss_kb (space-separated: the
# process tree's) own_rss_kb (space-separated: the tool's own process) cpu_s
# (space-separated) value note load (the 1-minute load average when recorded).
# median/min/max are computed from runs, cpu_s_median from cpu_s.
bench_record() {
    python3 - "$@" >>"$BENCH_OUT" <<'PY'
import json, statistics, sys
rec = {}
for kv in sys.argv[1:]:
    k, _, v = kv.partition("=")
    rec[k] = v
for k in ("runs", "rss_kb", "own_rss_kb", "cpu_s"):
    if k in rec:
        rec[k] = [float(x) for x in rec[k].split()] if rec[k].strip() else []
if rec.get("runs"):
    r = rec["runs"]
    rec["median"] = statistics.median(r)
    rec["min"], rec["max"] = min(r), max(r)
    rec["n"] = len(r)
if rec.get("rss_kb"):
    rec["rss_kb_max"] = max(rec["rss_kb"])
# 0: the run ended before it was sampled; its tree's figure is then the tool's own
own = [o if o > 0 else t for o, t in zip(rec.get("own_rss_kb", []), rec.get("rss_kb", []))]
if own:
    rec["own_rss_kb_max"] = max(own)
if rec.get("cpu_s"):
    rec["cpu_s_median"] = statistics.median(rec["cpu_s"])
if "value" in rec:
    try:
        rec["value"] = float(rec["value"])
    except ValueError:
        pass
print(json.dumps(rec, sort_keys=True))
PY
}

# bench_na BENCH CASE SCENARIO TOOL WHY: a row that could not be measured.
bench_na() {
    bench_record bench="$1" case="$2" scenario="$3" tool="$4" na="$5"
}

# The base image, identical for every tool: the mmdebstrap tar (scripts/ml-base.sh)
# imported into buildah/podman storage and, when kiln import exists, a bench store.
bench_base_tar() { "$BENCH_ROOT/scripts/ml-base.sh"; }

bench_base_buildah() {
    # imported once per bench run, so that a stale base never survives a change of tar
    [ -f "$BENCH_TMP/.buildah-base" ] && return 0
    # a few tries: podman fails when another podman removes /run/libpod meanwhile
    local i tar
    tar=$(bench_base_tar) || return 1
    for i in 1 2 3; do
        if podman import --quiet --change 'CMD ["bash"]' "$tar" "$BASE_REF" >/dev/null &&
            buildah inspect --type image "$BASE_REF" >/dev/null 2>&1; then
            touch "$BENCH_TMP/.buildah-base"
            return 0
        fi
        sleep 2
    done
    bench_log "the base image could not be imported into buildah's storage"
    return 1
}

bench_base_kiln() {
    kiln_has import || return 1
    [ -f "$KILN_ROOT/.bench-base" ] && return 0
    SOURCE_DATE_EPOCH=$BENCH_EPOCH "$KILN" import "$(bench_base_tar)" -t "$BASE_REF" -c 'CMD ["bash"]' >/dev/null &&
        touch "$KILN_ROOT/.bench-base"
}
