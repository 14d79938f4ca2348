#!/usr/bin/env python3
"""Compares kiln compose config's model with the one Debian's podman-compose
(1.0.3, which has no `config` subcommand) acts on: the `podman run` lines of its
`--dry-run up`. For each service: image, command, environment, user labels,
ports (ranges expanded), volumes (named ones by their project name), restart.

usage: compose_cmp.py KILN_CONFIG.json PODMAN_COMPOSE_DRY_RUN.txt
Prints each difference; exits 1 if there is one, 2 if nothing was compared.

podman-compose prints its commands joined by spaces, unquoted: the compose
files this reads keep values free of spaces."""
import json
import os
import sys

# podman run options that take a value (the ones podman-compose 1.0.3 writes for
# the keys compared here, and a few it writes for every service)
VALUED = {"--name", "--label", "-e", "-v", "--net", "--network-alias", "-p", "--restart",
          "--pod", "-w", "-u", "--hostname", "--env-file", "--stop-signal", "--stop-timeout"}
FLAGS = {"-d", "-i", "-t", "--rm", "--read-only", "--init"}


def ports_short(spec):
    """[ip:]published:target[/proto] with ranges -> [(ip, published, target, proto)]"""
    proto = "tcp"
    if "/" in spec:
        spec, proto = spec.rsplit("/", 1)
    parts = spec.split(":")
    ip = parts[0] if len(parts) == 3 else None
    pub, tgt = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", parts[0])

    def rng(s):
        if "-" in s:
            a, b = s.split("-")
            return list(range(int(a), int(b) + 1))
        return [int(s)] if s else []

    t = rng(tgt)
    p = rng(pub) or [None] * len(t)
    return [(ip, str(pp) if pp is not None else None, tt, proto) for pp, tt in zip(p, t)]


def podman_model(text):
    services = {}
    for line in text.splitlines():
        words = line.split()
        # "podman run ..." or "/path/to/podman run ..." (--podman-path)
        if len(words) < 3 or not words[0].endswith("podman") or words[1] != "run":
            continue
        words = words[2:]
        svc = {"env": {}, "labels": {}, "ports": [], "volumes": [], "restart": None}
        i = 0
        while i < len(words) and words[i].startswith("-"):
            w = words[i]
            if "=" in w and w.startswith("--"):
                key, val = w.split("=", 1)
                i += 1
            elif w in VALUED:
                key, val = w, words[i + 1]
                i += 2
            elif w in FLAGS:
                i += 1
                continue
            else:
                raise SystemExit(f"compose_cmp: unknown podman run option {w!r} in: {line}")
            if key == "--label":
                k, v = val.split("=", 1)
                if k == "com.docker.compose.service":
                    svc["name"] = v
                elif not k.startswith(("io.podman.compose.", "com.docker.compose.")):
                    svc["labels"][k] = v
            elif key == "-e":
                k, eq, v = val.partition("=")
                if eq:
                    svc["env"][k] = v
                elif k in os.environ:  # -e NAME: podman passes the caller's value
                    svc["env"][k] = os.environ[k]
            elif key == "--env-file":  # podman reads it; the spec's model merges it
                for ln in open(val).read().splitlines():
                    k, eq, v = ln.partition("=")
                    if eq and not ln.lstrip().startswith("#"):
                        svc["env"].setdefault(k.strip(), v)
            elif key == "-p":
                svc["ports"] += ports_short(val)
            elif key == "-v":
                f = val.split(":")
                svc["volumes"].append((f[0], f[1], len(f) > 2 and "ro" in f[2].split(",")))
            elif key == "--restart":
                svc["restart"] = val
        svc["image"] = words[i]
        svc["command"] = words[i + 1:] or None
        services[svc.pop("name")] = svc
    return services


def kiln_model(cfg):
    out = {}
    vols = cfg.get("volumes") or {}
    for name, s in (cfg.get("services") or {}).items():
        env = {k: v for k, v in (s.get("environment") or {}).items() if v is not None}
        ports = [(p.get("host_ip"), p.get("published"), p["target"], p.get("protocol", "tcp"))
                 for p in s.get("ports") or []]
        volumes = []
        for v in s.get("volumes") or []:
            src = v.get("source")
            if v["type"] == "volume":
                src = (vols.get(src) or {}).get("name", src)
            volumes.append((src, v["target"], bool(v.get("read_only"))))
        out[name] = {"image": s.get("image"), "command": s.get("command"), "env": env,
                     "labels": s.get("labels") or {}, "ports": ports, "volumes": volumes,
                     "restart": s.get("restart")}
    return out


def main():
    kiln = kiln_model(json.load(open(sys.argv[1])))
    pc = podman_model(open(sys.argv[2]).read())
    if not pc:
        print("compose_cmp: no podman run line in the dry run")
        return 2
    diffs = 0
    for name in sorted(set(kiln) | set(pc)):
        if name not in kiln or name not in pc:
            print(f"service {name}: only in {'kiln' if name in kiln else 'podman-compose'}")
            diffs += 1
            continue
        for field in ("image", "command", "env", "labels", "ports", "volumes", "restart"):
            a, b = kiln[name][field], pc[name][field]
            if field in ("ports", "volumes"):
                a, b = sorted(a, key=repr), sorted(b, key=repr)
            if a != b:
                print(f"service {name}: {field}: kiln {a!r} != podman-compose {b!r}")
                diffs += 1
    print(f"compared {len(pc)} services, {diffs} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
