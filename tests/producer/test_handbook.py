"""Handbook replay mapping: a small file in the handbook's layout, and the real dataset."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudstream.events import parse_event
from producer import handbook
from producer.errors import ReplayFormatError

KEY = b"k"


def naive(*parts: int) -> datetime:
    """The handbook stores naive UTC timestamps."""
    return datetime(*parts, tzinfo=UTC).replace(tzinfo=None)


def write_sample(path: Path) -> Path:
    table = pa.table(
        {
            "TRANSACTION_ID": pa.array([3, 1, 2, 4], pa.int64()),
            "TX_DATETIME": pa.array(
                [
                    naive(2018, 4, 1, 0, 5),
                    naive(2018, 4, 1, 0, 1),
                    naive(2018, 4, 1, 0, 1),
                    naive(2018, 4, 2, 9, 0),
                ],
                pa.timestamp("us"),
            ),
            "CUSTOMER_ID": pa.array([17, 17, 4321, 17], pa.int64()),
            "TERMINAL_ID": pa.array([9, 3, 3, 9], pa.int64()),
            "TX_AMOUNT": pa.array([12.5, 230.0, 40.0, 1.0]),
            "TX_TIME_SECONDS": pa.array([300, 60, 60, 118800], pa.int64()),
            "TX_TIME_DAYS": pa.array([0, 0, 0, 1], pa.int64()),
            "TX_FRAUD": pa.array([0, 1, 0, 1], pa.int64()),
            "TX_FRAUD_SCENARIO": pa.array([0, 1, 0, 2], pa.int64()),
        }
    )
    pq.write_table(table, path)
    return path


def test_mapping_order_and_absent_optional_fields(tmp_path: Path) -> None:
    table = handbook.read_table(write_sample(tmp_path / "hb.parquet"))
    rows = list(handbook.transactions(table, KEY))
    assert [r.event.transaction_id for r in rows] == ["hb-1", "hb-2", "hb-3", "hb-4"]
    first = rows[0]
    assert first.event.event_time == datetime(2018, 4, 1, 0, 1, tzinfo=UTC)
    assert first.event.merchant_id == "terminal-3" and first.event.amount == 230.0
    assert first.event.card_id == handbook.card_id_for_customer(17, KEY)
    assert first.event.card_id.endswith("_0017") and rows[1].event.card_id.endswith("_4321")
    assert (first.is_fraud, first.scenario) == (True, "amount_over_220")
    assert (rows[3].is_fraud, rows[3].scenario) == (True, "compromised_terminal")
    wire = json.loads(first.event.to_json())
    assert not {"lat", "lon", "country", "channel", "merchant_category"} & set(wire)
    assert parse_event(first.event.to_json()) == first.event


def test_date_range(tmp_path: Path) -> None:
    path = write_sample(tmp_path / "hb.parquet")
    table = handbook.read_table(
        path, start=datetime(2018, 4, 1, 0, 2, tzinfo=UTC), end=datetime(2018, 4, 2, tzinfo=UTC)
    )
    assert table["TRANSACTION_ID"].to_pylist() == [3]


def test_wrong_file_is_a_clear_error(tmp_path: Path) -> None:
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1]}), other)
    with pytest.raises(ReplayFormatError, match="handbook"):
        handbook.read_table(other)
    garbage = tmp_path / "garbage.parquet"
    garbage.write_text("not parquet")
    with pytest.raises(ReplayFormatError):
        handbook.read_table(garbage)


@pytest.mark.data
def test_real_dataset_maps_cleanly(handbook_path: Path) -> None:
    table = handbook.read_table(handbook_path, end=datetime(2018, 4, 3, tzinfo=UTC))
    rows = list(handbook.transactions(table, KEY))
    assert len(rows) > 10_000
    times = [r.event.event_time for r in rows]
    assert times == sorted(times)
    assert len({r.event.transaction_id for r in rows}) == len(rows)
    assert {r.scenario for r in rows} <= set(handbook.SCENARIOS.values())
    for row in rows[:2_000]:
        assert parse_event(row.event.to_json()) == row.event
