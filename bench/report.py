#!/usr/bin/env python3
"""bench/report.py: turns the figures of one bench run into the terminal table, the
results JSON (every figure + tool versions, machine, date), a gnuplot chart of the
ratios and the generated part of docs/benchmarks.md.

  report.py --figures F.jsonl --meta META.json --out DIR [--docs docs/benchmarks.md]
"""
import argparse
import re
import json
import os
import shutil
import subprocess
import sys

KILN = "kiln"
HEAD = ["bench", "case", "scenario", "kiln", "peer", "peer figure", "ratio", "goal", "met?"]
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def load(path):
    figs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                figs.append(json.loads(line))
    return figs


def fmt_num(x, unit):
    if unit == "s":
        return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"
    if unit == "ms":
        return f"{x:.1f} ms"
    if unit == "MB":
        return f"{x:.1f} MB"
    if unit == "count":
        return f"{int(x)}"
    return f"{x:g} {unit}".strip()


def cell(fig):
    if fig is None:
        return "-"
    if fig.get("na"):
        return f"n/a ({fig['na']})"
    unit = fig.get("unit", "")
    if "median" in fig:
        s = fmt_num(fig["median"], unit)
        if fig.get("n", 1) > 1:
            s += f" [{fmt_num(fig['min'], unit).split()[0]}-{fmt_num(fig['max'], unit).split()[0]}] n={fig['n']}"
        if fig.get("cpu_s_median") is not None and unit == "s":
            s += f", cpu {fig['cpu_s_median']:.2f} s"
        own, tree = fig.get("own_rss_kb_max"), fig.get("rss_kb_max")
        if own and tree and round(tree / 1024) > round(own / 1024):
            s += f", {own / 1024:.0f} MB RSS (its tree {tree / 1024:.0f} MB)"
        elif own or tree:
            s += f", {(own or tree) / 1024:.0f} MB RSS"
        return s
    v = fig.get("value")
    if isinstance(v, float):
        return fmt_num(v, unit)
    return str(v)


def headline(fig):
    """The single number compared between tools (smaller is better)."""
    if fig is None or fig.get("na"):
        return None
    if "median" in fig:
        return fig["median"]
    v = fig.get("value")
    return v if isinstance(v, float) and fig.get("unit") != "count" else None


def ratio_text(k, p, peer):
    """kiln vs one peer, said plainly whichever way it goes."""
    a, b = headline(k), headline(p)
    if a is None or b is None or a <= 0 or b <= 0:
        return None, "-"
    r = b / a
    if abs(r - 1) < 0.005:
        return r, "even"
    if r >= 1:
        return r, f"kiln {r:.2f}x better"
    return r, f"{peer} {1 / r:.2f}x better"


# The goals the issues set, shown next to each figure. A goal: bench, case (regex),
# scenario (regex), the peer it is about (None: kiln alone), its text, and a check
# (kiln figure, peer figure) -> True/False/None (None: cannot tell).
MB64 = 64 * 1024


def _ratio(k, p):
    a, b = headline(k), headline(p)
    return b / a if a and b and a > 0 and b > 0 else None


def _at_least(x):
    return lambda k, p: None if _ratio(k, p) is None else _ratio(k, p) >= x


def _rss_ok(k):
    """kiln's own peak memory (its process; the tree's when only that was measured)."""
    rss = k.get("own_rss_kb_max") or k.get("rss_kb_max")
    return rss is None or rss < MB64


def _build(x):
    def check(k, p):
        r = _ratio(k, p)
        return None if r is None else (r >= x and _rss_ok(k))
    return check


def _below(limit):
    return lambda k, p: None if headline(k) is None else headline(k) < limit


MB100 = 100 * 1024


def _below_rss(limit, rss_kb):
    """under limit seconds (None: no time goal) and kiln's peak RSS under rss_kb"""
    def check(k, p):
        h = headline(k)
        if h is None:
            return None
        rss = k.get("own_rss_kb_max") or k.get("rss_kb_max")
        return (limit is None or h < limit) and (rss is None or rss < rss_kb)
    return check


def _value_is(want):
    return lambda k, p: None if not k or k.get("na") else k.get("value") == want


