"""``format("fraudstream")`` on the emulator: both streams in one scan, validated, one offset."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from fraudstream import aws
from fraudstream.settings import Settings
from processor import event_source
from processor.event_source import ROW_SCHEMA, EventDataSource, options_from_settings, unpack
from processor.kinesis.errors import InvalidOptionError
from producer.generator import TransactionGenerator
from producer.simulated import simulated_config

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)


def put(settings: Settings, stream: str, payloads: list[bytes], key: str = "k") -> None:
    kinesis = aws.client("kinesis", settings)
    for start in range(0, len(payloads), 500):
        records = [
            {"Data": p, "PartitionKey": f"{key}{i}"}
            for i, p in enumerate(payloads[start : start + 500])
        ]
        assert kinesis.put_records(StreamName=stream, Records=records)["FailedRecordCount"] == 0


def run_available_now(spark: Any, settings: Settings, checkpoint: Path) -> list[pa.Table]:
    event_source.register(spark)
    options = options_from_settings(settings, startingPosition="TRIM_HORIZON")
    batches: list[pa.Table] = []
    query = (
        spark.readStream.format("fraudstream")
        .options(**options)
        .load()
        .writeStream.foreachBatch(lambda frame, _id: batches.append(unpack(frame.toArrow())))
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(300)
    assert query.exception() is None
    return batches


def test_both_streams_arrive_validated_in_one_query(
    spark: Any, fresh_streams: Settings, tmp_path: Path
) -> None:
    config = simulated_config(events=300, cards=50, seed=2, fraud_rate=0.1, token_key=b"k", now=NOW)
    generated = list(itertools.islice(TransactionGenerator(config), 300))
    put(fresh_streams, fresh_streams.stream_name, [g.event.to_json().encode() for g in generated])
    put(fresh_streams, fresh_streams.stream_name, [b"{not json", b'{"card":"4111111111111111"}'])
    labels = [g.label(NOW).to_json().encode() for g in generated[:40]] + [b'{"is_fraud":7}']
    put(fresh_streams, fresh_streams.labels_stream_name, labels)

    batches = run_available_now(spark, fresh_streams, tmp_path / "cp")
    rows = pa.concat_tables(batches)
    assert rows.schema.names == ROW_SCHEMA.names
    kinds = rows.group_by("kind").aggregate([("kind", "count")]).to_pydict()
    assert dict(zip(kinds["kind"], kinds["kind_count"], strict=True)) == {
        "tx": 300,
        "label": 40,
        "quarantine": 3,
    }
    tx = rows.filter(pa.compute.equal(rows["kind"], "tx"))
    assert set(tx["transaction_id"].to_pylist()) == {g.event.transaction_id for g in generated}
    assert tx["event_ms"].null_count == 0 and tx["event_time"].null_count == 0
    label_rows = rows.filter(pa.compute.equal(rows["kind"], "label"))
    assert label_rows["event_time"].null_count == 40  # labels never move the watermark
    assert label_rows["label_event_time"].null_count == 0
    bad = rows.filter(pa.compute.equal(rows["kind"], "quarantine")).to_pylist()
    assert sorted(r["reason"] for r in bad) == ["bad_json", "bad_label", "missing_field"]
    assert all("4111111111111111" not in (r["raw"] or "") for r in bad)

    # The checkpoint holds one offset for both streams: a second run finds nothing new.
    assert sum(t.num_rows for t in run_available_now(spark, fresh_streams, tmp_path / "cp")) == 0


def test_options_are_per_stream_and_checked() -> None:
    with pytest.raises(InvalidOptionError, match="labels stream are missing"):
        EventDataSource({"transactions.streamName": "tx"})
    with pytest.raises(InvalidOptionError, match="unknown option"):
        EventDataSource({"streamName": "tx", "labels.streamName": "l"})
    source = EventDataSource({"transactions.streamName": "tx", "labels.streamName": "l"})
    assert source.stream_options["labels"].stream_name == "l"


def test_progress_reports_of_both_streams_are_found() -> None:
    from processor.kinesis.metrics import BatchMetrics, from_progress

    tx = BatchMetrics(records=5).to_report("tx-stream")
    labels = BatchMetrics(records=2).to_report("labels-stream")
    progress = {"sources": [{"latestOffset": {"transactions": tx, "labels": labels}}]}
    found = from_progress(progress)
    assert {name: m.records for name, m in found.items()} == {"tx-stream": 5, "labels-stream": 2}


def test_a_batch_is_read_by_at_most_tasks_partitions_balanced_by_bytes() -> None:
    from processor.kinesis.source import KinesisPartition

    def share(stream: str, shard: int, size: int) -> tuple[str, KinesisPartition]:
        return stream, KinesisPartition(f"shardId-{shard}", "9", payload=b"x" * size)

    shares = [share("transactions", n, 1000) for n in range(4)]
    shares += [share("labels", n, 100) for n in range(4)]
    partitions = event_source.spread(shares, 2)
    assert len(partitions) == 2  # eight shares, two tasks
    read = [(stream, inner.shard_id) for p in partitions for stream, inner in p.shares]
    assert sorted(read) == sorted((stream, inner.shard_id) for stream, inner in shares)
    loads = [sum(len(inner.payload or b"") for _, inner in p.shares) for p in partitions]
    assert loads == [2200, 2200]
    assert len(event_source.spread(shares[:1], 4)) == 1  # never an empty task
    assert event_source.spread([], 2) == []


def test_the_tasks_option_is_checked() -> None:
    both = {"transactions.streamName": "tx", "labels.streamName": "l"}
    assert EventDataSource(both).tasks == event_source.DEFAULT_TASKS
    assert EventDataSource({**both, "tasks": "3"}).tasks == 3
    with pytest.raises(InvalidOptionError, match="tasks must be a positive integer"):
        EventDataSource({**both, "tasks": "0"})


def test_packed_rows_unpack_to_the_same_table_whatever_the_chunking() -> None:
    rows = [
        {"kind": "tx", "transaction_id": "t1", "event_ms": 5, "shard_id": "s"},
        {"kind": "label", "transaction_id": "t1", "is_fraud": True},
        {"kind": "quarantine", "raw": "{not json", "reason": "bad_json"},
    ]
    first = pa.RecordBatch.from_pylist(rows, schema=ROW_SCHEMA)
    second = pa.RecordBatch.from_pylist(rows[:1], schema=ROW_SCHEMA)
    packed = [event_source.pack(first), event_source.pack(second), event_source.pack(first)]
    assert all(p.schema == event_source.PACKED_SCHEMA and p.num_rows == 1 for p in packed)
    expected = rows + rows[:1] + rows
    as_chunks = pa.Table.from_batches(packed)
    assert unpack(as_chunks).to_pylist() == pa.Table.from_pylist(expected, ROW_SCHEMA).to_pylist()
    # one chunk, sliced: what Spark's collect may hand over
    sliced = as_chunks.combine_chunks().slice(1)
    assert unpack(sliced).column("kind").to_pylist() == ["tx", "tx", "label", "quarantine"]
    large = sliced.cast(pa.schema([pa.field("rows", pa.large_binary())]))
    assert unpack(large).column("kind").to_pylist() == ["tx", "tx", "label", "quarantine"]
    empty = unpack(event_source.PACKED_SCHEMA.empty_table())
    assert empty.schema == ROW_SCHEMA and empty.num_rows == 0
