#!/usr/bin/env bats
# dpkg's version order: 10,000 pairs of real versions from the mirror's
# Packages lists, compared by kiln (the unit binary test_scan_versions, in one
# process) and by dpkg's own comparison (libdpkg's dpkg_version_compare, the
# code dpkg --compare-versions runs, also in one process: 10,000 dpkg forks
# take minutes here); a sample is checked against the dpkg command itself.

load helpers

setup() {
    : "${KILN_TEST_BUILD:=$BATS_TEST_DIRNAME/../../build}"
    unit=$KILN_TEST_BUILD/tests/test_scan_versions
    [ -x "$unit" ] || skip "build $unit first (make $unit)"
    [ -e /usr/include/dpkg/version.h ] || skip "libdpkg-dev is not installed (make deps)"
}

@test "dpkg order: 10,000 pairs from the Packages lists agree with dpkg" {
    shopt -s nullglob
    local lists=(/var/lib/apt/lists/*_Packages /var/lib/apt/lists/*_Packages.*)
    [ ${#lists[@]} -gt 0 ] || skip "no Packages lists (apt-get update)"
    for f in "${lists[@]}"; do /usr/lib/apt/apt-helper cat-file "$f"; done |
        sed -n 's/^Version: //p' | LC_ALL=C sort -u >"$BATS_TEST_TMPDIR/versions"
    local n
    n=$(wc -l <"$BATS_TEST_TMPDIR/versions")
    [ "$n" -gt 2000 ]
    # 5,000 neighbours in byte order (versions that share a prefix: the hard
    # cases) and 5,000 pairs i, (i * 7919 + 17) mod n, plus the edge cases.
    awk -v n="$n" '{ v[NR - 1] = $0 } END {
        for (i = 0; i < 5000; i++) { j = (i * 4 + 1) % (n - 1); print v[j], v[j + 1] }
        for (i = 0; i < 5000; i++) print v[(i * 13) % n], v[(i * 7919 + 17) % n]
    }' "$BATS_TEST_TMPDIR/versions" >"$BATS_TEST_TMPDIR/pairs"
    cat >>"$BATS_TEST_TMPDIR/pairs" <<'EOF2'
1:1.0 2.0
1.0~rc1 1.0
1.0~~ 1.0~
1.0+b1 1.0
1.0 1.0-0
1.0-1 1.0
2.30 2.4
1.0a 1.0+
1.0.1 1.0a
0:1.0 1.0
1.2.3-1~bpo12+1 1.2.3-1
EOF2
    [ "$(wc -l <"$BATS_TEST_TMPDIR/pairs")" -ge 10000 ]
    cc -O1 -o "$BATS_TEST_TMPDIR/dpkg_cmp" "$BATS_TEST_DIRNAME/dpkg_cmp.c" -ldpkg
    "$BATS_TEST_TMPDIR/dpkg_cmp" <"$BATS_TEST_TMPDIR/pairs" >"$BATS_TEST_TMPDIR/answers"
    [ "$(wc -l <"$BATS_TEST_TMPDIR/answers")" -eq "$(wc -l <"$BATS_TEST_TMPDIR/pairs")" ]
    # libdpkg answers as the dpkg command does (40 pairs, 2 forks each at most).
    sed -n '1~250p' "$BATS_TEST_TMPDIR/answers" | while read -r a b want; do
        if dpkg --compare-versions "$a" lt "$b"; then got=-1
        elif dpkg --compare-versions "$a" eq "$b"; then got=0
        else got=1; fi
        [ "$got" = "$want" ] || { echo "dpkg $a $b: $got, libdpkg $want"; exit 1; }
    done
    # Both orders occur: the pairs are not trivially equal.
    grep -q ' -1$' "$BATS_TEST_TMPDIR/answers" && grep -q ' 1$' "$BATS_TEST_TMPDIR/answers"
    KILN_DPKG_PAIRS=$BATS_TEST_TMPDIR/answers run "$unit"
    echo "$output" | grep -v '^ok'
    [ "$status" -eq 0 ]
    [[ $output =~ ok\ [0-9]+\ -\ 100[0-9][0-9]\ pairs\ agree\ with\ dpkg\ \(0\ disagree\) ]]
}
