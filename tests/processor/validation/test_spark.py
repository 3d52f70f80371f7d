"""Spark validation agrees with the contract's Python validator, record by record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from fraudstream import lake_tables
from fraudstream.events import EVENT_FIELDS, InvalidEvent, parse_event, spark_schema
from tests.processor.validation.corpus import CORPUS, NOW, fuzz

pytestmark = pytest.mark.integration

ARRIVAL = datetime(2026, 11, 22, 11, 59, 31, tzinfo=UTC)
REASONS = {
    "bad_json",
    "missing_field",
    "wrong_type",
    "bad_amount",
    "bad_value",
    "bad_timestamp",
    "unknown_schema_version",
    "unknown_field",
    "future_event_time",
    "raw_card_number",
}
# Where Spark and Python may deliberately differ (none at present).
DIVERGENCES: dict[str, str] = {}
# Reasons whose detail embeds a value or a parser message that the two engines word differently.
WORDED_DIFFERENTLY = {"bad_json", "bad_timestamp", "unknown_schema_version", "bad_amount"}


def utc(value: Any) -> Any:
    """Spark hands back naive datetimes in the session zone (UTC here)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def reference(payload: bytes) -> tuple[str | None, str | None, Any]:
    """(reason, detail, event) from the Python validator; crashes map as the fallback maps them."""
    try:
        return None, None, parse_event(payload, now=NOW)
    except InvalidEvent as error:
        return error.reason, error.detail, None
    except RecursionError:
        return "bad_json", None, None
    except OverflowError:
        return "bad_value", None, None


def run(
    spark: Any, raw_frame: Callable[..., Any], corpus: list[tuple[str, bytes]]
) -> dict[str, Any]:
    from pyspark.sql import functions as F

    from processor.validation import validate

    frame = raw_frame(
        [(data, "shardId-000", str(i), ARRIVAL) for i, (_, data) in enumerate(corpus)]
    )
    rows = validate(frame, now=F.lit(NOW)).collect()
    by_seq = {row["sequence_number"]: row for row in rows}
    assert len(by_seq) == len(corpus)
    return {label: by_seq[str(i)] for i, (label, _) in enumerate(corpus)}


def assert_parity(corpus: list[tuple[str, bytes]], results: dict[str, Any]) -> None:
    mismatches = []
    for label, data in corpus:
        row = results[label]
        reason, detail, expected = reference(data)
        if label in DIVERGENCES:
            assert reason is None and row["reason"] == DIVERGENCES[label], label
            continue
        if row["reason"] != reason:
            mismatches.append(f"{label}: spark {row['reason']!r} python {reason!r} ({detail})")
            continue
        if reason is None:
            got = {spec.name: utc(row[spec.name]) for spec in EVENT_FIELDS}
            want = {spec.name: getattr(expected, spec.name) for spec in EVENT_FIELDS}
            if got != want:
                mismatches.append(f"{label}: values differ: spark {got} python {want}")
        elif detail is not None and reason not in WORDED_DIFFERENTLY:
            same = row["detail"] == detail or (
                "outside its allowed range" in detail
                and row["detail"].split("=")[0] == detail.split("=")[0]
            )
            if not same:
                mismatches.append(f"{label}: detail {row['detail']!r} vs {detail!r}")
    assert not mismatches, "\n".join(mismatches)


def test_corpus_covers_every_reason_and_valid_events() -> None:
    reasons = {reference(data)[0] for _, data in CORPUS}
    assert reasons == REASONS | {None}


def test_spark_agrees_with_python_on_the_corpus(spark: Any, raw_frame: Callable[..., Any]) -> None:
    results = run(spark, raw_frame, CORPUS)
    assert_parity(CORPUS, results)
    # SQL, not the Python fallback, decides the ordinary cases, including every reason that
    # can be judged from a flat JSON object.
    by_sql = {row["reason"] for row in results.values() if row["validated_by"] == "sql"}
    assert by_sql == REASONS - {"bad_json"} | {None}
    assert results["good"]["validated_by"] == "sql"
    assert results["good non-canonical space"]["validated_by"] == "python"


def test_spark_agrees_with_python_on_fuzzed_events(
    spark: Any, raw_frame: Callable[..., Any]
) -> None:
    corpus = fuzz(1500)
    assert_parity(corpus, run(spark, raw_frame, corpus))