BUILD_CASES = r"(dataenv|seedlike)-(prod|dev)|files\d+k"
GOALS = [
    # issue 5: kiln build vs buildah build --layers, peak memory of kiln under 64 MB
    ("build", BUILD_CASES, "cold", "buildah", "<= 0.7x buildah, RSS < 64 MB", _build(1 / 0.7)),
    ("build", BUILD_CASES, "unchanged", "buildah", ">= 20x faster, RSS < 64 MB", _build(20)),
    ("build", BUILD_CASES, "edit", "buildah", ">= 7x faster, RSS < 64 MB", _build(7)),
    ("build", BUILD_CASES, "touch", "buildah", "runs nothing: >= 20x as unchanged, RSS < 64 MB", _build(20)),
    # issue 7: image sizes; issue 5/7: same digest from two clean builds
    ("size", r"dataenv-prod", "bytes", None, "<= 150 MB", lambda k, p: None if headline(k) is None else headline(k) <= 150),
    ("size", r"dataenv-dev", "bytes", None, "<= 1000 MB", lambda k, p: None if headline(k) is None else headline(k) <= 1000),
    ("size", r".*", "reproducible", None, "same digest", _value_is("yes")),
    # issue 2: import no slower than the fastest of podman import and umoci
    ("import", r".*", r".*", "*", "no slower than podman and umoci", _at_least(1)),
    # issue 4: within 1.5x of crun, at most a tenth of podman
    ("run", r".*", "start-to-exit", "crun", "<= 1.5x crun", _at_least(1 / 1.5)),
    ("run", r".*", "start-to-exit", "podman", "<= 0.1x podman", _at_least(10)),
    # issue 6: push then pull at most as long as skopeo copy
    ("registry", r".*", r"push\+pull", "skopeo", "<= skopeo", _at_least(1)),
    # issue 3: parse + expand a 2,000-line Dockerfile under 5 ms
    ("parse", r".*", r".*", None, "< 5 ms", _below(5)),
    # issue 7: kiln run -d of the production image to healthy under 2 s
    ("dataenv-api", r".*", "healthy", None, "< 2 s", _below(2)),
    # issue 16: two-platform builds (arm64 under QEMU) vs buildah --platform --manifest
    ("platform", r".*", "cold", "buildah", "<= 0.7x buildah", _at_least(1 / 0.7)),
    ("platform", r".*", "unchanged", "buildah", ">= 20x faster", _at_least(20)),
    # issue 17: SBOM under 1 s, scan of the development image under 2 s, RSS < 100 MB
    ("sbom", r".*", r".*", None, "< 1 s, RSS < 100 MB", _below_rss(1, MB100)),
    ("scan", r"dataenv-dev", r"scan-.*", None, "< 2 s, RSS < 100 MB", _below_rss(2, MB100)),
    ("scan", r".*", r".*", None, "RSS < 100 MB", _below_rss(None, MB100)),
]


def goal_of(key, peer, k, p):
    bench, case, scenario = key
    for g_bench, g_case, g_scen, g_peer, text, check in GOALS:
        if g_bench != bench or not re.fullmatch(g_case, case) or not re.fullmatch(g_scen, scenario):
            continue
        if g_peer is None or g_peer == "*" or g_peer == peer:
            if g_peer is None and peer not in (None, "buildah"):
                continue
            try:
                ok = check(k, p) if k and not k.get("na") else None
            except (TypeError, ZeroDivisionError):
                ok = None
            return text, {True: "yes", False: "NO", None: "-"}[ok]
    return "-", "-"


BENCH_ORDER = ["import", "build", "size", "run", "registry", "dataenv-api", "parse", "sbom", "scan",
               "platform"]


def rows_of(figs):
    rows = {}
    order = []
    # one section per measurement, in run order (build.sh also records size rows)
    figs = sorted(figs, key=lambda f: BENCH_ORDER.index(f["bench"]) if f.get("bench") in BENCH_ORDER else len(BENCH_ORDER))
    for f in figs:
        key = (f.get("bench", "?"), f.get("case", "?"), f.get("scenario", "?"))
        if key not in rows:
            rows[key] = {}
            order.append(key)
        rows[key][f.get("tool", "?")] = f
    return order, rows


def table(figs):
    order, rows = rows_of(figs)
    lines = []
    ratios = []
    for key in order:
        tools = rows[key]
        k = tools.get(KILN)
        peers = [t for t in tools if t != KILN]
        for peer in peers or [None]:
            p = tools.get(peer) if peer else None
            r, txt = ratio_text(k, p, peer) if peer else (None, "-")
            goal, met = goal_of(key, peer, k, p)
            lines.append([*key, cell(k), peer or "-", cell(p), txt, goal, met])
            if r is not None:
                ratios.append((f"{key[0]} {key[1]} {key[2]} vs {peer}", r))
    return lines, ratios


