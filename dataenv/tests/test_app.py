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
