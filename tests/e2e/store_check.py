#!/usr/bin/env python3
"""An independent consistency check of a kiln store, for the tests: every blob
in blobs/sha256 hashes to its name, and every index.json entry's manifest,
config and layers (for an index: of each image it lists that is present) are
present with the sizes the descriptors give.
Prints one line per problem; exit 1 when there is any."""
import hashlib
import json
import os
import sys

root = sys.argv[1]
problems = []
blobs = os.path.join(root, "blobs", "sha256")
for name in os.listdir(blobs) if os.path.isdir(blobs) else []:
    h = hashlib.sha256()
    with open(os.path.join(blobs, name), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != name:
        problems.append("blob %s has content %s" % (name, h.hexdigest()))


def need(desc, what):
    hexd = desc["digest"].split(":", 1)[1]
    p = os.path.join(blobs, hexd)
    if not os.path.exists(p):
        problems.append("%s: missing blob %s" % (what, desc["digest"]))
        return None
    if os.path.getsize(p) != desc["size"]:
        problems.append("%s: blob %s has size %d, descriptor says %d"
                        % (what, desc["digest"], os.path.getsize(p), desc["size"]))
    return p


# A process killed while creating the store may leave no index.json yet: no
# tags then (the next kiln run completes the layout).
index = {}
if os.path.exists(os.path.join(root, "index.json")):
    with open(os.path.join(root, "index.json")) as f:
        index = json.load(f)
for m in index.get("manifests", []):
    tag = m.get("annotations", {}).get("org.opencontainers.image.ref.name", m["digest"])
    p = need(m, tag)
    if p is None:
        continue
    with open(p) as f:
        man = json.load(f)
    if "manifests" in man:
        # An index: the images it lists that are present must be complete
        # (an index may be partial; kiln fsck checks the host's platform).
        for child in man["manifests"]:
            cp = os.path.join(blobs, child["digest"].split(":", 1)[1])
            if not os.path.exists(cp):
                continue
            need(child, tag)
            with open(cp) as f:
                cm = json.load(f)
            for d in [cm["config"]] + cm.get("layers", []):
                need(d, tag)
        continue
    for d in [man["config"]] + man.get("layers", []):
        need(d, tag)
for line in problems:
    print(line)
sys.exit(1 if problems else 0)
