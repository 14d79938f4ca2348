#!/usr/bin/env bats
# The project as a new user meets it: the checkout in a fresh Debian 12 root file
# system that has none of kiln's packages (the mmdebstrap base of `make ml-base`,
# imported into a store of its own), run by kiln itself on the host network. The
# README's first command (`make`) must give a working build/kiln on its first run,
# the packages it installs announced one line per group and nothing of apt's
# progress; a second `make deps-build` / `make` installs nothing; a failing apt shows
# its errors in full and the command to retry.
#
# The .debs are shared with the container through a cache of its own
# (KILN_TEST_APT_CACHE, default /var/tmp/kiln-apt-cache, seeded with hard links to
# the host's /var/cache/apt/archives), so a run downloads only what neither has.
# To show that it fails with an old Makefile: KILN_FRESH_MAKEFILE=FILE (and
# KILN_FRESH_DEPS=FILE, scripts/deps.sh) replace the checkout's, KILN_FRESH_CMD the
# first command (default "make -j2"). Takes 3 to 5 minutes (kiln's compile, 2 cores).

load helpers

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

setup() {
    setup_store
    command -v mmdebstrap >/dev/null || skip "mmdebstrap missing (make deps-dataenv)"
}

# The checkout as a clone would have it: tracked and untracked-but-not-ignored files.
copy_checkout() {
    local dst=$1
    mkdir -p "$dst"
    if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$ROOT" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -C "$dst" -xf -
    else
        tar -C "$ROOT" --exclude='./build*' -cf - . | tar -C "$dst" -xf -
    fi
    [ -z "${KILN_FRESH_MAKEFILE:-}" ] || cp "$KILN_FRESH_MAKEFILE" "$dst/Makefile"
    [ -z "${KILN_FRESH_DEPS:-}" ] || cp "$KILN_FRESH_DEPS" "$dst/scripts/deps.sh"
}

apt_cache() {
    local dir=${KILN_TEST_APT_CACHE:-/var/tmp/kiln-apt-cache}
    mkdir -p "$dir/partial"
    # hard links: no copy, and the container's apt never changes the host's files
    cp -l -n /var/cache/apt/archives/*.deb "$dir/" 2>/dev/null || true
    echo "$dir"
}

@test "fresh Debian 12: the README's first command builds a working kiln on its first run" {
    local tar src cache
    tar=$("$ROOT/scripts/ml-base.sh")
    kiln import "$tar" -t fresh:bookworm >/dev/null
    src="$BATS_TEST_TMPDIR/src"
    copy_checkout "$src"
    cache=$(apt_cache)
    # The README's prerequisite is make (a fresh Debian has none); then its first
    # command, then the second runs, then an apt failure.
    cat >"$src/fresh-test.sh" <<'EOF'
set -u
cd /src
apt-get -qq update >/tmp/prereq.log 2>&1 && apt-get -qq install -y --no-install-recommends make \
    >>/tmp/prereq.log 2>&1 || { cat /tmp/prereq.log; exit 99; }
echo "== first make"
${KILN_FRESH_CMD:-make -j2} >/tmp/make1.log 2>&1
echo "make1 rc=$?"
grep '^deps:' /tmp/make1.log
grep -c -e 'Reading database' -e '^Unpacking' -e '^Setting up' -e '^Get:' /tmp/make1.log | sed 's/^/apt lines: /'
tail -n 15 /tmp/make1.log | sed 's/^/make1: /'
echo "== version"
build/kiln version
echo "version rc=$?"
n1=$(dpkg-query -W | wc -l)
echo "== second deps"
make deps-build
echo "deps rc=$?"
make -j2 2>&1 | grep '^deps:'
n2=$(dpkg-query -W | wc -l)
echo "packages before $n1 after $n2"
echo "== apt failure"
sed 's/^build:   build-essential pkg-config/build:   build-essential kiln-no-such-package pkg-config/' \
    scripts/deps.sh >/tmp/deps.sh
sh /tmp/deps.sh build
echo "bad deps rc=$?"
EOF
    run timeout 1500 "$KILN" run --rm --network host -v "$src:/src" \
        -e KILN_FRESH_CMD="${KILN_FRESH_CMD:-make -j2}" \
        -v "$cache:/var/cache/apt/archives" fresh:bookworm sh /src/fresh-test.sh
    echo "$output"
    [ "$status" -eq 0 ]
    # first run: one line for the group, kiln built and running
    [[ $output == *"make1 rc=0"* ]]
    [[ $output == *"deps: installing "*" packages for building kiln: build-essential"* ]]
    [[ $output == *"apt lines: 0"* ]]
    [[ $output == *"version rc=0"* ]]
    [[ $output == *"kiln version "* ]]
    # second run: nothing installed, nothing said
    [[ $output == *"deps rc=0"* ]]
    local second=${output#*== second deps}
    second=${second%%== apt failure*}
    [[ $second != *"deps: installing"* ]]
    [[ $second =~ packages\ before\ ([0-9]+)\ after\ ([0-9]+) ]]
    [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
    # a failing apt: its error in full, the command to retry, non-zero
    local bad=${output#*== apt failure}
    [[ $bad == *"deps: installing 1 package for building kiln: kiln-no-such-package"* ]]
    [[ $bad == *"E: Unable to locate package kiln-no-such-package"* ]]
    [[ $bad == *"to retry: apt-get update && apt-get install --no-install-recommends kiln-no-such-package"* ]]
    [[ $bad == *"bad deps rc=1"* ]]
}