def render_plain(lines):
    head = HEAD
    w = [max(len(str(r[i])) for r in [head] + lines) for i in range(len(head))]
    out = ["  ".join(str(h).ljust(w[i]) for i, h in enumerate(head))]
    out.append("  ".join("-" * x for x in w))
    for r in lines:
        out.append("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))
    return "\n".join(out)


def render_md(lines):
    head = HEAD
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in lines:
        out.append("| " + " | ".join(str(c).replace("|", "/") for c in r) + " |")
    return "\n".join(out)


def chart(figs, ratios, out_dir):
    """PNG of the ratios (peer time / kiln time, log scale); without any ratio yet
    (kiln build not available), the peers' medians so the chart still shows the run."""
    if not shutil.which("gnuplot"):
        return None
    dat = os.path.join(out_dir, "chart.dat")
    svg = os.path.join(out_dir, "chart.png")
    if ratios:
        with open(dat, "w") as f:
            for i, (label, r) in enumerate(ratios):
                # green: kiln better, red: the peer better
                f.write(f'{i} "{label}" {r:.4f} {0x2e8b57 if r >= 1 else 0xcd3333}\n')
        ylabel, title, logy = "peer / kiln", "kiln vs peers: peer figure / kiln figure (green: kiln better, red: the peer better)", True
    else:
        timed = [f for f in figs if "median" in f and f.get("unit") == "s"]
        if not timed:
            return None
        with open(dat, "w") as f:
            for i, fg in enumerate(timed):
                f.write(f'{i} "{fg["case"]} {fg["scenario"]} {fg["tool"]}" {fg["median"]:.4f} {0x4682b4}\n')
        ylabel, title, logy = "median seconds", "peers only: kiln build not available yet", True
    n = sum(1 for _ in open(dat))
    script = f"""
set terminal png size {max(800, 60 * n + 260)},600
set output '{svg}'
set title '{title}'
set ylabel '{ylabel}'
set style fill solid 0.6
set boxwidth 0.7
set xtics rotate by 30 right nomirror
set bmargin 16
set lmargin 22
set xrange [-0.6:{n - 0.4}]
set grid ytics
{'set logscale y' if logy else ''}
set key off
{'set arrow from -1,1 to ' + str(n) + ',1 nohead dt 2' if ratios else ''}
plot '{dat}' using 1:3:4:xtic(2) with boxes lc rgb variable
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return svg


def update_docs(docs, md_table, meta, chart_rel, mode):
    with open(docs) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    m = meta.get("machine", {})
    tools = ", ".join(f"{k} {v}" for k, v in sorted(meta.get("tools", {}).items()))
    body = [
        BEGIN,
        f"Latest run: {meta.get('date', '?')} (`make {'bench' if mode == 'full' else 'bench-quick'}`"
        + (f", {meta['duration_s'] // 60} min {meta['duration_s'] % 60} s" if isinstance(meta.get("duration_s"), int) else "")
        + (f", commit {meta['commit']}" if meta.get("commit") else "")
        + f"), {m.get('cores', '?')} cores ({m.get('cpu', '?')}), {m.get('memory_gb', '?')} GB,"
        f" kernel {m.get('kernel', '?')}"
        + (f"; load average {m['loadavg_start']} at the start" if m.get("loadavg_start") else "")
        + (f", {m['loadavg_end']} at the end of the run" if m.get("loadavg_end") else "")
        + ".",
        "",
        f"Tools: {tools}.",
        "",
        md_table,
        "",
    ]
    if chart_rel:
        body += [f"![ratios]({chart_rel})", ""]
    body.append(END)
    pre, rest = text.split(BEGIN, 1)
    post = rest.split(END, 1)[1]
    with open(docs, "w") as f:
        f.write(pre + "\n".join(body) + post)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--figures", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--docs")
    ap.add_argument("--mode", default="full")
    a = ap.parse_args()
    figs = load(a.figures)
    with open(a.meta) as f:
        meta = json.load(f)
    os.makedirs(a.out, exist_ok=True)
    lines, ratios = table(figs)
    print(render_plain(lines))
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({**meta, "figures": figs}, f, indent=2, sort_keys=True)
        f.write("\n")
    svg = chart(figs, ratios, a.out)
    print(f"\nresults: {os.path.join(a.out, 'results.json')}" + (f"\nchart:   {svg}" if svg else ""))
    if a.docs:
        chart_rel = None
        if svg:
            dest = os.path.join(os.path.dirname(os.path.abspath(a.docs)), "benchmarks.png")
            shutil.copyfile(svg, dest)
            chart_rel = "benchmarks.png"
        update_docs(a.docs, render_md(lines), meta, chart_rel, a.mode)
        print(f"docs:    {a.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
