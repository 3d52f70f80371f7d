"""DuckDB over in-memory lake tables: views shaped by lake_tables, Athena's habits, clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from fraudstream import lake_tables
from fraudstream.lake import query
from fraudstream.lake.errors import LakeQueryError, UnknownTableError

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = lake_tables.arrow_schema(name, with_partitions=True)
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema)


class Loader:
    """Serves in-memory tables and records which ones the query asked for."""

    def __init__(self, **rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.loaded: list[str] = []

    def __call__(self, name: str) -> pa.Table:
        self.loaded.append(name)
        return table(name, self.rows.get(name, []))


def test_referenced_tables_come_from_the_parse_tree() -> None:
    sql = """WITH recent AS (SELECT * FROM labels)
             SELECT count(*) FROM fraudstream.Transactions AS t JOIN recent USING (transaction_id)
             WHERE t.card_id IN (SELECT card_id FROM quarantine)"""
    assert query.referenced_tables(sql) == ("transactions", "quarantine", "labels")
    assert query.referenced_tables("SELECT 1") == ()
    assert query.referenced_tables("SELECT * FROM read_parquet('nowhere/*.parquet')") == ()
    # Not a query DuckDB can serialize: every table, which is always correct.
    assert query.referenced_tables("PRAGMA version") == lake_tables.table_names()


def test_views_have_the_lake_tables_columns_with_athena_types() -> None:
    load = Loader()
    result = query.run("DESCRIBE transactions", [], load)
    described = {row[0]: row[1] for row in result.rows}
    spec = lake_tables.table("transactions")
    assert list(described) == [c.name for c in spec.columns + spec.partition_keys]
    assert described["event_time"] == "TIMESTAMP"  # zone-less UTC, as Athena returns it
    assert described["features"] == "MAP(VARCHAR, DOUBLE)"
    assert described["reasons"] == "VARCHAR[]"
    assert described["dt"] == described["hour"] == "VARCHAR"
    assert load.loaded == ["transactions"]


def test_only_the_named_tables_are_loaded_and_both_spellings_resolve() -> None:
    load = Loader(
        transactions=[{"transaction_id": "a", "event_time": NOW, "dt": "2026-03-04", "hour": "05"}],
        labels=[{"transaction_id": "a", "is_fraud": True}],
    )
    result = query.run(
        "SELECT t.transaction_id, t.event_time, l.is_fraud FROM fraudstream.transactions t "
        "JOIN labels l USING (transaction_id)",
        [],
        load,
    )
    assert result.columns == ("transaction_id", "event_time", "is_fraud")
    assert result.rows == [("a", NOW.replace(tzinfo=None), True)]
    assert load.loaded == ["transactions", "labels"]


def test_the_session_runs_in_utc() -> None:
    [(zone, today)] = query.run(
        "SELECT current_setting('TimeZone'), CAST(current_date AS varchar)", [], Loader()
    ).rows
    assert zone == "UTC" and today == datetime.now(UTC).strftime("%Y-%m-%d")


def test_parameters_are_positional_and_counted_before_reading() -> None:
    load = Loader(transactions=[{"card_id": "c1", "amount": 5.0}, {"card_id": "c2", "amount": 7.0}])
    sql = "SELECT sum(amount) FROM transactions WHERE card_id = ? OR card_id = ?"
    assert query.run(sql, ["c1", "c2"], load).rows == [(12.0,)]
    load.loaded.clear()
    with pytest.raises(
        LakeQueryError, match=r"takes 2 parameters \(--param VALUE, in order\), got 1"
    ):
        query.run(sql, ["c1"], load)
    assert load.loaded == []


def test_an_unknown_table_names_the_lake_tables() -> None:
    with pytest.raises(
        UnknownTableError, match="unknown table transactionz: the lake's tables are"
    ):
        query.run("SELECT * FROM transactionz", [], Loader())


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC 1", 'SQL error: Parser Error: syntax error at or near "SELEC"'),
        ("SELECT nope FROM labels", 'SQL error: Binder Error: Referenced column "nope" not found'),
        ("SELECT 1; SELECT 2", "expected one SQL statement, got 2"),
    ],
)
def test_sql_errors_carry_duckdbs_message(sql: str, message: str) -> None:
    with pytest.raises(LakeQueryError) as caught:
        query.run(sql, [], Loader())
    assert str(caught.value).startswith(message)


def test_an_empty_lake_answers_with_zero_rows() -> None:
    result = query.run("SELECT count(*) AS n, max(amount) AS top FROM transactions", [], Loader())
    assert result.columns == ("n", "top") and result.rows == [(0, None)]
