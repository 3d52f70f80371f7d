"""The pipeline benchmark's verdict: start-up latencies apart, steady state judged."""

import numpy as np

from benchmarks.pipeline import judge


def test_start_up_latencies_are_reported_apart_from_the_steady_state() -> None:
    # Producer from t=0 to t=60; a slow first batch (10 s latencies) at t=12, then 2 s.
    at = np.concatenate([np.full(100, 12.0), np.arange(22.0, 61.0, 1.0).repeat(100)])
    latencies = np.where(at < 20, 10.0, 2.0)
    judged = judge(
        at, at, latencies, expected=at.size, began=0.0, produced_at=60.0, warmup=20.0, grace=5.0
    )
    assert judged["startup_latency"]["p99_ms"] == 10_000
    assert judged["e2e_latency"]["p99_ms"] == 2_000
    assert judged["sustained"]


def test_a_growing_backlog_is_not_sustained() -> None:
    at = np.arange(21.0, 61.0, 1.0).repeat(10)
    latencies = (at - 20) ** 2 / 30  # 0 s early in the steady state, 53 s at the end
    judged = judge(
        at, at, latencies, expected=at.size, began=0.0, produced_at=60.0, warmup=20.0, grace=5.0
    )
    assert judged["startup_latency"]["p99_ms"] is None
    assert not judged["sustained"]
