"""The lake sink: pure shaping and partitioning, then Delta commits over HTTP on the emulator."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fraudstream import aws, lake_tables
from fraudstream.lake.delta_log import app_tag
from fraudstream.lake.errors import LegacyLayoutError
from fraudstream.lake.tables import open_table, spark_query_id
from fraudstream.readback import lake_table
from fraudstream.retry import Backoff
from fraudstream.settings import Settings, load_settings
from fraudstream.stack.faults import Fault
from processor.errors import SinkError
from processor.sinks.lake import (
    LakeSchemaError,
    LakeWriter,
    conform,
    encode,
    plan,
)
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


def test_plan_partitions_by_event_hour_with_names_from_the_batch() -> None:
    rows = conform("transactions", transactions(10), batch_id=42)  # 09:58 .. 10:02:30
    objects = plan("transactions", rows, 42, "query-a")
    tag = app_tag("query-a")
    assert [o.path for o in objects] == [
        f"dt=2026-11-22/hour=09/part-000000000042-{tag}-0000.zstd.parquet",
        f"dt=2026-11-22/hour=10/part-000000000042-{tag}-0000.zstd.parquet",
    ]
    assert [(o.dt, o.hour, o.rows.num_rows) for o in objects] == [
        ("2026-11-22", "09", 4),
        ("2026-11-22", "10", 6),
    ]
    assert plan("transactions", rows, 42, "query-a") == objects
    split = plan("transactions", rows, 42, "query-a", max_rows_per_object=4)
    assert [o.path.rsplit("-", 1)[1] for o in split] == [
        "0000.zstd.parquet",
        "0000.zstd.parquet",
        "0001.zstd.parquet",
    ]
    assert plan("transactions", rows.slice(0, 0), 1, "query-a") == []


@pytest.mark.parametrize("shards", [4, 80])
def test_an_hours_rows_are_gathered_in_order_from_interleaved_shard_runs(shards: int) -> None:
    """A micro-batch is shard runs one after another, each in time order across the hour: an
    hour's rows are gathered in batch order, whether as slices of the runs (4 shards) or by
    a copy (80 shards: more runs than slices are worth)."""
    per_shard = 8
    frame = transactions(shards * per_shard, step=timedelta(seconds=30))
    runs = [frame.iloc[s::shards] for s in range(shards)]  # each shard: 09:58 onwards
    rows = conform("transactions", pd.concat(runs, ignore_index=True), batch_id=7)
    hours = pc.hour(rows.column("event_time")).to_numpy()
    objects = plan("transactions", rows, 7, "query-a")
    assert [o.hour for o in objects] == sorted(set(f"{h:02d}" for h in hours))
    for obj in objects:
        expected = rows.filter(pa.array(hours == int(obj.hour)))
        assert obj.rows.equals(expected)
        assert pq.read_table(io.BytesIO(encode(obj.rows))).equals(
            pq.read_table(io.BytesIO(encode(expected)))
        )


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
    objects = plan("quarantine", conform("quarantine", frame, 3), 3, "q")
    assert sorted((o.dt, o.hour) for o in objects) == [("1970-01-01", "00"), ("2026-01-02", "23")]


def test_encode_is_zstd_parquet_with_the_schema() -> None:
    rows = conform("transactions", transactions(5), batch_id=1)
    data = encode(rows)
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.schema_arrow == lake_tables.arrow_schema("transactions")
    assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"
    assert pq.read_table(io.BytesIO(data)).equals(rows)
    # readers prune on the top-level columns' min/max; the features map carries none
    group = parquet.metadata.row_group(0)
    columns = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    assert columns["event_time"].is_stats_set and columns["card_id"].is_stats_set
    assert not columns["features.key_value.value"].is_stats_set
    assert "RLE_DICTIONARY" in columns["card_id"].encodings
    assert "RLE_DICTIONARY" not in columns["transaction_id"].encodings


# --- against the emulator -------------------------------------------------------------


@pytest.fixture
def lake(local_stack: Settings) -> Settings:
    """Settings with a fresh bucket, so tests do not see each other's objects."""
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    aws.client("s3", local_stack).create_bucket(Bucket=bucket)
    return local_stack.model_copy(update={"bucket": bucket})


Faults = Callable[..., dict[str, Any]]


def injected(faults: Faults) -> dict[str, int]:
    return dict(faults.status()["injected"])  # type: ignore[attr-defined]


def keys(settings: Settings, prefix: str = "") -> list[str]:
    s3 = aws.client("s3", settings)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def commits(settings: Settings, table: str) -> list[str]:
    return [k for k in keys(settings, f"{table}/_delta_log/") if k.endswith(".json")]


