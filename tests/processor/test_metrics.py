"""Batch summaries, the log line, and the Prometheus endpoint scraped over real HTTP."""

from __future__ import annotations

import logging
import urllib.request
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from fraudstream.metric_names import PROCESSOR_METRICS
from fraudstream.settings import load_settings
from processor.metrics import (
    ProcessorMetrics,
    format_line,
    observe_all,
    report,
    serve,
    serve_from_settings,
    summarize,
    timing_line,
)
from tests.conftest import free_port

COMMIT = datetime(2026, 11, 22, 10, 0, 1, tzinfo=UTC)


def decided(latencies_ms: list[int]) -> pd.DataFrame:
    outcomes = ["approve", "approve", "review", "block"]
    return pd.DataFrame(
        {
            "decision": [outcomes[i % 4] for i in range(len(latencies_ms))],
            "arrival_time": [COMMIT - timedelta(milliseconds=ms) for ms in latencies_ms],
            "scored_by": ["endpoint"] * (len(latencies_ms) - 1) + ["fallback"],
        }
    )


QUARANTINE = pd.DataFrame({"reason": ["bad_json", "bad_json", "bad_amount"]})


def test_summary_counts_outcomes_reasons_and_latency_percentiles() -> None:
    latencies = list(range(1, 101))  # 1..100 ms
    summary = summarize(
        7, decided(latencies), QUARANTINE, batch_seconds=0.8125, committed_at=COMMIT, late_events=2
    )
    assert summary.rows == 100
    assert summary.decisions == {"approve": 50, "review": 25, "block": 25}
    assert summary.quarantined == {"bad_json": 2, "bad_amount": 1}
    assert summary.scored_by == {"endpoint": 99, "fallback": 1}
    assert summary.latency_p50 == pytest.approx(np.percentile(latencies, 50) / 1000)
    assert summary.latency_p99 == pytest.approx(np.percentile(latencies, 99) / 1000)
    assert summary.latency_max == pytest.approx(0.1)
    assert format_line(summary) == (
        "batch=7 rows=100 approve=50 review=25 block=25 quarantined=3 "
        "quarantine_reasons=bad_amount:1,bad_json:2 late=2 duplicates=0 batch_ms=812 "
        "e2e_p50_ms=50 e2e_p99_ms=99 e2e_max_ms=100 scored_by=endpoint:99,fallback:1"
    )


def test_summary_from_arrow_with_naive_times_and_an_empty_batch() -> None:
    table = pa.table(
        {
            "decision": ["review"],
            "arrival_time": pa.array(
                [(COMMIT - timedelta(milliseconds=250)).replace(tzinfo=None)], pa.timestamp("ms")
            ),
        }
    )
    summary = summarize(1, table, None, batch_seconds=0.3, committed_at=COMMIT)
    assert summary.latency_p99 == pytest.approx(0.25)
    assert summary.scored_by == {}
    empty = summarize(2, None, None, batch_seconds=0.01, committed_at=COMMIT)
    assert (empty.rows, empty.latency_p50) == (0, None)
    assert "rows=0 approve=0 review=0 block=0 quarantined=0 quarantine_reasons=-" in format_line(
        empty
    )
    assert "e2e_p50_ms=-" in format_line(empty)
    with pytest.raises(ValueError, match="timezone-aware"):
        summarize(3, None, None, batch_seconds=0.0, committed_at=COMMIT.replace(tzinfo=None))


def test_reason_codes_are_counted_per_code_across_decisions() -> None:
    table = pa.table(
        {
            "decision": ["approve", "review", "review", "block"],
            "reasons": pa.array(
                [[], ["anomalous"], ["model_score", "anomalous"], ["model_score"]],
                pa.list_(pa.string()),
            ),
            "arrival_time": pa.array([COMMIT] * 4, pa.timestamp("us", tz="UTC")),
        }
    )
    summary = summarize(1, table, None, batch_seconds=0.1, committed_at=COMMIT)
    assert summary.reasons == {"anomalous": 2, "model_score": 2}
    metrics = ProcessorMetrics()
    metrics.record(summary)
    count = metrics.registry.get_sample_value
    assert count("fraudstream_decision_reasons_total", {"reason": "anomalous"}) == 2
    assert summarize(2, decided([1]), None, batch_seconds=0.1, committed_at=COMMIT).reasons == {}


