#!/usr/bin/env bats
# What docs/dataenv.md "Sizes and what is trimmed" leaves out of the development image
# does not take what it touches with it: Jupyter renders math with the MathJax files
# that are left (in headless Chromium, every outside name unresolvable) and executes a
# notebook without the server's and kernel's bytecode; git (`add -p`, `add -i`),
# scalar, git-shell and numpy work from the copies that became hardlinks; DuckDB
# without its static symbol table reads Parquet; perl without its CJK tables still
# does UTF-8, shasum, json_pp. The 1 GB size budget is checked in dataenv_rust.bats.

load helpers
load dataenv_images
load chromium
load ../registry/common # _free_port

setup_file() {
    export KILN_ROOT="$BATS_FILE_TMPDIR/store"
    dataenv_image dev
}

teardown_file() {
    "$KILN" rm -f trim-jupyter >/dev/null 2>&1 || true
}

setup() {
    export KILN_ROOT="$BATS_FILE_TMPDIR/store"
}

ok() {
    [ "$status" -eq 0 ] || {
        echo "status $status"
        tail -n 40 <<<"$output"
        return 1
    }
}

@test "trim: git, scalar and git-shell are one file each (hardlinks); git add -p and git add -i work" {
    run kiln run --rm dataenv:latest sh -c '
        stat -c "%h %i %n" /usr/bin/git /usr/lib/git-core/git /usr/bin/scalar /usr/lib/git-core/scalar \
            /usr/bin/git-shell /usr/lib/git-core/git-shell
        set -e
        cd /tmp && git init -q r && cd r && git config user.email a@b && git config user.name a
        printf "one\ntwo\n" > f && git add f && git commit -qm 1
        printf "one\nTWO\n" > f
        printf "y\n" | git add -p >/dev/null
        git diff --cached --stat
        printf "1\n\n7\n" | git add -i >/dev/null && echo add-i-ok
        scalar version
        git-shell -c "git-upload-pack '\''/tmp/r'\''" </dev/null | head -c 8; echo'
    ok
    [[ $output == *"f | 2 +-"* && $output == *add-i-ok* ]]
    [[ $output == *"git version "[0-9]* ]]     # scalar
    grep -qE '^[0-9a-f]{4}[0-9a-f]{4}' <<<"$output" # git-shell ran upload-pack: a pkt-line
    # each pair: link count 2, one inode
    for n in git scalar git-shell; do
        inodes=$(awk -v n="$n" '$3 ~ "/" n "$" { print $1 " " $2 }' <<<"$output" | sort -u)
        [ "$(wc -l <<<"$inodes")" -eq 1 ] && [[ $inodes == "2 "* ]] || {
            echo "$n: $inodes"
            return 1
        }
    done
}

@test "trim: numpy's two copies of _multiarray_umath are one file; numpy and pandas compute" {
    run kiln run --rm dataenv:latest sh -c '
        stat -c "%h %i" /usr/lib/python3/dist-packages/numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so \
            /usr/lib/python3.11/dist-packages/numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so | sort -u | wc -l
        python -c "import numpy as np, pandas as pd; print(int(np.arange(10).sum()), pd.DataFrame({\"a\": [1, 2]}).a.sum())"'
    ok
    [ "${lines[0]}" = 1 ]
    [ "${lines[1]}" = "45 3" ]
}

@test "trim: duckdb works without libduckdb's static symbol table (Parquet round trip)" {
    run kiln run --rm dataenv:latest sh -c '
        readelf -S -W /usr/local/lib/duckdb/libduckdb.so | grep -c " \.symtab " || true
        cd /tmp && duckdb -csv -c "COPY (SELECT range AS x FROM range(1000)) TO '\''t.parquet'\''; SELECT sum(x) AS s FROM '\''t.parquet'\''"'
    ok
    [ "${lines[0]}" = 0 ]
    [[ $output == *499500* ]]
}

