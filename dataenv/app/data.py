"""The sales data set: the bundled CSV loaded into an in-memory SQLite database.

SQLite (Python's standard library) keeps the production image free of pandas and
numpy; the development image has both for notebooks and exploration.
"""
from __future__ import annotations

import csv
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

DEFAULT_CSV = Path(__file__).parent / "data" / "sales.csv"

# Grouping keys a client may ask for, mapped to trusted SQL expressions.
GROUPINGS = {
    "region": "region",
    "product": "product",
    "month": "substr(order_date, 1, 7)",
}


class SalesStore:
    """Read-only query access to one CSV of orders."""

    def __init__(self, csv_path: Path | str | None = None) -> None:
        self.path = Path(csv_path or os.environ.get("DATAENV_SALES_CSV") or DEFAULT_CSV)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(
            "CREATE TABLE sales (order_id INTEGER PRIMARY KEY, order_date TEXT NOT NULL,"
            " region TEXT NOT NULL, product TEXT NOT NULL, quantity INTEGER NOT NULL,"
            " unit_price REAL NOT NULL)"
        )
        with self.path.open(newline="") as f:
            rows = [
                (
                    int(r["order_id"]),
                    r["order_date"],
                    r["region"],
                    r["product"],
                    int(r["quantity"]),
                    float(r["unit_price"]),
                )
                for r in csv.DictReader(f)
            ]
        self._db.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?, ?)", rows)
        self._db.commit()
        # the table never changes after this: its size is known without a query
        self._count = int(self._db.execute("SELECT count(*) FROM sales").fetchone()[0])

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._db.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def count(self) -> int:
        """The number of orders; no query, no lock (callable from the event loop)."""
        return self._count

    def summary(self, by: str) -> list[dict[str, Any]]:
        """Orders, units and revenue per group, largest revenue first."""
        expr = GROUPINGS[by]
        return self._query(
            f"SELECT {expr} AS {by}, count(*) AS orders, sum(quantity) AS units,"
            " round(sum(quantity * unit_price), 2) AS revenue"
            f" FROM sales GROUP BY {expr} ORDER BY revenue DESC, {by}"
        )

    def orders(
        self, region: str | None = None, product: str | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        where: list[str] = []
        params: list[Any] = []
        if region:
            where.append("region = ?")
            params.append(region)
        if product:
            where.append("product = ?")
            params.append(product)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        params.append(limit)
        return self._query(
            f"SELECT * FROM sales{clause} ORDER BY order_date, order_id LIMIT ?", tuple(params)
        )
