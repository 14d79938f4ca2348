#!/usr/bin/env bats
# The committed dataenv/locks/apt.lock names exactly the Debian packages each image
# installs. dataenv_build.bats checks that `make ml-lock` writes what dpkg-query
# reports, but into a lock of its own: a hand edit of the committed lock (19d5474
# added python3-prometheus-client to the production section without its dependency
# python3-decorator) went unnoticed, and a --locked build pins only what the lock
# names. Versions may move with the mirror's updates (that is what --locked is
# for); the package set moves only with the Dockerfile, and then `make ml-lock`
# must be rerun.

load helpers
load dataenv_images

setup_file() {
    export KILN_ROOT="$BATS_FILE_TMPDIR/store"
    dataenv_image dev
    dataenv_image prod
}

setup() {
    export KILN_ROOT="$BATS_FILE_TMPDIR/store"
}

# names FILE: the package names of package=version lines.
names() {
    sed 's/=.*//' "$1"
}

@test "apt.lock: each image's section names exactly the packages the image installs" {
    local lock="$BATS_TEST_DIRNAME/../../dataenv/locks/apt.lock" img
    for img in dataenv:latest dataenv:latest-prod; do
        sed -n "/^# image: $img\$/,/^# image:/p" "$lock" | grep -v '^#' >"$BATS_TEST_TMPDIR/locked"
        [ -s "$BATS_TEST_TMPDIR/locked" ] || {
            echo "apt.lock has no section for $img"
            return 1
        }
        "$KILN" run --rm --user 0 --entrypoint dpkg-query "$img" -W -f '${db:Status-Abbrev} ${Package}=${Version}\n' |
            awk '$1 == "ii" { print $2 }' | LC_ALL=C sort >"$BATS_TEST_TMPDIR/installed"
        [ -s "$BATS_TEST_TMPDIR/installed" ]
        run diff <(names "$BATS_TEST_TMPDIR/locked") <(names "$BATS_TEST_TMPDIR/installed")
        [ "$status" -eq 0 ] || {
            echo "$img: the packages differ from apt.lock's (< lock, > image); run make ml-lock"
            echo "$output"
            return 1
        }
        # sorted as ml-lock writes it, one line per package
        LC_ALL=C sort -c "$BATS_TEST_TMPDIR/locked"
        [ -z "$(names "$BATS_TEST_TMPDIR/locked" | uniq -d)" ]
    done
}
