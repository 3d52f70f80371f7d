"""The lake sink: pure shaping and partitioning, then real S3 over HTTP on the emulator."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudstream import aws, lake_tables
from fraudstream.settings import Settings
from fraudstream.stack.fault_proxy import disconnect, fault_proxy, s3_error
from processor.errors import SinkError
from processor.sinks.lake import (
    LakeSchemaError,
    LakeWriter,
    batch_prefix,
    conform,
    encode,
    object_name,
    plan,
    read_objects,
)
from processor.sinks.retry import Backoff
from tests.processor.sinks.rows import START, transactions


def test_conform_gives_exactly_the_lake_schema() -> None:
    frame = transactions(3)
    rows = conform("transactions", frame, batch_id=42)
    assert rows.schema == lake_tables.arrow_schema("transactions")
    assert rows.column("batch_id").to_pylist() == [42, 42, 42]
    assert rows.column("features").to_pylist()[0] == [
        ("card_count_10m", 0.0),
        ("speed_kmh_from_prev", 3.0),
    ]
    assert rows.column("event_time").to_pylist()[0] == START
    # Arrow input with naive timestamps (how Spark hands UTC back) and an int amount.
    table = pa.Table.from_pandas(frame.drop(columns=["features"]), preserve_index=False)
    table = table.append_column(
        "features", pa.array([None] * 3, pa.map_(pa.string(), pa.float64()))
    )
    naive = table.set_column(
        table.column_names.index("event_time"),
        "event_time",
        pa.array([START.replace(tzinfo=None)] * 3, pa.timestamp("ns")),
    )
    again = conform("transactions", naive, batch_id=7)
    assert again.schema == lake_tables.arrow_schema("transactions")
    assert again.column("event_time").to_pylist() == [START] * 3


def test_conform_accepts_sparks_large_arrow_types() -> None:
    """Spark's toArrow() hands strings and lists over as large_string / large_list."""
    table = pa.Table.from_pandas(transactions(3), preserve_index=False)
    for index, column in enumerate(table.schema):
        if pa.types.is_string(column.type):
            table = table.set_column(
                index, column.name, table.column(index).cast(pa.large_string())
            )
    table = table.set_column(
        table.column_names.index("reasons"),
        "reasons",
        table.column("reasons").cast(pa.large_list(pa.large_string())),
    )
    table = table.set_column(
        table.column_names.index("features"),
        "features",
        pa.array([{"a": 1.0}] * 3, pa.map_(pa.large_string(), pa.float64())),
    )
    rows = conform("transactions", table, 1)
    assert rows.schema == lake_tables.arrow_schema("transactions")
    assert rows.column("features").to_pylist()[0] == [("a", 1.0)]


def test_conform_names_missing_and_unconvertible_columns() -> None:
    with pytest.raises(LakeSchemaError, match="lack: decision, reasons"):
        conform("transactions", transactions(1).drop(columns=["decision", "reasons"]), 1)
    bad = transactions(1).assign(amount=["lots"])
    with pytest.raises(LakeSchemaError, match="'amount'"):
        conform("transactions", bad, 1)


def test_plan_partitions_by_event_hour_with_deterministic_names() -> None:
    rows = conform("transactions", transactions(10), batch_id=42)  # 09:58 .. 10:02:30
    objects = plan("transactions", rows, 42)
    assert [o.key for o in objects] == [
        "transactions/dt=2026-11-22/hour=09/batch-000000000042-0000.parquet",
        "transactions/dt=2026-11-22/hour=10/batch-000000000042-0000.parquet",
    ]
    assert [o.rows.num_rows for o in objects] == [4, 6]
    assert plan("transactions", rows, 42) == objects
    split = plan("transactions", rows, 42, query="main", max_rows_per_object=4)
    assert [o.key.rsplit("/", 1)[1] for o in split] == [
        "main-batch-000000000042-0000.parquet",
        "main-batch-000000000042-0000.parquet",
        "main-batch-000000000042-0001.parquet",
    ]
    assert object_name(5, 1) == "batch-000000000005-0001.parquet"
    assert batch_prefix(5, "q") == "q-batch-000000000005-"
    assert plan("transactions", rows.slice(0, 0), 1) == []


def test_quarantine_partitions_by_arrival_and_nulls_go_to_the_epoch() -> None:
    arrival = datetime(2026, 1, 2, 23, 59, tzinfo=UTC)
    frame = pd.DataFrame(
        {
            "raw": ["{", "x"],
            "reason": ["bad_json", "bad_json"],
            "detail": ["d", "d"],
            "shard_id": ["s", "s"],
            "sequence_number": ["1", "2"],
            "arrival_time": [arrival, None],
        }
    )
    objects = plan("quarantine", conform("quarantine", frame, 3), 3)
    assert sorted(o.key.split("/batch")[0] for o in objects) == [
        "quarantine/dt=1970-01-01/hour=00",
        "quarantine/dt=2026-01-02/hour=23",
    ]