@pytest.mark.integration
def test_metrics_are_served_with_their_catalogue_names(caplog: pytest.LogCaptureFixture) -> None:
    metrics = ProcessorMetrics()
    assert metrics.metric("fraudstream_last_batch_id")._value.get() == -1  # nothing committed
    summary = summarize(
        42,
        decided([100, 200, 300, 900]),
        QUARANTINE,
        batch_seconds=0.5,
        committed_at=COMMIT,
        late_events=2,
        duplicates=1,
        lake_files=3,
        lake_bytes=4096,
    )
    with caplog.at_level(logging.INFO, logger="processor.batches"):
        line = report(summary, metrics)
    assert caplog.records[-1].getMessage() == line
    metrics.record_source(records=10, millis_behind={"shardId-000000000000": 1500})
    server = serve(metrics)
    try:
        with urllib.request.urlopen(server.url, timeout=5) as response:
            text = response.read().decode()
    finally:
        server.stop()
    for spec in PROCESSOR_METRICS:
        assert f"# TYPE {spec.name.removesuffix('_total')}" in text, spec.name
    expected = [
        "fraudstream_rows_total 4.0",
        'fraudstream_decisions_total{decision="approve"} 2.0',
        'fraudstream_decisions_total{decision="block"} 1.0',
        'fraudstream_quarantined_total{reason="bad_json"} 2.0',
        "fraudstream_late_events_total 2.0",
        "fraudstream_duplicates_total 1.0",
        "fraudstream_lake_files_total 3.0",
        "fraudstream_lake_bytes_total 4096.0",
        'fraudstream_scored_total{path="fallback"} 1.0',
        "fraudstream_batch_seconds_count 1.0",
        'fraudstream_end_to_end_latency_seconds_bucket{le="0.25"} 2.0',
        'fraudstream_end_to_end_latency_seconds_bucket{le="1.0"} 4.0',
        "fraudstream_end_to_end_latency_seconds_count 4.0",
        "fraudstream_last_batch_id 42.0",
        "fraudstream_kinesis_records_total 10.0",
        'fraudstream_kinesis_millis_behind_latest{shard="shardId-000000000000"} 1500.0',
    ]
    for sample in expected:
        assert sample in text, sample


@pytest.mark.integration
def test_server_from_settings_can_be_switched_off() -> None:
    assert serve_from_settings(ProcessorMetrics(), load_settings(metrics_port=0)) is None
    server = serve_from_settings(
        ProcessorMetrics(),
        load_settings(metrics_port=0).model_copy(update={"metrics_port": free_port()}),
    )
    assert server is not None
    try:
        with urllib.request.urlopen(server.url, timeout=5) as response:
            assert response.status == 200
    finally:
        server.stop()


def test_timing_line_says_where_a_batch_went() -> None:
    progress = {
        "batchId": 7,
        "durationMs": {"triggerExecution": 900, "addBatch": 600, "walCommit": 40, "other": 1},
    }
    assert timing_line(progress) == "batch=7 triggerExecution=900 addBatch=600 walCommit=40"
    assert timing_line({}) == "batch=None"


def _exposition(registry: CollectorRegistry) -> list[str]:
    text = generate_latest(registry).decode()
    return [line for line in text.splitlines() if "_created" not in line]


def test_observe_all_counts_as_observing_each_value() -> None:
    bounds = (0.1, 0.5, 1.0, 2.5)
    values = np.array([0.0, 0.1, 0.1000001, 0.5, 0.7, 2.5, 3.0, -1.0, np.inf, 1.0, 0.3])
    one, many = CollectorRegistry(), CollectorRegistry()
    each = Histogram("latency_seconds", "h", registry=one, buckets=bounds)
    for value in values.tolist():
        each.observe(value)
    at_once = Histogram("latency_seconds", "h", registry=many, buckets=bounds)
    observe_all(at_once, values[:4])
    observe_all(at_once, values[4:])
    observe_all(at_once, np.empty(0))
    assert _exposition(many) == _exposition(one)
    assert 'latency_seconds_bucket{le="0.1"} 3.0' in _exposition(many)  # 0.1 <= 0.1: that bucket
