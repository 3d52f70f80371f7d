"""Catching up after an outage (issue 21): a backlog several times one micro-batch, put shard
by shard as a per-shard backfill does, is processed exactly once, in full batches, on a small
driver heap, with ``--available-now`` and live."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fraudstream import aws
from fraudstream.kpl import hash_key
from fraudstream.readback import lake_table
from fraudstream.settings import Settings, to_environment
from producer.generator import TransactionGenerator
from producer.simulated import simulated_config, watermark_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
EVENTS = 8_000
PER_TRIGGER = 1_000


@pytest.fixture
def pipeline(fresh_streams: Settings, fresh_sinks: Settings) -> Settings:
    return fresh_sinks.model_copy(
        update={
            "stream_name": fresh_streams.stream_name,
            "labels_stream_name": fresh_streams.labels_stream_name,
        }
    )


def put_shard_by_shard(settings: Settings, stream: str, records: list[tuple[str, bytes]]) -> None:
    """Every record of the stream's first shard, then the second's, and so on."""
    kinesis = aws.client("kinesis", settings)
    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    ranges = sorted(
        (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in shards
    )
    by_shard: dict[int, list[tuple[str, bytes]]] = {i: [] for i in range(len(ranges))}
    for key, data in records:
        hashed = hash_key(key)
        shard = next(i for i, (lo, hi) in enumerate(ranges) if lo <= hashed <= hi)
        by_shard[shard].append((key, data))
    for shard in range(len(ranges)):
        pending = by_shard[shard]
        while pending:
            chunk, pending = pending[:200], pending[200:]
            response = kinesis.put_records(
                StreamName=stream, Records=[{"Data": d, "PartitionKey": k} for k, d in chunk]
            )
            failed = [
                entry
                for entry, result in zip(chunk, response["Records"], strict=True)
                if "ErrorCode" in result
            ]
            pending = failed + pending  # throttled by the emulator's shard limits: again


def lake_rows(settings: Settings) -> int:
    """Transactions in the lake so far (0 before its first commit)."""
    try:
        return lake_table(settings, "transactions").num_rows
    except Exception:  # noqa: BLE001 - no table yet
        return 0


def run_live(env: dict[str, str], settings: Settings, timeout: float = 900) -> str:
    """A live ``fraudstream process`` until the lake holds the backlog, then a SIGTERM (the
    graceful stop); its output."""
    with tempfile.TemporaryFile("w+") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "fraudstream", "process"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        try:
            while lake_rows(settings) < EVENTS and time.monotonic() < deadline:
                assert child.poll() is None, "the live processor exited while records waited"
                time.sleep(2)
            time.sleep(3)  # a batch after the last: nothing more may arrive
        finally:
            child.send_signal(signal.SIGTERM)
            code = child.wait(timeout=120)
        log.seek(0)
        output = log.read()
    assert code == 0, output[-3000:]
    return output


@pytest.mark.parametrize("mode", ["available-now", "live"])
def test_a_backlog_put_shard_by_shard_is_processed_whole(
    pipeline: Settings, generator_model_dir: Path, mode: str
) -> None:
    now = datetime.now(UTC)
    config = simulated_config(
        events=EVENTS, cards=400, seed=21, fraud_rate=0.03, token_key=b"k" * 32, now=now
    )
    generated = list(itertools.islice(TransactionGenerator(config), EVENTS))
    put_shard_by_shard(
        pipeline,
        pipeline.stream_name,
        [(g.event.card_id, g.event.to_json().encode()) for g in generated],
    )
    labels = [g.label(g.event.event_time + timedelta(seconds=60)) for g in generated]
    put_shard_by_shard(
        pipeline,
        pipeline.labels_stream_name,
        [(label.card_id, label.to_json().encode()) for label in labels],
    )
    env = {
        **os.environ,
        **to_environment(
            pipeline.model_copy(
                update={
                    "model_dir": generator_model_dir,
                    "metrics_port": 0,
                    "watermark": watermark_for(3000, 400, wall_seconds=60),
                    "max_records_per_trigger": PER_TRIGGER,
                    "spark_driver_memory": "512m",  # about the least Spark accepts
                }
            )
        ),
    }
    if mode == "available-now":
        result = subprocess.run(
            [sys.executable, "-m", "fraudstream", "process", "--available-now"],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert "so far" in result.stderr and "behind the streams' tip" in result.stderr
    else:
        run_live(env, pipeline)
    transactions = lake_table(pipeline, "transactions")
    ids = Counter(transactions["transaction_id"].to_pylist())
    assert len(ids) == EVENTS and max(ids.values()) == 1
    assert lake_table(pipeline, "labels").num_rows == EVENTS
    batches = Counter(transactions["batch_id"].to_pylist())
    assert len(batches) <= EVENTS // PER_TRIGGER + 3  # full batches, not a crawl
