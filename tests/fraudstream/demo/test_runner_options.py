"""The demo's options: when the drift it asks the producer for starts."""

from __future__ import annotations

from fraudstream.demo.runner import DemoOptions


def test_the_drift_starts_where_the_producer_starts_it() -> None:
    assert DemoOptions(duration=600).drift_start is None  # steady traffic: no drift at all
    assert DemoOptions(duration=600, drift_at=120).drift_start is None  # no spec, no drift
    assert DemoOptions(duration=600, drift="fraud_x5").drift_start == 300  # half, as produce
    assert DemoOptions(duration=600, drift="fraud_x5", drift_at=480).drift_start == 480
