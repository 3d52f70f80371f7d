"""The processor end to end on the local stack, through the CLI as a user runs it:
generator with injected fraud -> Kinesis -> `fraudstream process` (a real Spark job) -> lake
and alerts. And the crash test: kill -9 twice mid-stream, then exactly once everywhere."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from fraudstream import aws
from fraudstream.readback import alert_ids, committed_batches, ground_truth, lake_table
from fraudstream.settings import Settings
from fraudstream.stream_dump import read_stream
from producer.simulated import watermark_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SMALL_HEAP = "512m"
"""The driver JVM heap of the crash test: about the least Spark accepts (450 MiB)."""


@pytest.fixture
def pipeline(fresh_streams: Settings, fresh_sinks: Settings) -> Settings:
    """Fresh streams, bucket, alerts table and state folder for one end-to-end run."""
    return fresh_sinks.model_copy(
        update={
            "stream_name": fresh_streams.stream_name,
            "labels_stream_name": fresh_streams.labels_stream_name,
        }
    )


def environment(settings: Settings, model_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": settings.endpoint_url or "",
        "FRAUDSTREAM_STREAM_NAME": settings.stream_name,
        "FRAUDSTREAM_LABELS_STREAM_NAME": settings.labels_stream_name,
        "FRAUDSTREAM_BUCKET": settings.bucket,
        "FRAUDSTREAM_ALERTS_TABLE": settings.alerts_table,
        "FRAUDSTREAM_STATE_DIR": str(settings.state_dir),
        "FRAUDSTREAM_MODEL_DIR": str(model_dir),
        "FRAUDSTREAM_METRICS_PORT": "0",
        # Simulated time runs days per wall second at these rates; short enough that the
        # aggregate windows close within the run (a test that kills the processor mid-stream
        # passes a wider one).
        "FRAUDSTREAM_WATERMARK": "4 hours",
        **extra,
    }


def cli(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudstream", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


BAD_RECORDS = {
    "bad_json": b"{not json",
    "bad_amount": None,  # filled in from a real event below
    "unknown_schema_version": None,
    "future_event_time": None,
    "raw_card_number": None,
    "missing_field": None,
}


def inject_bad_and_duplicates(settings: Settings, duplicates: int) -> dict[str, str]:
    """Put one record per quarantine reason and re-deliver ``duplicates`` valid events."""
    kinesis = aws.client("kinesis", settings)
    stored = list(read_stream(kinesis, settings.stream_name))
    sample = json.loads(stored[0].data)
    variants = {
        "bad_json": b"{not json",
        "bad_amount": json.dumps({**sample, "transaction_id": "bad-1", "amount": -5}).encode(),
        "unknown_schema_version": json.dumps(
            {**sample, "transaction_id": "bad-2", "schema_version": 9}
        ).encode(),
        "future_event_time": json.dumps(
            {
                **sample,
                "transaction_id": "bad-3",
                "event_time": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
            }
        ).encode(),
        "raw_card_number": json.dumps(
            {**sample, "transaction_id": "bad-4", "card_id": "4111 1111 1111 1111"}
        ).encode(),
        "missing_field": json.dumps({k: v for k, v in sample.items() if k != "amount"}).encode(),
    }
    records = [{"Data": data, "PartitionKey": "bad"} for data in variants.values()]
    records += [{"Data": r.data, "PartitionKey": r.partition_key} for r in stored[:duplicates]]
    response = kinesis.put_records(StreamName=settings.stream_name, Records=records)
    assert response["FailedRecordCount"] == 0
    return {reason: data.decode(errors="replace") for reason, data in variants.items()}


def test_fraud_is_caught_and_every_transaction_lands_once(
    pipeline: Settings, generator_model_dir: Path
) -> None:
    env = environment(pipeline, generator_model_dir)
    produced = cli(
        env,
        "produce",
        "--clock",
        "simulated",
        "--rate",
        "2000",
        "--duration",
        "5",
        "--cards",
        "400",
        "--fraud-rate",
        "0.05",
        "--seed",
        "11",
    )
    assert produced.returncode == 0, produced.stderr
    bad = inject_bad_and_duplicates(pipeline, duplicates=100)

    result = cli(env, "process", "--available-now")
    assert result.returncode == 0, result.stderr[-3000:]

    truth = ground_truth(pipeline)
    assert len(truth) == 10_000
    transactions = lake_table(pipeline, "transactions")
    ids = Counter(transactions["transaction_id"].to_pylist())
    assert set(ids) == set(truth) and max(ids.values()) == 1  # exactly once, duplicates dropped

    decisions = dict(
        zip(
            transactions["transaction_id"].to_pylist(),
            transactions["decision"].to_pylist(),
            strict=True,
        )
    )
    flagged = {t for t, d in decisions.items() if d in ("review", "block")}
    assert alert_ids(pipeline) == Counter(flagged)  # every alert once, only alerts

    travel = [t for t, label in truth.items() if label.scenario == "impossible_travel"]
    spikes = [t for t, label in truth.items() if label.scenario == "amount_spike"]
    assert travel and spikes
    # Most injected fraud is flagged: blocked where the card has the history the block
    # threshold was validated on, reviewed elsewhere within the hourly budget (ADR 0012, whose
    # measured recall on such cold-start traffic is 0.85-0.90; here 89-100 % per scenario).
    caught = {
        name: sum(decisions[t] != "approve" for t in chosen) / len(chosen)
        for name, chosen in (("travel", travel), ("spikes", spikes))
    }
    assert caught["travel"] >= 0.85 and caught["spikes"] >= 0.8, caught
    assert sum(decisions[t] == "block" for t in travel + spikes) >= 0.5 * len(travel + spikes)

    quarantine = lake_table(pipeline, "quarantine")
    assert sorted(quarantine["reason"].to_pylist()) == sorted(bad)
    raw = dict(zip(quarantine["reason"].to_pylist(), quarantine["raw"].to_pylist(), strict=True))
    assert "4111 1111" not in raw["raw_card_number"]  # masked before it reached the lake
    assert lake_table(pipeline, "labels").num_rows == 10_000
    assert lake_table(pipeline, "aggregates").num_rows > 0

    # Model monitoring: windows of >= 5,000 transactions closed with the score's PSI, and the
    # labels that arrived joined their decisions (the recall the dashboard shows).
    monitoring = lake_table(pipeline, "model_monitoring").to_pandas()
    by = monitoring.set_index(["batch_id", "measure", "subject"])["value"]
    windows = sorted(monitoring["batch_id"].unique())
    assert windows and monitoring.groupby("batch_id")["window_rows"].first().sum() <= 10_000
    assert all(np.isfinite(by[(b, "psi", "score")]) for b in windows)
    last = windows[-1]
    assert by[(last, "labelled", "")] > 0 and by[(last, "frauds", "")] > 0
    assert 0.5 <= by[(last, "recall", "")] <= 1.0


def run_then_kill(env: dict[str, str], settings: Settings, at_least: int) -> None:
    """Start the processor, let ``at_least`` batches land in the lake, then kill -9 it (the
    Python driver, its JVM and its Python workers: the whole process group)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fraudstream", "process"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while committed_batches(settings) < at_least:
            assert process.poll() is None, "the processor exited before it was killed"
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_kill_minus_9_twice_then_exactly_once(
    pipeline: Settings, generator_model_dir: Path
) -> None:
    # A watermark covering 30 s of arrival skew of this accelerated traffic (two event-days per
    # wall second), as the demo and the fault suite use. The backlog is ten batches, read live
    # twice and drained with --available-now, on the smallest driver heap Spark starts with
    # (what a batch and the state need must not grow with the backlog; issue 21). Records
    # delivered again between the kills must be dropped by the state the sink restored.
    env = environment(
        pipeline,
        generator_model_dir,
        FRAUDSTREAM_MAX_RECORDS_PER_TRIGGER="1500",
        FRAUDSTREAM_WATERMARK=watermark_for(3000, 500, wall_seconds=30),
        FRAUDSTREAM_SPARK_DRIVER_MEMORY=SMALL_HEAP,
    )
    produced = cli(
        env,
        "produce",
        "--clock",
        "simulated",
        "--rate",
        "3000",
        "--duration",
        "5",
        "--cards",
        "500",
        "--fraud-rate",
        "0.05",
        "--seed",
        "12",
    )
    assert produced.returncode == 0, produced.stderr
    run_then_kill(env, pipeline, at_least=2)
    first = committed_batches(pipeline)
    inject_bad_and_duplicates(pipeline, duplicates=200)
    run_then_kill(env, pipeline, at_least=first + 2)
    result = cli(env, "process", "--available-now")
    assert result.returncode == 0, result.stderr[-3000:]

    truth = ground_truth(pipeline)
    transactions = lake_table(pipeline, "transactions")
    ids = Counter(transactions["transaction_id"].to_pylist())
    assert len(truth) == 15_000
    assert set(ids) == set(truth) and max(ids.values()) == 1
    flagged = {
        t
        for t, d in zip(
            transactions["transaction_id"].to_pylist(),
            transactions["decision"].to_pylist(),
            strict=True,
        )
        if d in ("review", "block")
    }
    assert alert_ids(pipeline) == Counter(flagged)
    labels = Counter(lake_table(pipeline, "labels")["transaction_id"].to_pylist())
    assert set(labels) == set(truth) and max(labels.values()) == 1
    # Spark keeps offsets only: the ids of one watermark are in the sink's state (ADR 0016)
    assert not list(Path(pipeline.state_dir).rglob("state/*")), "Spark kept state"
