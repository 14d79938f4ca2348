"""API tests: run inside the development image with `test` (pytest) or `make ml-test`."""
import csv
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.data import DEFAULT_CSV, SalesStore
from app.main import APP_VERSION, app

client = TestClient(app)


def _csv_rows():
    with open(DEFAULT_CSV, newline="") as f:
        return list(csv.DictReader(f))


def test_health_reports_version_and_data():
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["version"] == APP_VERSION
    assert body["rows"] == len(_csv_rows())


def test_summary_by_region_matches_the_csv():
    rows = _csv_rows()
    expected = {}
    for r in rows:
        expected[r["region"]] = expected.get(r["region"], 0) + int(r["quantity"]) * float(
            r["unit_price"]
        )
    groups = client.get("/sales/summary", params={"by": "region"}).json()["groups"]
    assert {g["region"]: g["revenue"] for g in groups} == {
        k: round(v, 2) for k, v in expected.items()
    }
    revenues = [g["revenue"] for g in groups]
    assert revenues == sorted(revenues, reverse=True)
    assert sum(g["orders"] for g in groups) == len(rows)


def test_summary_by_month_has_twelve_or_more_months():
    groups = client.get("/sales/summary?by=month").json()["groups"]
    assert len(groups) >= 12
    assert all(len(g["month"]) == 7 for g in groups)


def test_summary_rejects_unknown_grouping():
    r = client.get("/sales/summary?by=password")
    assert r.status_code == 422


def test_orders_filter_and_limit():
    body = client.get("/sales/orders", params={"region": "north", "limit": 5}).json()
    assert body["count"] == 5
    assert all(o["region"] == "north" for o in body["orders"])
    dates = [o["order_date"] for o in body["orders"]]
    assert dates == sorted(dates)
    assert client.get("/sales/orders?limit=0").status_code == 422


def test_store_reads_another_csv(tmp_path: Path):
    p = tmp_path / "s.csv"
    p.write_text(
        "order_id,order_date,region,product,quantity,unit_price\n"
        "1,2024-01-02,x,a,2,1.50\n2,2024-02-03,x,b,1,4.00\n3,2024-02-04,y,a,3,1.50\n"
    )
    s = SalesStore(p)
    assert s.count() == 3
    assert s.summary("month") == [
        {"month": "2024-02", "orders": 2, "units": 4, "revenue": 8.5},
        {"month": "2024-01", "orders": 1, "units": 2, "revenue": 3.0},
    ]
    with pytest.raises(KeyError):
        s.summary("nope")


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus's text format (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        head, _, rest = series.partition("{")
        if head == name and ",".join(sorted(rest.rstrip("}").split(","))) == want:
            return float(value)
    return 0.0


def test_metrics_count_requests_by_route_template_and_status():
    before = client.get("/metrics").text
    client.get("/sales/summary?by=product")
    client.get("/sales/summary?by=password")
    client.get("/no/such/page")
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    after = r.text

    def delta(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    ok = {"method": "GET", "route": "/sales/summary", "status": "200"}
    assert delta("http_requests_total", **ok) == 1
    assert delta("http_requests_total", **{**ok, "status": "422"}) == 1
    # A raw path never becomes a label: unmatched requests share one series.
    assert delta("http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert "/no/such/page" not in after
    latency = {"method": "GET", "route": "/sales/summary"}
    assert delta("http_request_duration_seconds_count", **latency) == 2
    assert _sample(after, "http_requests_in_progress", method="GET") == 1  # this scrape
    assert _sample(after, "dataenv_app_info", version=APP_VERSION, revision="unknown") == 1


def test_docs_page_loads_swagger_ui_from_this_server():
    html = client.get("/docs").text
    assert "/docs/static/swagger-ui-bundle.js" in html
    assert "/docs/static/swagger-ui.css" in html
    assert "cdn" not in html.lower() and "https://" not in html
    assert client.get("/redoc").status_code == 404


def test_docs_static_files_are_served_and_only_known_names():
    from app.main import SWAGGER_UI_DIR

    if not (SWAGGER_UI_DIR / "swagger-ui-bundle.js").is_file():
        pytest.skip(f"Swagger UI not installed at {SWAGGER_UI_DIR} (outside the image)")
    r = client.get("/docs/static/swagger-ui-bundle.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert len(r.content) > 100_000
    assert client.get("/docs/static/LICENSE").status_code == 404
    assert client.get("/docs/static/..%2fmain.py").status_code == 404


def test_serve_imports_the_app_then_runs_uvicorns_command_line(monkeypatch):
    """app.serve (the production entrypoint) hands every argument to uvicorn's own
    command line, after the imports, with the garbage collector on again."""
    import gc
    import sys

    import uvicorn.main

    from app import serve

    seen = {}

    def fake_main(args, prog_name):
        seen.update(args=args, prog=prog_name, gc=gc.isenabled(), app="app.main" in sys.modules)

    monkeypatch.setattr(uvicorn.main, "main", fake_main)
    serve.main(["app.main:app", "--port", "8123", "--log-level", "warning"])
    assert seen == {
        "args": ["app.main:app", "--port", "8123", "--log-level", "warning"],
        "prog": "uvicorn",
        "gc": True,
        "app": True,
    }
    gc.unfreeze()


def test_the_first_health_answer_needs_no_metrics_library_and_no_worker_thread():
    """What the start's first request (a readiness probe) waits for: the metrics library
    comes after the app's import (the first request's record brings it in, and counts
    that request); /health runs on the event loop, without anyio's thread pool."""
    import subprocess
    import sys

    code = """
import asyncio, json, sys, threading
import app.main
assert "prometheus_client" not in sys.modules, "imported at start"
sent = []
async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}
async def send(message):
    sent.append(message)
scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
         "scheme": "http", "path": "/health", "raw_path": b"/health", "query_string": b"",
         "root_path": "", "headers": [], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000)}
asyncio.run(app.main.app(scope, receive, send))
assert sent[0]["status"] == 200, sent
assert json.loads(sent[1]["body"])["rows"] == 240, sent
assert "anyio._backends._asyncio" not in sys.modules, "the thread pool's back end was loaded"
assert threading.active_count() == 1, threading.enumerate()
assert "prometheus_client" in sys.modules, "not imported by the first request"
from fastapi.testclient import TestClient
text = TestClient(app.main.app).get("/metrics").text
assert 'http_requests_total{method="GET",route="/health",status="200"} 1.0' in text, text
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
