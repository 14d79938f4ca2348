#!/usr/bin/env bats
# The committed corpus of hostile archives (tests/fixtures/hostile/, made by
# gen.py) fed to import and load: one clear error line naming the entry,
# exit 1, nothing written outside the store, the store still consistent.
load helpers
load layer_helpers

CORPUS="$BATS_TEST_DIRNAME/../fixtures/hostile"

setup() {
    setup_store
    # The corpus aims its escapes at these names (relative and in /tmp).
    rm -rf /tmp/kiln-hostile-evil*
}

# No file named like the corpus's payloads anywhere it could have escaped to.
nothing_escaped() {
    local found
    found=$(find "$BATS_TEST_TMPDIR" /tmp -maxdepth 6 -name 'kiln-hostile-evil*' 2>/dev/null | head -5)
    if [ -n "$found" ]; then
        echo "escaped: $found"
        return 1
    fi
    [ "$(head -c 5 /etc/passwd)" = "root:" ]
}

check_refusal() {
    local what=$1 file=$2 want=$3
    if [ "$want" = "-" ]; then
        return 0
    fi
    if [ "$status" -ne 1 ]; then
        echo "$what $file: exit $status, want 1: $output"
        return 1
    fi
    if [ "$(printf '%s\n' "$output" | wc -l)" -ne 1 ]; then
        echo "$what $file: more than one line: $output"
        return 1
    fi
    if [[ "$output" != "kiln: "*"$want"* ]]; then
        echo "$what $file: error lacks \"$want\": $output"
        return 1
    fi
}

@test "hostile corpus: the generator reproduces the committed files" {
    cp -r "$CORPUS" "$BATS_TEST_TMPDIR/regen"
    python3 "$BATS_TEST_TMPDIR/regen/gen.py"
    diff -r "$CORPUS" "$BATS_TEST_TMPDIR/regen"
}

@test "hostile corpus: every archive is refused by import and by load" {
    n=0
    while IFS=$'\t' read -r file want_import want_load; do
        [[ "$file" == \#* ]] && continue
        n=$((n + 1))
        run kiln import "$CORPUS/$file" -t "hostile/import:$n"
        check_refusal import "$file" "$want_import"
        nothing_escaped
        run kiln load -i "$CORPUS/$file"
        check_refusal load "$file" "$want_load"
        nothing_escaped
        run jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$KILN_ROOT/index.json"
        [[ "$output" != *hostile:latest* ]]
        store_is_clean
    done <"$CORPUS/expected.tsv"
    [ "$n" -ge 20 ]
}

@test "hostile corpus: a refused import leaves no scratch files behind" {
    run kiln import "$CORPUS/symlink-escape-root.tar" -t x
    [ "$status" -eq 1 ]
    [ -z "$(find "$KILN_ROOT/ingest" -mindepth 1 -maxdepth 3 2>/dev/null | grep -v '\.lock$' | head -1)" ] ||
        { find "$KILN_ROOT/ingest"; false; }
}
