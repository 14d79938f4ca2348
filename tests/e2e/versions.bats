#!/usr/bin/env bats
# kiln versions: the static version report of an image, against files we put in it.

load helpers

setup() {
    setup_store
    root=$BATS_TEST_TMPDIR/rootfs
    mkdir -p "$root/var/lib/dpkg" "$root/etc/dataenv" \
        "$root/usr/lib/python3/dist-packages/requests-2.28.1.egg-info" \
        "$root/opt/venv/lib/python3.11/site-packages/tensorflow-2.15.0.dist-info"
    printf 'Package: python3\nStatus: install ok installed\nVersion: 3.11.2-1+b1\n\nPackage: old\nStatus: deinstall ok config-files\nVersion: 1\n' \
        >"$root/var/lib/dpkg/status"
    printf 'Name: requests\nVersion: 2.28.1\n' >"$root/usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO"
    printf 'Metadata-Version: 2.1\nName: tensorflow\nVersion: 2.15.0\n' \
        >"$root/opt/venv/lib/python3.11/site-packages/tensorflow-2.15.0.dist-info/METADATA"
    printf '# versions\nAPP_VERSION=1.2.3\n' >"$root/etc/dataenv/versions.conf"
    tar -C "$root" -cf "$BATS_TEST_TMPDIR/root.tar" .
    kiln import "$BATS_TEST_TMPDIR/root.tar" -t vtest:1 -c 'LABEL org.opencontainers.image.version=1.2.3' >/dev/null
}

@test "versions: json lists dpkg, python, labels and versions.conf from the layers" {
    run kiln versions --format json vtest:1
    [ "$status" -eq 0 ]
    python3 - "$output" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
assert r["debian"] == {"python3": "3.11.2-1+b1"}, r["debian"]
assert r["python"] == {"requests": "2.28.1", "tensorflow": "2.15.0"}, r["python"]
assert r["labels"]["org.opencontainers.image.version"] == "1.2.3", r["labels"]
assert r["config"] == {"APP_VERSION": "1.2.3"}, r["config"]
assert r["id"].startswith("sha256:")
PY
}

@test "versions: text report and errors" {
    run kiln versions vtest:1
    [ "$status" -eq 0 ]
    [[ $output == *"== debian packages (1)"* ]]
    [[ $output == *"python3"*"3.11.2-1+b1"* ]]
    [[ $output == *"tensorflow"*"2.15.0"* ]]
    run kiln versions nosuch:image
    [ "$status" -eq 1 ]
    [[ $output == *"nosuch"* ]]
    run kiln versions --format yaml vtest:1
    [ "$status" -eq 2 ]
    run kiln versions
    [ "$status" -eq 2 ]
}
