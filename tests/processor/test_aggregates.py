"""Window aggregates on a real streaming query: rows appear only once the watermark passes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from fraudstream import lake_tables

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SCHEMA = "event_time timestamp, card_id string, merchant_id string, amount double, decision string"


def write_events(folder: Path, name: str, events: list[tuple[int, str, str, float, str]]) -> None:
    """JSON lines of (minutes after T0, card, merchant, amount, decision)."""
    lines = [
        json.dumps(
            {
                "event_time": (T0 + timedelta(minutes=m)).isoformat(),
                "card_id": card,
                "merchant_id": merchant,
                "amount": amount,
                "decision": decision,
            }
        )
        for m, card, merchant, amount, decision in events
    ]
    (folder / f"{name}.json").write_text("\n".join(lines) + "\n")


def run_once(spark: Any, source: Path, checkpoint: Path, sink: list[Any]) -> Any:
    from processor.aggregates import windowed_aggregates

    stream = spark.readStream.schema(SCHEMA).json(str(source))
    aggregates = windowed_aggregates(stream, watermark="10 minutes")

    def collect(batch: Any, batch_id: int) -> None:
        sink.extend(batch.collect())

    query = (
        aggregates.writeStream.outputMode("append")
        .foreachBatch(collect)
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(120)
    return query


def key(row: Any) -> tuple[str, str, datetime]:
    return (row["entity_type"], row["entity_id"], row["window_start"].replace(tzinfo=UTC))


def test_windows_are_emitted_only_after_the_watermark_passes(spark: Any, tmp_path: Path) -> None:
    source, checkpoint = tmp_path / "in", tmp_path / "checkpoint"
    source.mkdir()
    out: list[Any] = []
    write_events(
        source,
        "a",
        [
            (1, "card-1", "m-1", 10.0, "approve"),
            (2, "card-1", "m-1", 30.0, "review"),
            (3, "card-2", "m-1", 5.0, "block"),
            (8, "card-1", "m-2", 100.0, "approve"),
        ],
    )
    run_once(spark, source, checkpoint, out)
    assert out == []  # watermark 09:58: no window has ended before it

    write_events(source, "b", [(26, "card-3", "m-3", 1.0, "approve")])  # watermark -> 10:16
    run_once(spark, source, checkpoint, out)
    rows = {key(r): r for r in out}
    # Windows ending by 10:16 are closed: [09:55,10:05), [10:00,10:10) and [10:05,10:15).
    assert set(rows) == {
        ("card", "card-1", T0 - timedelta(minutes=5)),
        ("card", "card-2", T0 - timedelta(minutes=5)),
        ("merchant", "m-1", T0 - timedelta(minutes=5)),
        ("card", "card-1", T0),
        ("card", "card-2", T0),
        ("merchant", "m-1", T0),
        ("merchant", "m-2", T0),
        ("card", "card-1", T0 + timedelta(minutes=5)),
        ("merchant", "m-2", T0 + timedelta(minutes=5)),
    }
    card1 = rows[("card", "card-1", T0)]
    assert (
        card1["tx_count"],
        card1["amount_sum"],
        card1["amount_max"],
        card1["fraud_decisions"],
    ) == (
        3,
        140.0,
        100.0,
        1,
    )
    merchant1 = rows[("merchant", "m-1", T0 - timedelta(minutes=5))]
    assert (merchant1["tx_count"], merchant1["fraud_decisions"]) == (3, 2)
    assert card1["window_end"].replace(tzinfo=UTC) == T0 + timedelta(minutes=10)

    emitted = len(out)
    write_events(source, "c", [(4, "card-9", "m-9", 7.0, "approve")])  # later than the watermark
    run_once(spark, source, checkpoint, out)
    assert len(out) == emitted  # the late event is dropped; closed windows never re-emit


def test_output_matches_the_lake_table_and_input_is_checked(spark: Any) -> None:
    from pyspark.sql import types as T

    from processor.aggregates import OUTPUT_COLUMNS, windowed_aggregates

    batch = spark.createDataFrame([], SCHEMA)
    result = windowed_aggregates(batch, watermark=None)
    assert tuple(result.columns) == OUTPUT_COLUMNS
    lake = lake_tables.arrow_schema("aggregates")
    kinds = {
        pa.string(): T.StringType(),
        pa.int64(): T.LongType(),
        pa.float64(): T.DoubleType(),
        pa.timestamp("us", tz="UTC"): T.TimestampType(),
    }
    assert {f.name: f.dataType for f in result.schema.fields} == {
        f.name: kinds[f.type] for f in lake if f.name != "batch_id"
    }
    with pytest.raises(ValueError, match="lack column"):
        windowed_aggregates(batch.drop("decision"), watermark=None)
