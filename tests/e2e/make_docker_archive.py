#!/usr/bin/env python3
"""Writes a docker-archive (what `docker save` of several images writes) for
kiln's load tests.

usage: make_docker_archive.py OUT.tar classic|oci IMAGE...
  IMAGE is NAME=TAG1,TAG2 (an empty tag list: an untagged image). Every image
  has a shared base layer and a layer of its own (uncompressed tars).
  classic: Docker < 25: manifest.json, <config hex>.json, <diffid hex>/layer.tar,
           the base layer of the second and later images as a symlink to the first.
  oci:     Docker >= 25: oci-layout, index.json (one entry per tag, annotated
           io.containerd.image.name = the full name and ref.name = the tag) and
           manifest.json over blobs/sha256/.
Prints one line per image: "<manifest digest> <config digest>" (oci), or
"<config digest>" (classic).
"""
import hashlib, io, json, sys, tarfile

out, shape, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
entries = []  # (name, bytes or None, symlink target or None)


def tar_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), 1700000000, 0o644
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def sha(b):
    return hashlib.sha256(b).hexdigest()


def blob(b):
    name = "blobs/sha256/" + sha(b)
    if not any(e[0] == name for e in entries):
        entries.append((name, b, None))
    return name


base = tar_of([("etc/base", b"shared base layer\n")])
manifest_json, index = [], []
for n, spec in enumerate(specs):
    name, _, tags = spec.partition("=")
    tags = [t for t in tags.split(",") if t]
    own = tar_of([("etc/name", (name + "\n").encode())])
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Labels": {"image": name}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(base), "sha256:" + sha(own)]},
        "history": [{"created_by": "base"}, {"created_by": name}],
    }, sort_keys=True).encode()
    repo_tags = ["%s:%s" % (name, t) for t in tags]
    if shape == "classic":
        cname = sha(config) + ".json"
        entries.append((cname, config, None))
        paths = []
        for i, layer in enumerate((base, own)):
            p = "%s/layer.tar" % sha(layer + bytes([n]))
            if i == 0 and n > 0:
                entries.append((p, None, "../%s" % manifest_json[0]["Layers"][0]))
            else:
                entries.append((p, layer, None))
            paths.append(p)
        manifest_json.append({"Config": cname, "RepoTags": repo_tags or None, "Layers": paths})
        print("sha256:" + sha(config))
    else:
        cname = blob(config)
        layers = [blob(base), blob(own)]
        m = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + sha(config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": "sha256:" + sha(l), "size": len(l)} for l in (base, own)],
        }, sort_keys=True).encode()
        mname = blob(m)
        desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + sha(m), "size": len(m)}
        for t in tags:
            index.append(dict(desc, annotations={
                "io.containerd.image.name": "docker.io/%s:%s" % (name, t),
                "org.opencontainers.image.ref.name": t}))
        if not tags:
            index.append(desc)
        manifest_json.append({"Config": cname, "RepoTags": repo_tags, "Layers": layers})
        print("sha256:%s sha256:%s" % (sha(m), sha(config)))

entries.append(("manifest.json", json.dumps(manifest_json).encode(), None))
if shape == "oci":
    entries.append(("oci-layout", b'{"imageLayoutVersion": "1.0.0"}', None))
    entries.append(("index.json", json.dumps({"schemaVersion": 2, "manifests": index}).encode(), None))
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    for name, data, link in entries:
        ti = tarfile.TarInfo(name)
        ti.mtime = 1700000000
        if link is not None:
            ti.type, ti.linkname = tarfile.SYMTYPE, link
            t.addfile(ti)
        else:
            ti.size, ti.mode = len(data), 0o644
            t.addfile(ti, io.BytesIO(data))
