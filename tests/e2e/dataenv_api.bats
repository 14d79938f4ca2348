#!/usr/bin/env bats
# The production API as a person and as Prometheus meet it: /metrics in Prometheus's
# text format, and /docs rendered by a real browser (headless Chromium) with every
# outside name unresolvable, so the page must come whole from the image. The
# screenshot is kept in the test build directory (screenshots/docs.png).

load helpers
load dataenv_images
load chromium
load ../registry/registry

setup_file() {
    export KILN_ROOT="$BATS_FILE_TMPDIR/store"
    dataenv_image prod
    PORT=$(_free_port)
    export PORT
    "$KILN" run -d --name api -e UVICORN_PORT="$PORT" \
        -e HEALTHCHECK_URL="http://127.0.0.1:$PORT/health" dataenv:latest-prod >/dev/null
    local i
    for i in $(seq 150); do
        curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health" 2>/dev/null && return 0
        sleep 0.1
    done
    "$KILN" logs api >&2
    return 1
}

teardown_file() {
    "$KILN" rm -f api >/dev/null 2>&1 || true
}

setup() {
    export KILN_ROOT="$BATS_FILE_TMPDIR/store"
}

# The value of one series in the exposition (empty when absent).
sample() {
    awk -v s="$1" '$1 == s { print $2 }' <<<"$metrics"
}

@test "/metrics: requests by route template and status, latency, in-flight, version info" {
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/sales/summary?by=product"
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/sales/summary?by=region"
    curl -sS -o /dev/null "http://127.0.0.1:$PORT/sales/orders?limit=0" # 422
    curl -sS -o /dev/null "http://127.0.0.1:$PORT/etc/passwd"             # 404
    run curl -fsS -D "$BATS_TEST_TMPDIR/headers" "http://127.0.0.1:$PORT/metrics"
    [ "$status" -eq 0 ]
    metrics=$output
    grep -qi '^content-type: text/plain; version=0.0.4' "$BATS_TEST_TMPDIR/headers"
    [ "$(sample 'http_requests_total{method="GET",route="/sales/summary",status="200"}')" = 2.0 ]
    [ "$(sample 'http_requests_total{method="GET",route="/sales/orders",status="422"}')" = 1.0 ]
    [ "$(sample 'http_requests_total{method="GET",route="<unmatched>",status="404"}')" = 1.0 ]
    [[ $metrics != *"/etc/passwd"* ]]
    [ "$(sample 'http_request_duration_seconds_count{method="GET",route="/sales/summary"}')" = 2.0 ]
    [ "$(sample 'http_requests_in_progress{method="GET"}')" = 1.0 ]
    version=$("$KILN" inspect dataenv:latest-prod | jq -r '.[0].config.config.Labels["org.opencontainers.image.version"]')
    revision=$("$KILN" inspect dataenv:latest-prod | jq -r '.[0].config.config.Labels["org.opencontainers.image.revision"]')
    [ -n "$version" ] && [ "$version" != null ]
    [ "$(sample "dataenv_app_info{revision=\"$revision\",version=\"$version\"}")" = 1.0 ]
}

@test "/docs: Chromium renders the operation list with no outside network" {
    command -v chromium >/dev/null || skip "chromium missing (make deps)"
    run chromium_dom "http://127.0.0.1:$PORT/docs"
    [ "$status" -eq 0 ]
    docs_operations_rendered "$output"
    shots=$(screenshot_dir)
    chromium_screenshot "http://127.0.0.1:$PORT/docs" "$shots/docs.png"
    echo "# screenshot: $shots/docs.png" >&3
}

@test "/docs: the page's assets come from the image, only known names" {
    run curl -fsS "http://127.0.0.1:$PORT/docs"
    [ "$status" -eq 0 ]
    [[ $output == *'/docs/static/swagger-ui-bundle.js'* ]]
    [[ $output != *https://* ]]
    run curl -fsS -o /dev/null -w '%{http_code} %{content_type} %{size_download}' \
        "http://127.0.0.1:$PORT/docs/static/swagger-ui-bundle.js"
    [[ $output == "200 text/javascript"* ]]
    [ "${output##* }" -gt 100000 ]
    run curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/docs/static/LICENSE"
    [ "$output" = 404 ]
    run curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/docs/static/..%2Fapp%2Fmain.py"
    [ "$output" = 404 ]
    run curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/redoc"
    [ "$output" = 404 ]
}
