# Headless Chromium (Debian's chromium) for the tests that check a page as a
# person sees it: the DOM after the page's scripts ran, and a screenshot. Every
# host name but 127.0.0.1 fails to resolve, so a page that needs an outside
# address (a CDN) shows up as broken.
#
#   load chromium
#   chromium_dom http://127.0.0.1:PORT/docs        # the rendered DOM on stdout
#   chromium_screenshot http://127.0.0.1:PORT/docs FILE.png
#   docs_operations_rendered "$dom"                # the dataenv API page's check

_chromium() {
    command -v chromium >/dev/null || {
        echo "chromium missing (make deps)" >&2
        return 127
    }
    timeout 90 chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$BATS_TEST_TMPDIR/chromium" --no-first-run \
        --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" \
        --window-size=1280,900 --virtual-time-budget=15000 "$@"
}

chromium_dom() {
    _chromium --dump-dom "$1"
}

chromium_screenshot() {
    _chromium --screenshot="$2" "$1" && [ -s "$2" ]
}

# The directory screenshots are kept in (the test build directory's screenshots/).
screenshot_dir() {
    local d="${KILN_TEST_BUILD:-$BATS_TEST_DIRNAME/../../build}/screenshots"
    mkdir -p "$d" && echo "$d"
}

# docs_operations_rendered DOM: Swagger UI drew one block per operation of the
# dataenv API (the DOM after its scripts ran, not the HTML the server sent).
docs_operations_rendered() {
    local dom=$1 path
    for path in /health /sales/summary /sales/orders; do
        [[ $dom == *"class=\"opblock-summary-path\" data-path=\"$path\""* ]] || {
            echo "operation $path not rendered" >&2
            return 1
        }
    done
    [[ $dom == *"opblock-summary-method"*GET* ]]
}