def test_quarantine_rows_are_redacted_and_keep_their_source(
    spark: Any, raw_frame: Callable[..., Any]
) -> None:
    from pyspark.sql import functions as F

    from processor.validation import quarantine_rows, valid_events, validate

    corpus = [
        ("good", CORPUS[0][1]),
        ("card", dict(CORPUS)["card number spaced"]),
        ("json", dict(CORPUS)["order card number in bad json"]),
        ("plain", dict(CORPUS)["amount zero"]),
        ("binary", b"\xff\xfe4111111111111111"),
    ]
    frame = raw_frame([(d, "shardId-7", f"seq-{i}", ARRIVAL) for i, (_, d) in enumerate(corpus)])
    validated = validate(frame, now=F.lit(NOW))
    quarantine = {row["sequence_number"]: row for row in quarantine_rows(validated).collect()}
    assert set(quarantine) == {"seq-1", "seq-2", "seq-3", "seq-4"}
    assert '"card_id":"************1111"' in quarantine["seq-1"]["raw"]
    assert quarantine["seq-2"]["raw"] == '{"card":"************1111"'
    assert quarantine["seq-3"]["raw"] == corpus[3][1].decode()
    assert quarantine["seq-4"]["raw"] == "\ufffd\ufffd************1111"
    assert all(row["shard_id"] == "shardId-7" for row in quarantine.values())
    assert all(row["arrival_time"] == ARRIVAL.replace(tzinfo=None) for row in quarantine.values())
    valid = valid_events(validated).collect()
    assert [row["sequence_number"] for row in valid] == ["seq-0"]


def test_output_shapes_match_the_contract_and_the_lake(
    spark: Any, raw_frame: Callable[..., Any]
) -> None:
    from pyspark.sql import types as T

    from processor.validation import split

    valid, quarantine = split(raw_frame([(CORPUS[0][1], "s", "1", ARRIVAL)]))
    contract = {f.name: f.dataType for f in spark_schema().fields}
    assert {f.name: f.dataType for f in valid.schema.fields} == {
        **contract,
        "shard_id": T.StringType(),
        "sequence_number": T.StringType(),
        "arrival_time": T.TimestampType(),
    }
    lake = lake_tables.arrow_schema("quarantine")
    kinds = {pa.string(): T.StringType(), pa.timestamp("us", tz="UTC"): T.TimestampType()}
    assert {f.name: f.dataType for f in quarantine.schema.fields} == {
        f.name: kinds[f.type] for f in lake if f.name != "batch_id"
    }


def test_default_clock_is_each_records_arrival_time(
    spark: Any, raw_frame: Callable[..., Any]
) -> None:
    """Without ``now``, an event may be at most MAX_FUTURE (5 min) ahead of its own Kinesis
    arrival: judged when it was sent, not when the processor reads it (a backlog read days
    later decides the same), and not against the wall clock."""
    from processor.validation import validate

    def at(moment: datetime) -> bytes:
        text = moment.isoformat().replace("+00:00", "Z").encode()
        return CORPUS[0][1].replace(b"2026-11-22T11:59:30.123Z", text)

    long_ago = datetime(2020, 1, 1, 12, 0, tzinfo=UTC)
    frame = raw_frame(
        [
            (at(long_ago + timedelta(minutes=4)), "s", "1", long_ago),
            (at(long_ago + timedelta(minutes=6)), "s", "2", long_ago),
            (at(ARRIVAL - timedelta(days=1)), "s", "3", ARRIVAL),
        ]
    )
    reasons = {r["sequence_number"]: r["reason"] for r in validate(frame).collect()}
    assert reasons == {"1": None, "2": "future_event_time", "3": None}


def test_validation_runs_inside_a_streaming_query(spark: Any, tmp_path: Any) -> None:
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    from processor.validation import validate

    source = tmp_path / "raw"
    source.mkdir()
    good = dict(CORPUS)["good"]
    rows = {
        "data": [good, b"not json", good.replace(b"tx-000001", b"tx-000002")],
        "partition_key": ["pk"] * 3,
        "shard_id": ["shardId-0"] * 3,
        "sequence_number": ["1", "2", "3"],
        "approximate_arrival_timestamp": pa.array([ARRIVAL] * 3, pa.timestamp("us", tz="UTC")),
        "stream_name": ["transactions"] * 3,
    }
    pq.write_table(pa.table(rows), source / "part-0.parquet")
    seen: list[Any] = []
    stream = spark.readStream.schema(spark.read.parquet(str(source)).schema).parquet(str(source))
    query = (
        validate(stream, now=F.lit(NOW))
        .writeStream.foreachBatch(lambda batch, _: seen.extend(batch.collect()))
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(120)
    assert sorted((r["sequence_number"], r["reason"]) for r in seen) == [
        ("1", None),
        ("2", "bad_json"),
        ("3", None),
    ]
