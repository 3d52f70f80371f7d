"""The Kinesis writer against the real emulator, with failures injected by the emulator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fraudstream import aws
from fraudstream.errors import ResourceMissingError
from fraudstream.settings import Settings
from fraudstream.stream_dump import read_stream
from producer.errors import DeliveryError
from producer.kinesis_writer import MAX_BATCH_RECORDS, KinesisWriter

pytestmark = pytest.mark.integration


def writer(settings: Settings, **options: Any) -> KinesisWriter:
    client = aws.client("kinesis", settings, max_attempts=1)
    return KinesisWriter(client, settings.stream_name, sleep=lambda _: None, **options)


def stored(settings: Settings) -> list[bytes]:
    return [r.data for r in read_stream(aws.client("kinesis", settings), settings.stream_name)]


def test_batches_respect_the_record_limit(fresh_streams: Settings) -> None:
    out = writer(fresh_streams)
    for i in range(1_234):
        out.put(f"event-{i}".encode(), f"card-{i % 50}")
    out.flush()
    assert out.stats.sent == 1_234 and out.stats.requests == 3
    assert sorted(stored(fresh_streams)) == sorted(f"event-{i}".encode() for i in range(1_234))
    records = list(read_stream(aws.client("kinesis", fresh_streams), fresh_streams.stream_name))
    now = datetime.now(UTC)
    assert all(now - timedelta(minutes=5) < r.arrival <= now for r in records)
    assert {r.partition_key for r in records} == {f"card-{i}" for i in range(50)}


def test_batches_respect_the_byte_limit(fresh_streams: Settings) -> None:
    out = writer(fresh_streams)
    payload = b"x" * (900 * 1024)
    for _ in range(7):  # 6.3 MiB: two calls under the 5 MiB limit
        out.put(payload, "pk")
    out.flush()
    assert out.stats.requests == 2 and out.stats.sent == 7
    with pytest.raises(ValueError, match="1 MiB"):
        out.put(b"x" * (1024 * 1024 + 1), "pk")
    with pytest.raises(ValueError, match="partition key"):
        out.put(b"x", "")


def test_partial_failures_are_retried_until_delivered_exactly_once(
    fresh_streams: Settings, faults: Callable[..., dict[str, Any]]
) -> None:
    faults(put_records_fail_fraction=0.3, put_records_throttle_fraction=0.2, seed=42)
    out = writer(fresh_streams)
    expected = [f"event-{i}".encode() for i in range(3_000)]
    for data in expected:
        out.put(data, data.decode())
    out.flush()
    injected = faults.status()["injected"]  # type: ignore[attr-defined]
    assert injected["put_records_failed_records"] > 500 and injected["put_records_throttled"] > 0
    assert out.stats.retried >= injected["put_records_failed_records"]
    assert out.stats.sent == 3_000 and out.stats.undelivered == 0
    assert sorted(stored(fresh_streams)) == sorted(expected)


def test_gives_up_loudly(fresh_streams: Settings, faults: Callable[..., dict[str, Any]]) -> None:
    faults(put_records_fail_fraction=1.0)
    out = writer(fresh_streams, max_attempts=3)
    for i in range(10):
        out.put(b"doomed", f"k{i}")
    with pytest.raises(DeliveryError, match="10 record\\(s\\) not delivered") as caught:
        out.flush()
    assert caught.value.undelivered == 10 and out.stats.requests == 3


def test_missing_stream_is_a_clear_error(local_stack: Settings) -> None:
    out = writer(local_stack.model_copy(update={"stream_name": "no-such-stream"}))
    out.put(b"x", "k")
    with pytest.raises(ResourceMissingError, match="fraudstream stack up"):
        out.flush()


def test_backoff_is_capped_full_jitter(local_stack: Settings) -> None:
    sleeps: list[float] = []
    client = aws.client("kinesis", local_stack, max_attempts=1)
    out = KinesisWriter(client, "s", base_backoff=0.1, max_backoff=0.5, sleep=sleeps.append)
    for attempt in range(1, 8):
        out._backoff(attempt)
    assert all(0 <= s <= 0.5 for s in sleeps) and max(sleeps) > 0
    assert MAX_BATCH_RECORDS == 500
