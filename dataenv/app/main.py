"""HTTP API of the data environment: liveness/version and queries over the sales data."""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any, Optional

from fastapi import FastAPI, HTTPException, Query
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from app.data import GROUPINGS, SalesStore
from app.metrics import Metrics, MetricsMiddleware

APP_VERSION = os.environ.get("APP_VERSION", "0.1.0")
APP_REVISION = os.environ.get("APP_REVISION", "unknown")
# Swagger UI's files, copied into the image from npm's swagger-ui-dist (no CDN).
SWAGGER_UI_DIR = Path(os.environ.get("DATAENV_SWAGGER_UI", "/usr/share/dataenv/swagger-ui"))
SWAGGER_UI_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
_started = time.monotonic()

# /docs is ours (below), served from the image; ReDoc would need a CDN: off.
app = FastAPI(title="dataenv", version=APP_VERSION, docs_url=None, redoc_url=None)
metrics = Metrics(APP_VERSION, APP_REVISION)
app.add_middleware(MetricsMiddleware, metrics=metrics)
store = SalesStore()


@app.get("/metrics", include_in_schema=False)
def prometheus_metrics() -> Response:
    """Prometheus text format: requests, latency, in-flight, version info."""
    body, content_type = metrics.exposition()
    return Response(content=body, media_type=content_type)


@app.get("/docs", include_in_schema=False)
def swagger_ui() -> HTMLResponse:
    """The interactive API page, its scripts and styles from this server."""
    return get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} - API",
        oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_js_url="/docs/static/swagger-ui-bundle.js",
        swagger_css_url="/docs/static/swagger-ui.css",
        swagger_favicon_url="/docs/static/favicon-32x32.png",
    )


@app.get("/docs/oauth2-redirect", include_in_schema=False)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@app.get("/docs/static/{name}", include_in_schema=False)
def swagger_ui_file(name: str) -> FileResponse:
    """One of Swagger UI's files; only the known names, never a path."""
    media_type = SWAGGER_UI_FILES.get(name)
    path = SWAGGER_UI_DIR / name
    if media_type is None or not path.is_file():
        raise HTTPException(status_code=404, detail=f"no such file: {name}")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "max-age=86400"})


@app.get("/health")
async def health() -> dict[str, Any]:
    """Liveness and version; what the image's HEALTHCHECK asks.

    A coroutine, answered on the event loop: it blocks on nothing (the row count is
    kept, not queried), and the start's first request does not wait for the worker
    threads of the sync endpoints (anyio's asyncio back end, imported on first use).
    """
    return {
        "status": "ok",
        "version": APP_VERSION,
        "revision": APP_REVISION,
        "python": platform.python_version(),
        "rows": store.count(),
        "uptime_s": round(time.monotonic() - _started, 3),
    }


@app.get("/sales/summary")
def sales_summary(
    by: str = Query("region", description="one of: " + ", ".join(GROUPINGS))
) -> dict[str, Any]:
    """Orders, units and revenue grouped by region, product or month."""
    if by not in GROUPINGS:
        raise HTTPException(status_code=422, detail=f"by must be one of {sorted(GROUPINGS)}")
    return {"by": by, "groups": store.summary(by)}


@app.get("/sales/orders")
def sales_orders(
    region: Optional[str] = None,
    product: Optional[str] = None,
    limit: int = Query(20, ge=1, le=1000),
) -> dict[str, Any]:
    """Individual orders, oldest first, optionally filtered."""
    rows = store.orders(region=region, product=product, limit=limit)
    return {"count": len(rows), "orders": rows}
