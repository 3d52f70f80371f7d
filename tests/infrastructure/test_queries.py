"""The Athena named queries (fraudstream/lake/queries/*.sql) run unchanged on DuckDB over tables
shaped by lake_tables.json, so the local lake query tool can ship the same files."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from fraudstream import lake_tables
from tests.infrastructure.conftest import REPO

pytestmark = pytest.mark.infra

QUERIES = REPO / "fraudstream" / "lake" / "queries"


def _rows(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = lake_tables.arrow_schema(name, with_partitions=True)
    return pa.Table.from_pylist(
        [{field.name: row.get(field.name) for field in schema} for row in rows], schema=schema
    )


@pytest.fixture
def lake() -> duckdb.DuckDBPyConnection:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    dt, hour = now.strftime("%Y-%m-%d"), now.strftime("%H")
    decisions = ["approve", "approve", "review", "block"]
    transactions = [
        {
            "transaction_id": f"t{i}",
            "card_id": "tok_a" if i < 2 else "tok_b",
            "merchant_id": "m1" if i % 2 else "m2",
            "amount": 10.0 * (i + 1),
            "currency": "EUR",
            "event_time": now,
            "decision": decision,
            "score": 0.1 * i,
            "reasons": [],
            "dt": dt,
            "hour": hour,
        }
        for i, decision in enumerate(decisions)
    ]
    labels = [
        {"transaction_id": "t3", "is_fraud": True, "dt": dt, "hour": hour},
        {"transaction_id": "t0", "is_fraud": False, "dt": dt, "hour": hour},
    ]
    connection = duckdb.connect()
    for name in lake_tables.table_names():
        data = {"transactions": transactions, "labels": labels}.get(name, [])
        connection.register(f"{name}_rows", _rows(name, data))
        connection.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_rows")  # noqa: S608
    return connection


def run(lake: duckdb.DuckDBPyConnection, name: str, *params: str) -> list[dict[str, Any]]:
    cursor = lake.execute((QUERIES / f"{name}.sql").read_text(), list(params))
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def test_every_query_has_a_description_line() -> None:
    files = sorted(QUERIES.glob("*.sql"))
    assert {f.stem for f in files} == {
        "fraud_rate_by_hour",
        "top_merchants_by_alerts",
        "card_timeline",
    }
    for path in files:
        assert path.read_text().startswith("-- "), f"{path.name}: first line describes the query"


def test_fraud_rate_by_hour(lake: duckdb.DuckDBPyConnection) -> None:
    [row] = run(lake, "fraud_rate_by_hour")
    assert row["transactions"] == 4 and row["reviewed"] == 1 and row["blocked"] == 1
    assert row["flagged_rate"] == pytest.approx(0.5)
    assert row["labelled"] == 2 and row["confirmed_fraud"] == 1
    assert row["fraud_rate"] == pytest.approx(0.5)


def test_top_merchants_by_alerts(lake: duckdb.DuckDBPyConnection) -> None:
    rows = run(lake, "top_merchants_by_alerts")
    assert [(r["merchant_id"], r["alerts"]) for r in rows] == [("m1", 1), ("m2", 1)]


def test_card_timeline(lake: duckdb.DuckDBPyConnection) -> None:
    rows = run(lake, "card_timeline", "tok_b")
    assert [r["transaction_id"] for r in rows] == ["t2", "t3"]
    assert [r["decision"] for r in rows] == ["review", "block"]
