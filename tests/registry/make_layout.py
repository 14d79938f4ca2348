#!/usr/bin/env python3
"""Writes a small OCI image layout for kiln's registry tests.

usage: make_layout.py DIR TAG [--layers N] [--size BYTES] [--plain] [--platforms P1,P2]
                      [--seed S]
  N layers (default 2) of SIZE pseudo-random bytes each plus a small text file,
  gzip-compressed unless --plain. With --platforms (e.g. linux/amd64,linux/arm64)
  the tag names an index with one image per platform (each with its own config
  and a platform-specific file). Deterministic for a given seed.
"""
import argparse, gzip, hashlib, io, json, os, random, tarfile

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("tag")
ap.add_argument("--layers", type=int, default=2)
ap.add_argument("--size", type=int, default=4096)
ap.add_argument("--plain", action="store_true")
ap.add_argument("--platforms", default="")
ap.add_argument("--seed", default="kiln")
a = ap.parse_args()

os.makedirs(os.path.join(a.dir, "blobs", "sha256"), exist_ok=True)
with open(os.path.join(a.dir, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)


def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(a.dir, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)


def layer(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 1700000000
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    raw = buf.getvalue()
    diffid = "sha256:" + hashlib.sha256(raw).hexdigest()
    if a.plain:
        return raw, diffid, "application/vnd.oci.image.layer.v1.tar"
    gz = gzip.compress(raw, compresslevel=6, mtime=0)
    return gz, diffid, "application/vnd.oci.image.layer.v1.tar+gzip"


def image(platform):
    os_, arch = platform.split("/")[:2]
    rnd = random.Random(a.seed + platform)
    layers, diffids = [], []
    for i in range(a.layers):
        payload = rnd.randbytes(a.size)
        files = [("data%d.bin" % i, payload), ("etc/layer%d.txt" % i, ("layer %d for %s\n" % (i, platform)).encode())]
        if i == 0:
            files.append(("etc/platform", (platform + "\n").encode()))
        blob, diffid, mt = layer(files)
        dg, size = put(blob)
        layers.append({"mediaType": mt, "digest": dg, "size": size})
        diffids.append(diffid)
    config = {"architecture": arch, "os": os_, "created": "2023-11-14T22:13:20Z",
              "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers", "diff_ids": diffids},
              "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "make_layout.py"}
                          for _ in diffids]}
    cdg, csize = put(json.dumps(config, separators=(",", ":"), sort_keys=True).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdg, "size": csize},
                "layers": layers}
    mdg, msize = put(json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode())
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdg, "size": msize,
            "platform": {"architecture": arch, "os": os_}}


if a.platforms:
    entries = [image(p) for p in a.platforms.split(",")]
    idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
    dg, size = put(json.dumps(idx, separators=(",", ":"), sort_keys=True).encode())
    top = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": dg, "size": size}
else:
    top = image("linux/amd64")
    del top["platform"]
top["annotations"] = {"org.opencontainers.image.ref.name": a.tag}
ipath = os.path.join(a.dir, "index.json")
index = {"schemaVersion": 2, "manifests": []}
if os.path.exists(ipath):
    index = json.load(open(ipath))
index["manifests"] = [m for m in index["manifests"]
                      if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != a.tag] + [top]
with open(ipath, "w") as f:
    json.dump(index, f)
print(top["digest"])