QUARANTINE = pd.DataFrame(
    {
        "raw": ["{oops"],
        "reason": ["bad_json"],
        "detail": ["not valid JSON"],
        "shard_id": ["shardId-0"],
        "sequence_number": ["9"],
        "arrival_time": [START],
    }
)


@pytest.mark.integration
def test_one_commit_per_table_and_batch_and_a_replay_is_skipped(lake: Settings) -> None:
    frame = transactions(10)
    with LakeWriter(lake, query="query-a") as writer:
        first = writer.write_tables(
            42, {"transactions": frame, "quarantine": QUARANTINE, "labels": labels_rows(0)[:0]}
        )
        assert first.rows == 11 and first.commits == {"transactions": 1, "quarantine": 1}
        # The replay of batch 42 (rows in another order) is recognised and writes nothing.
        replay = writer.write_tables(
            42, {"transactions": frame.iloc[::-1], "quarantine": QUARANTINE}
        )
        assert replay.skipped == ["transactions", "quarantine"] and replay.written == []
    # So does a new writer (a restarted processor) that reads the log.
    with LakeWriter(lake, query="query-a") as restarted:
        assert restarted.write("transactions", 42, frame).skipped == ["transactions"]
        assert restarted.write("transactions", 43, frame.iloc[:2]).commits == {"transactions": 2}
    stored = lake_table(lake, "transactions")
    assert stored.schema == lake_tables.arrow_schema("transactions")
    assert sorted(stored.column("transaction_id").to_pylist()) == sorted(
        [*frame["transaction_id"], *frame["transaction_id"][:2]]
    )
    assert lake_table(lake, "quarantine").num_rows == 1
    assert lake_table(lake, "labels").num_rows == 0  # created by nobody: no rows, no commit
    table = open_table(lake, "transactions")
    assert table is not None and table.transaction_version("query-a") == 43
    assert len(commits(lake, "transactions")) == 3  # creation, batch 42, batch 43
    data = [k for k in keys(lake, "transactions/") if "/_delta_log/" not in k]
    assert all(k.endswith(".zstd.parquet") and "/dt=2026-11-22/hour=" in k for k in data)


