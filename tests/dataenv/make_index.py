#!/usr/bin/env python3
"""Writes a PEP 503 "simple" package index with one tiny pure-Python wheel per
project, for the dataenv tests of --with-tensorflow / --with-airflow.

    make_index.py DIR PROJECT=VERSION:MODULE...

DIR/simple/index.html lists the projects, DIR/simple/<project>/index.html links
the wheel (with its sha256), and the wheel lives in DIR/files/. Each wheel holds
MODULE/__init__.py (with __version__ and a `dataenv_test_wheel` marker) and a
dist-info with METADATA, WHEEL and a RECORD of sha256 hashes, as pip checks
them. Serve DIR with `python3 -m http.server`.
"""
import base64
import hashlib
import html
import os
import re
import sys
import zipfile

# A fixed time for every zip member: the same inputs give the same wheel.
ZIP_TIME = (2025, 1, 1, 0, 0, 0)


def normalize(name):
    """PEP 503 name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def record_hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_wheel(files_dir, project, version, module):
    dist = re.sub(r"[-_.]+", "_", project)
    info = f"{dist}-{version}.dist-info"
    members = [
        (f"{module}/__init__.py",
         f'"""{project} stand-in built by the dataenv tests."""\n'
         f'__version__ = "{version}"\ndataenv_test_wheel = True\n'),
        (f"{info}/METADATA",
         f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n"
         f"Summary: {project} stand-in built by the dataenv tests\n"),
        (f"{info}/WHEEL",
         "Wheel-Version: 1.0\nGenerator: kiln-dataenv-tests\n"
         "Root-Is-Purelib: true\nTag: py3-none-any\n"),
        (f"{info}/top_level.txt", f"{module}\n"),
    ]
    record = [f"{path},{record_hash(text.encode())},{len(text.encode())}"
              for path, text in members]
    record.append(f"{info}/RECORD,,")
    members.append((f"{info}/RECORD", "\n".join(record) + "\n"))

    wheel = os.path.join(files_dir, f"{dist}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for path, text in members:
            zi = zipfile.ZipInfo(path, ZIP_TIME)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, text)
    return wheel


def page(title, links):
    body = "\n".join(f'    <a href="{html.escape(href)}">{html.escape(text)}</a><br/>'
                     for href, text in links)
    return (f"<!DOCTYPE html>\n<html>\n  <head><title>{html.escape(title)}</title></head>\n"
            f"  <body>\n{body}\n  </body>\n</html>\n")


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    root = argv[1]
    files_dir = os.path.join(root, "files")
    simple = os.path.join(root, "simple")
    os.makedirs(files_dir, exist_ok=True)
    projects = []
    for spec in argv[2:]:
        m = re.fullmatch(r"([A-Za-z0-9._-]+)=([0-9][A-Za-z0-9.]*):([A-Za-z_][A-Za-z0-9_]*)", spec)
        if m is None:
            sys.exit(f"make_index.py: '{spec}' is not PROJECT=VERSION:MODULE")
        project, version, module = m.groups()
        wheel = make_wheel(files_dir, project, version, module)
        with open(wheel, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        name = normalize(project)
        os.makedirs(os.path.join(simple, name), exist_ok=True)
        base = os.path.basename(wheel)
        with open(os.path.join(simple, name, "index.html"), "w") as f:
            f.write(page(f"Links for {name}", [(f"../../files/{base}#sha256={sha}", base)]))
        projects.append(name)
    with open(os.path.join(simple, "index.html"), "w") as f:
        f.write(page("Simple index", [(f"{p}/", p) for p in sorted(projects)]))


if __name__ == "__main__":
    main(sys.argv)
