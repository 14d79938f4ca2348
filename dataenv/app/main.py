"""HTTP API of the data environment: liveness/version and queries over the sales data."""
from __future__ import annotations

import os
import platform
import time
from typing import Any, Optional

from fastapi import FastAPI, HTTPException, Query

from app.data import GROUPINGS, SalesStore

APP_VERSION = os.environ.get("APP_VERSION", "0.1.0")
_started = time.monotonic()

app = FastAPI(title="dataenv", version=APP_VERSION)
store = SalesStore()


@app.get("/health")
def health() -> dict[str, Any]:
    """Liveness and version; what the image's HEALTHCHECK asks."""
    return {
        "status": "ok",
        "version": APP_VERSION,
        "revision": os.environ.get("APP_REVISION", "unknown"),
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
