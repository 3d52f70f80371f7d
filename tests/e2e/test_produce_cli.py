"""The foundation's promise, through the CLI as a user runs it: produce 10,000 events at
1,000/s and read exactly those back from the stream with plain boto3."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from fraudstream import aws
from fraudstream.events import LabelRecord, parse_event
from fraudstream.settings import Settings
from fraudstream.stream_dump import read_stream

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": settings.endpoint_url or "",
        "FRAUDSTREAM_STREAM_NAME": settings.stream_name,
        "FRAUDSTREAM_LABELS_STREAM_NAME": settings.labels_stream_name,
        "FRAUDSTREAM_STATE_DIR": str(settings.state_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "fraudstream", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_produce_10k_at_1k_per_second(fresh_streams: Settings) -> None:
    result = run_cli(
        fresh_streams,
        *("produce", "--clock", "live", "--rate", "1000", "--duration", "10"),
        *("--label-delay", "1"),
    )
    assert result.returncode == 0, result.stderr
    assert "10,000" in result.stdout
    # 10,000 cards at 1,000/s: each every 10 s, which the model takes for fraud; it says so.
    assert "warning: --clock live: each of 10,000 cards transacts every 10 s" in result.stderr
    kinesis = aws.client("kinesis", fresh_streams)
    records = list(read_stream(kinesis, fresh_streams.stream_name))
    events = [parse_event(r.data, max_future=timedelta(minutes=5)) for r in records]
    assert len(events) == 10_000
    assert len({e.transaction_id for e in events}) == 10_000
    assert all(r.partition_key == e.card_id for r, e in zip(records, events, strict=True))
    labels = [
        LabelRecord.from_json(r.data)
        for r in read_stream(kinesis, fresh_streams.labels_stream_name)
    ]
    assert {lab.transaction_id for lab in labels} == {e.transaction_id for e in events}

    stats = run_cli(fresh_streams, "stream", "stats")
    assert "10,000 records, 10,000 distinct transaction ids, 0 duplicates" in stats.stdout
    assert "valid: 10,000" in stats.stdout
    # KPL-aggregated by default: a few hundred Kinesis records (one per shard per send).
    assert len({(r.shard_id, r.sequence_number) for r in records}) < 1_000
    assert any(r.sub_sequence_number > 0 for r in records)


def test_produce_without_aggregation_writes_one_record_per_event(fresh_streams: Settings) -> None:
    result = run_cli(fresh_streams, "produce", "--rate", "200", "--duration", "2", "--no-aggregate")
    assert result.returncode == 0, result.stderr
    # The simulated clock by default: 200/s over 10,000 cards is 576x the wall clock.
    assert "simulated clock: event time runs 576x" in result.stderr
    assert "warning" not in result.stderr
    records = list(read_stream(aws.client("kinesis", fresh_streams), fresh_streams.stream_name))
    assert len(records) == 400
    assert len({(r.shard_id, r.sequence_number) for r in records}) == 400


def test_bad_input_is_one_line_and_non_zero(fresh_streams: Settings) -> None:
    negative = run_cli(fresh_streams, "produce", "--rate", "-5", "--duration", "1")
    assert negative.returncode == 1
    assert negative.stderr.strip() == "Error: --rate must be positive (got -5)"
    missing = run_cli(
        fresh_streams.model_copy(update={"stream_name": "absent"}), "produce", "--duration", "1"
    )
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    assert "stream 'absent' does not exist" in missing.stderr


def test_generate_writes_history(tmp_path: Path, local_stack: Settings) -> None:
    out = tmp_path / "history.parquet"
    result = run_cli(local_stack, "generate", "--out", str(out), "--cards", "100", "--days", "2")
    assert result.returncode == 0, result.stderr
    assert out.is_file() and "transactions" in result.stdout