@test "trim: Jupyter renders math with the MathJax left in the image; nothing it asks for is missing" {
    command -v chromium >/dev/null || skip "chromium missing (make deps)"
    port=$(_free_port)
    kiln run -d --name trim-jupyter dataenv:latest sh -c "mkdir -p /tmp/nb && cat > /tmp/nb/math.ipynb <<'EOF'
{\"cells\": [{\"cell_type\": \"markdown\", \"metadata\": {}, \"source\": [\"Euler: \$\$e^{i\\\\pi} + 1 = 0\$\$ and \$\\\\sum_{k=1}^n k = \\\\frac{n(n+1)}{2}\$\"]}],
 \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}
EOF
exec jupyter notebook --no-browser --ip 127.0.0.1 --port $port --NotebookApp.token= --NotebookApp.password= --notebook-dir /tmp/nb" >/dev/null
    for i in $(seq 150); do
        curl -fsS -o /dev/null "http://127.0.0.1:$port/api" 2>/dev/null && break
        sleep 0.2
    done
    run chromium_dom "http://127.0.0.1:$port/notebooks/math.ipynb"
    ok
    dom=$output
    # MathJax typeset both formulas with its HTML-CSS output and the STIX-Web web fonts
    [[ $dom == *'class="MathJax_Display"'* ]] || { echo "no display math rendered"; return 1; }
    [ "$(grep -o 'class="MathJax"' <<<"$dom" | wc -l)" -ge 2 ]
    [[ $dom == *STIXMathJax_* ]] || { echo "not drawn with the STIX-Web fonts"; return 1; }
    [[ $dom != *"Math Processing Error"* ]]
    # every static file the page asked for was there: Jupyter logs a 404 for a missing one
    run kiln logs trim-jupyter
    ok
    [[ $output == *"Serving notebooks from local directory"* ]]
    # (the notebook page always asks for ipywidgets' extension, which is not installed)
    ! grep -E ' 404 GET /static/' <<<"$output" || { echo "a file the page asked for is missing"; return 1; }
    # the renderers and fonts the MathJax menu can switch to are there (SVG and CommonHTML
    # with TeX fonts, local STIX), and the configuration nbconvert's HTML export names
    base="http://127.0.0.1:$port/static/components/MathJax"
    for f in config/TeX-AMS-MML_HTMLorMML-full.js config/Safe.js config/TeX-AMS_CHTML-full.js \
        jax/output/SVG/jax.js jax/output/SVG/fonts/TeX/fontdata.js jax/output/CommonHTML/jax.js \
        jax/output/HTML-CSS/fonts/STIX/fontdata.js jax/output/HTML-CSS/fonts/TeX/fontdata.js \
        fonts/HTML-CSS/TeX/woff/MathJax_Main-Regular.woff fonts/HTML-CSS/STIX-Web/woff/STIXMathJax_Main-Regular.woff; do
        curl -fsS -o /dev/null "$base/$f" || { echo "missing: $f"; return 1; }
    done
    kiln rm -f trim-jupyter >/dev/null
}

@test "trim: a notebook executes (kernel and nbconvert without their bytecode); perl's UTF-8, shasum and json_pp" {
    run kiln run --rm dataenv:latest sh -c '
        cd /tmp && printf "%s" "{\"cells\": [{\"cell_type\": \"code\", \"execution_count\": null, \"metadata\": {}, \"outputs\": [], \"source\": [\"import pandas as pd\\nprint(pd.DataFrame({\\\"a\\\": [20, 22]}).a.sum())\"]}], \"metadata\": {\"kernelspec\": {\"name\": \"python3\", \"display_name\": \"Python 3\", \"language\": \"python\"}}, \"nbformat\": 4, \"nbformat_minor\": 5}" > run.ipynb
        python3 -m nbconvert --to notebook --execute --stdout run.ipynb 2>/dev/null |
            python3 -c "import json, sys; print(\"out=\" + \"\".join(json.load(sys.stdin)[\"cells\"][0][\"outputs\"][0][\"text\"]).strip())"
        perl -MEncode -e "print encode(q(UTF-8), decode(q(iso-8859-1), qq(caf\xe9))), qq(\n)"
        printf abc | shasum -a 256
        echo "{\"a\":1}" | json_pp -json_opt canonical'
    ok
    [[ $output == *out=42* ]]
    [[ $output == *café* ]]
    [[ $output == *ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad* ]]
    [[ $output == *'"a":1'* ]]
}