def test_encode_is_zstd_parquet_with_the_schema() -> None:
    rows = conform("transactions", transactions(5), batch_id=1)
    data = encode(rows)
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.schema_arrow == lake_tables.arrow_schema("transactions")
    assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"


# --- against the emulator -------------------------------------------------------------


@pytest.fixture
def lake(local_stack: Settings) -> Settings:
    """Settings with a fresh bucket, so tests do not see each other's objects."""
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    aws.client("s3", local_stack).create_bucket(Bucket=bucket)
    return local_stack.model_copy(update={"bucket": bucket})


def keys(settings: Settings, prefix: str = "") -> list[str]:
    s3 = aws.client("s3", settings)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def read_all(settings: Settings, prefix: str) -> pa.Table:
    return read_objects(aws.client("s3", settings), settings.bucket, keys(settings, prefix))


@pytest.mark.integration
def test_writes_every_table_and_a_replay_leaves_one_copy(lake: Settings) -> None:
    frame = transactions(10)
    quarantine = pd.DataFrame(
        {
            "raw": ["{oops"],
            "reason": ["bad_json"],
            "detail": ["not valid JSON"],
            "shard_id": ["shardId-0"],
            "sequence_number": ["9"],
            "arrival_time": [START],
        }
    )
    with LakeWriter(lake) as writer:
        first = writer.write_tables(42, {"transactions": frame, "quarantine": quarantine})
        assert first.rows == 11 and first.removed == []
        # The replay of batch 42 (rows in another order) rewrites the same keys.
        replay = writer.write_tables(
            42, {"transactions": frame.iloc[::-1], "quarantine": quarantine}
        )
    assert sorted(o.key for o in replay.written) == sorted(o.key for o in first.written)
    assert keys(lake) == sorted(o.key for o in first.written)
    stored = read_all(lake, "transactions/")
    assert stored.schema == lake_tables.arrow_schema("transactions")
    assert sorted(stored.column("transaction_id").to_pylist()) == sorted(frame["transaction_id"])
    assert set(stored.column("batch_id").to_pylist()) == {42}
    assert read_all(lake, "quarantine/").schema == lake_tables.arrow_schema("quarantine")


@pytest.mark.integration
def test_a_replay_with_fewer_parts_deletes_the_stale_ones(lake: Settings) -> None:
    frame = transactions(4, step=timedelta(seconds=1))
    with LakeWriter(lake, max_rows_per_object=1) as writer:
        assert len(writer.write("transactions", 7, frame).written) == 4
    with LakeWriter(lake, max_rows_per_object=10) as writer:
        replay = writer.write("transactions", 7, frame)
    assert len(replay.removed) == 3
    assert keys(lake) == ["transactions/dt=2026-11-22/hour=09/batch-000000000007-0000.parquet"]
    assert read_all(lake, "").num_rows == 4


@pytest.mark.integration
def test_transient_s3_failures_are_retried_with_backoff(lake: Settings) -> None:
    assert lake.endpoint_url is not None
    slept: list[float] = []
    with fault_proxy(
        lake.endpoint_url,
        s3_error(code="SlowDown", status=503, times=2),
        disconnect(lambda r: r.method == "PUT", times=1),
    ) as proxy:
        proxied = lake.model_copy(update={"endpoint_url": proxy.url})
        with LakeWriter(proxied, sleep=slept.append, backoff=Backoff(base=0.01)) as writer:
            result = writer.write("transactions", 1, transactions(3))
        assert proxy.injected() == {"s3:PUT:SlowDown": 2, "disconnect": 1}
    assert result.retries == 3 and len(slept) == 3
    assert read_all(lake, "").num_rows == 3


@pytest.mark.integration
def test_persistent_failure_raises_sink_error(lake: Settings) -> None:
    assert lake.endpoint_url is not None
    with fault_proxy(lake.endpoint_url, s3_error(code="InternalError", status=500)) as proxy:
        proxied = lake.model_copy(update={"endpoint_url": proxy.url})
        with (
            LakeWriter(proxied, sleep=lambda s: None, max_attempts=3) as writer,
            pytest.raises(SinkError, match="after 3 attempts"),
        ):
            writer.write("transactions", 1, transactions(1))
    missing_bucket = lake.model_copy(update={"bucket": f"absent-{uuid.uuid4().hex[:8]}"})
    with (
        LakeWriter(missing_bucket, sleep=lambda s: None) as writer,
        pytest.raises(SinkError, match="NoSuchBucket"),
    ):
        writer.write("transactions", 1, transactions(1))
