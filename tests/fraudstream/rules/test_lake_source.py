"""The backtest's SQL over in-memory lake tables (DuckDB, as `fraudstream lake query` runs it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from fraudstream import lake_tables
from fraudstream.lake import query
from fraudstream.lake.render import ResultSet
from fraudstream.rules.lake_source import backtest_sql, rows_from_result, sql_parameters
from ml_model.features import FEATURE_INDEX, FEATURE_NAMES

T0 = datetime(2026, 3, 4, 23, 30, tzinfo=UTC)


def table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = lake_tables.arrow_schema(name, with_partitions=True)
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema)


def transaction(k: int, minutes: int, batch: int) -> dict[str, Any]:
    moment = T0 + timedelta(minutes=minutes)
    features = {name: float(k * 100 + i) for i, name in enumerate(FEATURE_NAMES)}
    return {
        "transaction_id": f"tx-{k}",
        "event_time": moment,
        "features": list(features.items()),
        "score": k / 10,
        "model_version": "v1",
        "decision": "approve",
        "batch_id": batch,
        "dt": f"{moment:%Y-%m-%d}",
        "hour": f"{moment:%H}",
    }


def label(k: int, fraud: bool) -> dict[str, Any]:
    return {"transaction_id": f"tx-{k}", "is_fraud": fraud, "dt": "2026-03-04", "hour": "23"}


def run(since: datetime | None, until: datetime | None) -> ResultSet:
    tables = {
        "transactions": table(
            "transactions",
            [transaction(1, 0, 0), transaction(2, 20, 0), transaction(3, 45, 1)],
        ),
        # a repeated label, a genuine one; tx-3's label has not arrived
        "labels": table("labels", [label(1, True), label(1, True), label(2, False)]),
    }
    return query.run(backtest_sql(), sql_parameters(since, until), tables.__getitem__)


def test_transactions_come_with_their_labels_features_and_batches() -> None:
    rows = rows_from_result(run(None, None), "lake test")
    assert len(rows) == 3 and rows.source == "lake test"
    order = np.argsort(rows.score)
    assert rows.is_fraud[order][:2].tolist() == [1.0, 0.0] and np.isnan(rows.is_fraud[order][2])
    assert rows.batch[order].tolist() == [0, 0, 1]
    assert (
        rows.matrix[order][1, FEATURE_INDEX["card_count_30d"]]
        == 200 + FEATURE_INDEX["card_count_30d"]
    )
    assert rows.event_ms[order][0] == int(T0.timestamp() * 1000)
    assert rows.model_versions == ("v1",)


def test_the_window_filters_on_event_time_across_a_day_boundary() -> None:
    rows = rows_from_result(run(T0 + timedelta(minutes=10), T0 + timedelta(minutes=45)), "x")
    assert rows.score.tolist() == [0.2]  # 23:50 on the 4th; 00:15 on the 5th is excluded
    later = rows_from_result(run(T0 + timedelta(minutes=30), None), "x")
    assert later.score.tolist() == [0.3]
    with pytest.raises(ValueError, match="must be after"):
        sql_parameters(T0, T0)


def test_a_result_without_the_columns_is_refused_and_repeats_are_dropped() -> None:
    with pytest.raises(ValueError, match="lacks column"):
        rows_from_result(ResultSet(columns=("transaction_id",), rows=[]), "x")
    result = run(None, None)
    doubled = ResultSet(result.columns, result.rows + result.rows[:1], result.types)
    assert len(rows_from_result(doubled, "x")) == 3
    empty = rows_from_result(ResultSet(result.columns, [], result.types), "x")
    assert len(empty) == 0 and empty.span_ms is None