@pytest.mark.integration
def test_tables_opened_ahead_are_created_and_then_written(
    lake: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with LakeWriter(lake, query="q") as writer:
        assert writer.open_tables("another query", ["transactions"]) == []
        assert commits(lake, "transactions") == []
        for future in writer.open_tables("q", ["transactions", "quarantine"]):
            assert future.result().version == 0
        assert len(commits(lake, "transactions")) == len(commits(lake, "quarantine")) == 1
        assert writer.write("transactions", 0, transactions(3)).commits == {"transactions": 1}
    missing_bucket = lake.model_copy(update={"bucket": f"absent-{uuid.uuid4().hex[:8]}"})
    with (
        caplog.at_level(logging.INFO, logger="processor.sinks.lake"),
        LakeWriter(missing_bucket, query="q", sleep=lambda s: None, max_attempts=1) as writer,
    ):
        (future,) = writer.open_tables("q", ["labels"])
        assert isinstance(future.exception(), SinkError)
        assert "opening table labels ahead of the first batch failed" in caplog.text
        with pytest.raises(SinkError, match="open table labels"):  # the write tries again
            writer.write("labels", 0, labels_rows(2))


@pytest.mark.integration
def test_another_writers_commit_moves_the_version_on(lake: Settings) -> None:
    """A second writer (another query, or compaction) takes the next version first: the
    conditional put fails and the writer commits at the version after it."""
    frame = transactions(3)
    with LakeWriter(lake, query="a") as a, LakeWriter(lake, query="b") as b:
        assert a.write("transactions", 0, frame).commits == {"transactions": 1}
        assert b.write("transactions", 0, frame).commits == {"transactions": 2}
        assert a.write("transactions", 1, frame).commits == {"transactions": 3}
        assert b.write("transactions", 0, frame).skipped == ["transactions"]
        assert lake_table(lake, "transactions").num_rows == 9
        # A schema change by someone else is not raced past: the writer stops, saying why.
        aws.client("s3", lake).put_object(
            Bucket=lake.bucket,
            Key="transactions/_delta_log/00000000000000000004.json",
            Body=b'{"metaData":{"id":"changed"}}\n',
        )
        with pytest.raises(SinkError, match="changed its schema or protocol at version 4"):
            a.write("transactions", 2, frame)


@pytest.mark.integration
def test_a_commit_whose_answer_was_lost_is_not_written_twice(
    lake: Settings, faults: Faults
) -> None:
    """The commit reached S3 but the answer did not: the retry's conditional put fails, and
    the writer finds its own batch in that version instead of committing it again."""
    with LakeWriter(lake, query="q") as writer:
        writer.write("transactions", 0, transactions(2))  # creates the table, no faults
    faults(Fault("s3:PUT", "answer_lost", path="/_delta_log/", times=1))
    with LakeWriter(lake, query="q", sleep=lambda s: None) as writer:
        result = writer.write("transactions", 1, transactions(3))
    assert injected(faults) == {"s3:PUT:answer_lost": 1}
    assert result.skipped == ["transactions"] and result.retries == 1
    assert len(commits(lake, "transactions")) == 3
    assert lake_table(lake, "transactions").num_rows == 5


@pytest.mark.integration
def test_transient_s3_failures_are_retried_with_backoff(lake: Settings, faults: Faults) -> None:
    with LakeWriter(lake, query="q") as writer:  # the table exists before the faults
        writer.write("transactions", 0, transactions(1))
    slept: list[float] = []
    faults(
        Fault("s3:PUT", code="SlowDown", status=503, times=2),
        Fault("s3:PUT", "disconnect", times=1),
    )
    with LakeWriter(lake, query="q", sleep=slept.append, backoff=Backoff(base=0.01)) as writer:
        result = writer.write("transactions", 1, transactions(3))
    assert injected(faults) == {"s3:PUT:error": 2, "s3:PUT:disconnect": 1}
    assert result.retries == 3 and len(slept) == 3
    assert lake_table(lake, "transactions").num_rows == 4


@pytest.mark.integration
def test_persistent_failure_raises_sink_error(lake: Settings, faults: Faults) -> None:
    with LakeWriter(lake, query="q") as writer:
        writer.write("transactions", 0, transactions(1))
    faults(Fault("s3:PUT", code="InternalError", status=500))
    with (
        LakeWriter(lake, query="q", sleep=lambda s: None, max_attempts=3) as writer,
        pytest.raises(SinkError, match="after 3 attempts"),
    ):
        writer.write("transactions", 1, transactions(1))
    faults()
    missing_bucket = lake.model_copy(update={"bucket": f"absent-{uuid.uuid4().hex[:8]}"})
    with (
        LakeWriter(missing_bucket, sleep=lambda s: None, max_attempts=2) as writer,
        pytest.raises(SinkError, match="open table transactions"),
    ):
        writer.write("transactions", 1, transactions(1))


@pytest.mark.integration
def test_a_prefix_in_the_old_layout_is_not_taken_over(lake: Settings) -> None:
    aws.client("s3", lake).put_object(
        Bucket=lake.bucket,
        Key="transactions/dt=2026-11-22/hour=09/batch-000000000001-0000.parquet",
        Body=encode(conform("transactions", transactions(1), 1)),
    )
    with (
        LakeWriter(lake, query="q") as writer,
        pytest.raises(LegacyLayoutError, match="fraudstream lake upgrade"),
    ):
        writer.write("transactions", 2, transactions(1))


@pytest.mark.integration
def test_the_log_gets_a_checkpoint_every_interval(lake: Settings) -> None:
    with LakeWriter(lake, query="q", checkpoint_interval=3) as writer:
        for batch in range(4):
            writer.write("labels", batch, labels_rows(batch))
    assert any(k.endswith(".checkpoint.parquet") for k in keys(lake, "labels/_delta_log/"))
    assert lake_table(lake, "labels").num_rows == 4


def labels_rows(batch: int) -> pa.Table:
    return pa.Table.from_pylist(
        [{"transaction_id": f"t{batch}", "is_fraud": False, "label_time": START}],
        schema=lake_tables.arrow_schema("labels"),
    )


def test_spark_query_id_comes_from_the_checkpoint(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path)
    assert spark_query_id(settings) is None
    folder = Path(settings.checkpoint_dir) / "query"
    folder.mkdir(parents=True)
    (folder / "metadata").write_text('{"id":"5f1c0b6e-0000-4000-8000-000000000001"}\n')
    assert spark_query_id(settings) == "5f1c0b6e-0000-4000-8000-000000000001"
    assert LakeWriter(settings, s3=object()).app_id == "5f1c0b6e-0000-4000-8000-000000000001"
    (folder / "metadata").write_text("not json")
    assert spark_query_id(settings) is None
    assert LakeWriter(settings, s3=object()).app_id == f"fraudstream:{settings.checkpoint_dir}"
