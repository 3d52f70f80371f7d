"""The Spark adapter used as plain Python (no SparkSession): contract, hand-off and replay."""

from __future__ import annotations

import json
import pickle

import pytest
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadMaxRows

from processor.kinesis import records
from processor.kinesis.metrics import BatchMetrics, ShardMetrics, from_progress
from processor.kinesis.source import KinesisDataSource, KinesisPartition, KinesisStreamReader

from .conftest import STREAM, Double


def reader_for(double: Double, **options: str) -> KinesisStreamReader:
    source = KinesisDataSource(
        {
            "streamName": STREAM,
            "endpointUrl": double.endpoint,
            "region": "us-east-1",
            "startingPosition": "TRIM_HORIZON",
            **options,
        }
    )
    reader = source.streamReader(source.schema())
    assert isinstance(reader, KinesisStreamReader)
    return reader


def rows_of(reader: KinesisStreamReader, partitions: list[KinesisPartition]) -> list[dict]:
    return [row for p in partitions for batch in reader.read(p) for row in batch.to_pylist()]


def test_the_source_validates_options_in_its_constructor() -> None:
    with pytest.raises(ValueError, match="streamName is required"):
        KinesisDataSource({})
    assert KinesisDataSource.name() == "kinesis"


@pytest.mark.parametrize("data_type", ["binary", "string"])
def test_schema_matches_the_arrow_batches_spark_expects(data_type: str) -> None:
    source = KinesisDataSource({"streamName": STREAM, "dataType": data_type})
    schema = source.schema()
    assert schema.fieldNames() == list(records.COLUMNS)
    expected = records.arrow_schema(data_type)  # type: ignore[arg-type]
    assert to_arrow_schema(schema, timezone="UTC").equals(expected)


def test_the_read_limit_follows_max_records_per_trigger(double: Double) -> None:
    assert isinstance(reader_for(double).getDefaultReadLimit(), ReadAllAvailable)
    limit = reader_for(double, maxRecordsPerTrigger="7").getDefaultReadLimit()
    assert limit == ReadMaxRows(7)


def test_records_fetched_for_a_batch_travel_in_its_partitions(double: Double) -> None:
    for n in range(40):
        double.put(f"card{n % 5}", n)
    reader = reader_for(double, dataType="string", prefetch="false")
    start = reader.initialOffset()
    end = reader.latestOffset(start, ReadMaxRows(30))
    json.dumps(start), json.dumps(end)  # offsets are JSON primitives
    partitions = reader.partitions(start, end)
    assert all(isinstance(p, KinesisPartition) and p.payload for p in partitions)
    rows = rows_of(reader, partitions)  # type: ignore[arg-type]
    assert len(rows) == 30
    assert {r["stream_name"] for r in rows} == {STREAM}
    assert all(r["data"].startswith("card") for r in rows)
    report = reader.reportLatestOffset()
    assert report is not None and report["batch"]["records"] == 30

    # A restarted driver has no records in memory: it plans ranges and re-reads them.
    restarted = reader_for(double, dataType="string")
    replay = restarted.partitions(start, end)
    assert all(isinstance(p, KinesisPartition) and p.payload is None for p in replay)
    assert rows_of(restarted, replay) == rows  # type: ignore[arg-type]
    reader.commit(end)
    reader.stop()


def test_a_partitions_records_travel_compressed_and_read_back_whole(double: Double) -> None:
    body = json.dumps({"card": "c" * 16, "amount": 12.5, "merchant": "m" * 12, "mcc": "5411"})
    for n in range(400):
        double.clock.advance(0.001)
        double.fake.put(double.stream, f"card{n % 7}", f"{body}{n}".encode(), None)
    reader = reader_for(double, dataType="string", prefetch="false")
    start = reader.initialOffset()
    partitions = reader.partitions(start, reader.latestOffset(start, ReadAllAvailable()))
    rows = rows_of(reader, partitions)  # type: ignore[arg-type]
    assert sorted(int(r["data"][len(body) :]) for r in rows) == list(range(400))
    sent = sum(len(p.payload or b"") for p in partitions)  # type: ignore[attr-defined]
    raw = sum(len(r["data"]) for r in rows)
    assert sent < raw / 3  # what crosses the JVM is a third or less of the records' bytes
    reader.stop()


def test_the_reader_pickles_without_its_planner_or_client(double: Double) -> None:
    double.put("card0", 0)
    reader = reader_for(double)
    reader.initialOffset()
    copy = pickle.loads(pickle.dumps(reader))  # noqa: S301 - our own bytes
    assert copy._planner is None and copy.options == reader.options
    partition = KinesisPartition("shardId-000000000000", "1", payload=b"x" * 10_000)
    assert "x" * 100 not in repr(partition)
    reader.stop()


def test_metrics_are_read_back_from_a_query_progress() -> None:
    metrics = BatchMetrics(
        records=3,
        bytes=30,
        fetch_millis=5,
        get_records_calls=2,
        shards={"shardId-0": ShardMetrics(records=3, bytes=30, millis_behind_latest=0, seq="9")},
    )
    progress = {
        "sources": [
            {"description": "other", "latestOffset": None},
            {"description": "python", "latestOffset": metrics.to_report(STREAM)},
        ]
    }
    assert from_progress(progress) == {STREAM: metrics}
    assert from_progress(json.dumps(progress)) == {STREAM: metrics}
    assert from_progress({"sources": []}) == {}
    assert metrics.max_millis_behind_latest == 0


def test_metrics_accept_a_progress_object_and_skip_foreign_offsets() -> None:
    class Progress:
        json = json.dumps(
            {
                "sources": [
                    {"latestOffset": "not json"},
                    {"latestOffset": json.dumps({"offset": 3})},
                    {"latestOffset": json.dumps(BatchMetrics(records=1).to_report(STREAM))},
                ]
            }
        )

    assert from_progress(Progress()) == {STREAM: BatchMetrics(records=1)}


def test_rows_are_user_records_numbered_within_their_kinesis_record() -> None:
    from datetime import UTC, datetime

    from fraudstream import kpl

    arrival = datetime(2026, 1, 1, tzinfo=UTC)
    aggregated = kpl.encode([kpl.UserRecord("card1", b"one"), kpl.UserRecord("card2", b"two")])
    broken = aggregated[:-1] + bytes([aggregated[-1] ^ 1])  # digest mismatch: plain data
    kinesis_records = [
        {"Data": aggregated, "PartitionKey": "card1", "SequenceNumber": "10",
         "ApproximateArrivalTimestamp": arrival},
        {"Data": b"plain", "PartitionKey": "card3", "SequenceNumber": "11",
         "ApproximateArrivalTimestamp": arrival},
        {"Data": broken, "PartitionKey": "card4", "SequenceNumber": "12",
         "ApproximateArrivalTimestamp": arrival},
    ]  # fmt: skip
    batch = records.to_record_batch(kinesis_records, "shardId-1", STREAM)
    assert batch.schema == records.arrow_schema()
    got = [
        (r["partition_key"], r["data"], r["sequence_number"], r["sub_sequence_number"])
        for r in batch.to_pylist()
    ]
    assert got == [
        ("card1", b"one", "10", 0),
        ("card2", b"two", "10", 1),
        ("card3", b"plain", "11", 0),
        ("card4", broken, "12", 0),
    ]
    assert {r["approximate_arrival_timestamp"] for r in batch.to_pylist()} == {arrival}
    assert [records.units(r) for r in kinesis_records] == [2, 1, 1]
    as_text = records.to_record_batch(kinesis_records[:1], "shardId-1", STREAM, "string")
    assert as_text.column("data").to_pylist() == ["one", "two"]
