"""A simulated running processor for the live view's tests: the real exporter
(:class:`processor.metrics.ProcessorMetrics` served over HTTP) fed realistic committed batches,
and real alerts written by the processor's :class:`~processor.sinks.alerts.AlertWriter` into a
fresh alerts table of the emulator.

The fixtures are registered by importing them (``tests/fraudstream/live/conftest.py``, the
CLI's end-to-end tests)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from fraudstream.settings import Settings
from fraudstream.stack.resources import ensure_resources
from processor.metrics import MetricsServer, ProcessorMetrics, serve, summarize
from processor.sinks.alerts import AlertWriter
from tests.processor.sinks.rows import transactions

COMMIT = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
HOSTILE_REASON = '<img src=x onerror="document.title=1">[bold]not markup[/bold]'


def decided_batch(rows: int, *, latency_ms: float = 200.0, fallback_every: int = 0) -> pd.DataFrame:
    """``rows`` decided transactions (1 % block, 2 % review) whose end-to-end latencies spread
    around ``latency_ms``."""
    frame = transactions(rows)
    frame["decision"] = [
        "block" if i % 100 == 7 else "review" if i % 100 in (3, 61) else "approve"
        for i in range(rows)
    ]
    frame["arrival_time"] = [
        COMMIT - timedelta(milliseconds=latency_ms * (0.5 + i / max(1, rows))) for i in range(rows)
    ]
    if fallback_every:
        frame.loc[frame.index % fallback_every == 0, "scored_by"] = "fallback"
    return frame


def record_batch(
    metrics: ProcessorMetrics,
    batch_id: int,
    rows: int,
    *,
    latency_ms: float = 200.0,
    fallback_every: int = 0,
    quarantined: int = 0,
    late: int = 0,
) -> None:
    """Count one committed micro-batch in ``metrics``, as the processor does."""
    quarantine = pd.DataFrame({"reason": ["bad_json"] * quarantined})
    summary = summarize(
        batch_id,
        decided_batch(rows, latency_ms=latency_ms, fallback_every=fallback_every),
        quarantine,
        batch_seconds=0.4,
        committed_at=COMMIT,
        late_events=late,
    )
    metrics.record(summary)
    metrics.record_source(records=rows + quarantined, millis_behind={"shardId-0": 120.0})


@dataclass
class RunningProcessor:
    metrics: ProcessorMetrics
    server: MetricsServer

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(name="processor")
def processor_fixture() -> Iterator[RunningProcessor]:
    """The processor's real metrics endpoint on a free loopback port."""
    metrics = ProcessorMetrics()
    server = serve(metrics)
    yield RunningProcessor(metrics, server)
    server.stop()


@pytest.fixture(name="alerts_settings")
def alerts_settings_fixture(local_stack: Settings) -> Settings:
    """Settings whose alerts table is new (with the latest-alerts index) and empty."""
    settings = local_stack.model_copy(update={"alerts_table": f"alerts-{uuid.uuid4().hex[:8]}"})
    ensure_resources(settings)
    return settings


def write_alerts(settings: Settings, rows: pd.DataFrame) -> None:
    """Write the review/block rows of ``rows`` with the processor's alerts sink."""
    with AlertWriter(settings) as writer:
        writer.write(rows)


def alert_rows(count: int, *, start: datetime = COMMIT) -> pd.DataFrame:
    """``count`` decided rows one minute apart, the last one with a hostile reason string."""
    frame = transactions(count, start=start, step=timedelta(minutes=1))
    last = frame.index[frame["decision"] != "approve"][-1]
    frame.at[last, "reasons"] = ["velocity_burst", HOSTILE_REASON]
    return frame
