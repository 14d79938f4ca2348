#!/usr/bin/env python3
"""Prints a canonical listing of a directory tree: type, mode, owner, size,
content hash, symlink target, hardlink group and xattrs of every entry (not
mtimes), so two trees can be compared with diff.

    tree_compare.py [--skip PATH]... ROOT

A skipped path (relative to ROOT) is left out with everything below it."""
import hashlib
import os
import stat
import sys

args = sys.argv[1:]
skip = []
while len(args) > 2 and args[0] == "--skip":
    skip.append(args[1].strip("/"))
    args = args[2:]
root = args[0]
first_path = {}
rows = []
for dirpath, dirnames, filenames in os.walk(root):
    dirnames.sort()
    for name in sorted(dirnames + filenames):
        p = os.path.join(dirpath, name)
        rel = os.path.relpath(p, root)
        if any(rel == s or rel.startswith(s + "/") for s in skip):
            continue
        st = os.lstat(p)
        kind = stat.S_IFMT(st.st_mode)
        extra = ""
        if stat.S_ISREG(kind):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in first_path:
                extra = "hardlink=" + first_path[key]
            else:
                first_path[key] = rel
                with open(p, "rb") as f:
                    extra = "sha256=" + hashlib.sha256(f.read()).hexdigest()
        elif stat.S_ISLNK(kind):
            extra = "target=" + os.readlink(p)
        xattrs = []
        try:
            for x in sorted(os.listxattr(p, follow_symlinks=False)):
                if x.startswith("security.selinux"):
                    continue
                xattrs.append("%s=%s" % (x, os.getxattr(p, x, follow_symlinks=False).hex()))
        except OSError:
            pass
        rows.append("%s %o %d:%d %s %s" % (rel, st.st_mode, st.st_uid, st.st_gid, extra, ",".join(xattrs)))
for r in sorted(rows):
    print(r)
