"""The lake's labelled history: only the fully labelled stretch, in the training layout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fraudstream.lake.render import ResultSet
from fraudstream.lake_history import history_from_result
from ml_model.errors import DataError

T0 = datetime(2026, 12, 1, tzinfo=UTC)
COLUMNS = (
    "transaction_id", "card_id", "merchant_id", "amount", "event_time", "channel",
    "is_fraud", "label_time", "scenario",
)  # fmt: skip


def row(i: int, fraud: int | None) -> tuple[object, ...]:
    when = T0 + timedelta(minutes=i)
    label = None if fraud is None else when + timedelta(minutes=1)
    scenario = None if fraud is None else ("card_testing" if fraud else None)
    return (f"t{i}", f"c{i % 3}", "m1", 10.0 + i, when, "pos", fraud, label, scenario)


def test_rows_after_the_first_unlabelled_one_are_left_out() -> None:
    rows = [row(0, 0), row(1, 1), row(2, 0), row(3, None), row(4, 1), row(1, 1)]  # t1 twice
    history = history_from_result(ResultSet(COLUMNS, rows), "lake")
    tx = history.transactions
    assert tx["transaction_id"].tolist() == ["t0", "t1", "t2"]
    assert tx["is_fraud"].tolist() == [False, True, False]
    assert tx["scenario"].tolist() == ["unknown", "card_testing", "unknown"]
    assert (tx["label_ms"] - tx["event_ms"]).tolist() == [60_000] * 3
    assert tx["channel"].tolist() == ["pos"] * 3


def test_nothing_labelled_is_an_error() -> None:
    with pytest.raises(DataError, match="no label yet"):
        history_from_result(ResultSet(COLUMNS, [row(0, None)]), "lake")
    with pytest.raises(DataError, match="no transactions"):
        history_from_result(ResultSet(COLUMNS, []), "lake")
