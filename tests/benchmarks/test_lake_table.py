"""The lake benchmark's generated micro-batches are what the writer gets from the sink."""

from __future__ import annotations

from datetime import UTC, datetime

from benchmarks.lake_table import make_batch
from fraudstream import lake_tables


def test_a_generated_batch_has_the_four_tables_rows_at_the_rate() -> None:
    now = datetime(2026, 12, 4, 10, 0, 1, tzinfo=UTC)
    batch = make_batch(7, now, 300)
    assert list(batch) == ["transactions", "labels", "aggregates", "quarantine"]
    for name, rows in batch.items():
        assert rows.schema == lake_tables.arrow_schema(name)
    counts = {name: rows.num_rows for name, rows in batch.items()}
    assert counts == {"transactions": 300, "labels": 300, "aggregates": 600, "quarantine": 1}
    events = batch["transactions"].column("event_time").to_pylist()
    assert all(0 <= (now - t).total_seconds() <= 1.5 for t in events)
    assert set(batch["transactions"].column("batch_id").to_pylist()) == {7}
    assert make_batch(7, now, 300)["transactions"].equals(batch["transactions"])
