#!/usr/bin/env python3
"""critpath.py: the chain of steps that decided a kiln build's time.

Reads `kiln build --progress json` events on stdin (every event has "time",
seconds since the build started) and walks back from the step that ended last:
each step's predecessor is the step that ended last before it started (what it
waited for: its parent step, a stage it copies from, or a job slot). Prints the
chain, then one line `critpath wall=W steps=S commands=C gaps=G` where S is the
chain's step time, C the part of it until each RUN step's last output line (the
commands' own work, a lower bound: a step's output ends before its commit), and
G the time on the chain when no step ran.

C is what any builder running the same commands one after another would spend
at least (if they run as fast as under kiln), so C divided by a peer's time is
the floor of the kiln/peer ratio for this Dockerfile on this machine.
"""
import json
import sys

SLACK = 0.05  # a step starts this long after what it waited for, at most


def main():
    steps = {}
    wall = 0.0
    for raw in sys.stdin:
        try:
            ev = json.loads(raw)
        except ValueError:
            continue
        t = ev.get("time")
        if t is None:
            continue
        wall = max(wall, t)
        if ev.get("type") == "summary":
            wall = ev.get("seconds", wall)
        if "id" not in ev:
            continue
        s = steps.setdefault(ev["id"], {"name": "", "start": None, "end": None, "log": None})
        if ev.get("type") == "log":
            s["log"] = t
        elif ev.get("type") == "step":
            s["name"] = ev.get("name", s["name"])
            if ev.get("state") == "running":
                s["start"] = t
            elif ev.get("state") == "done":
                s["end"] = t
    ran = {i: s for i, s in steps.items() if s["start"] is not None and s["end"] is not None}
    if not ran:
        print("critpath: no step ran (all cached?)", file=sys.stderr)
        return 1
    chain = [max(ran, key=lambda i: ran[i]["end"])]
    while True:
        start = ran[chain[-1]]["start"]
        before = [i for i in ran if i not in chain and ran[i]["end"] <= start + SLACK]
        if not before:
            break
        chain.append(max(before, key=lambda i: ran[i]["end"]))
    chain.reverse()
    step_time = cmd_time = gaps = 0.0
    prev_end = 0.0
    print("critical path:")
    for i in chain:
        s = ran[i]
        dur = s["end"] - s["start"]
        cmd = (s["log"] - s["start"]) if s["log"] is not None and s["log"] >= s["start"] else 0.0
        gaps += max(0.0, s["start"] - prev_end)
        prev_end = s["end"]
        step_time += dur
        cmd_time += cmd
        name = s["name"] if len(s["name"]) <= 70 else s["name"][:67] + "..."
        print(f"  {s['start']:7.2f} {s['end']:7.2f} {dur:6.2f}s  commands {cmd:6.2f}s  {name}")
    print(f"critpath wall={wall:.2f} steps={step_time:.2f} commands={cmd_time:.2f} gaps={gaps:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
