#!/usr/bin/env python3
"""bench/report.py: turns the figures of one bench run into the terminal table, the
results JSON (every figure + tool versions, machine, date), a gnuplot chart of the
ratios and the generated part of docs/benchmarks.md.

  report.py --figures F.jsonl --meta META.json --out DIR [--docs docs/benchmarks.md]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

KILN = "kiln"
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
        if fig.get("rss_kb_max"):
            s += f", {fig['rss_kb_max'] / 1024:.0f} MB RSS"
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
    if r >= 1:
        return r, f"kiln {r:.2f}x better"
    return r, f"{peer} {1 / r:.2f}x better"


def rows_of(figs):
    rows = {}
    order = []
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
            lines.append([*key, cell(k), peer or "-", cell(p), txt])
            if r is not None:
                ratios.append((f"{key[1]} {key[2]} vs {peer}", r))
    return lines, ratios


def render_plain(lines):
    head = ["bench", "case", "scenario", "kiln", "peer", "peer figure", "ratio"]
    w = [max(len(str(r[i])) for r in [head] + lines) for i in range(len(head))]
    out = ["  ".join(str(h).ljust(w[i]) for i, h in enumerate(head))]
    out.append("  ".join("-" * x for x in w))
    for r in lines:
        out.append("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))
    return "\n".join(out)


def render_md(lines):
    head = ["bench", "case", "scenario", "kiln", "peer", "peer figure", "ratio"]
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
                f.write(f'{i} "{label}" {r:.4f}\n')
        ylabel, title, logy = "peer / kiln (above 1: kiln better)", "kiln vs peers", True
    else:
        timed = [f for f in figs if "median" in f and f.get("unit") == "s"]
        if not timed:
            return None
        with open(dat, "w") as f:
            for i, fg in enumerate(timed):
                f.write(f'{i} "{fg["case"]} {fg["scenario"]} {fg["tool"]}" {fg["median"]:.4f}\n')
        ylabel, title, logy = "median seconds", "peers only: kiln build not available yet", True
    n = sum(1 for _ in open(dat))
    script = f"""
set terminal png size {max(640, 60 * n + 200)},520
set output '{svg}'
set title '{title}'
set ylabel '{ylabel}'
set style fill solid 0.6
set boxwidth 0.7
set xtics rotate by 30 right nomirror
set bmargin 12
set xrange [-0.6:{n - 0.4}]
set grid ytics
{'set logscale y' if logy else ''}
set key off
{'set arrow from -1,1 to ' + str(n) + ',1 nohead dt 2' if ratios else ''}
plot '{dat}' using 1:3:xtic(2) with boxes
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
        f"Latest run: {meta.get('date', '?')} (`make {'bench' if mode == 'full' else 'bench-quick'}`),"
        f" {m.get('cores', '?')} cores, {m.get('memory_gb', '?')} GB, kernel {m.get('kernel', '?')}"
        + (f", load average {m['loadavg_end']} at the end of the run" if m.get("loadavg_end") else "")
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
