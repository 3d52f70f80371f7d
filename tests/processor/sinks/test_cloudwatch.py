"""Model-monitoring figures to CloudWatch: what is sent (pure) and that the emulator takes it."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from fraudstream import aws
from fraudstream.settings import Settings
from ml_model.monitoring import Baseline, Bins
from processor.model_monitor import WindowReport
from processor.sinks.cloudwatch import ModelMetricsPublisher, metric_data

AT = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
BINS = Bins(np.array([0.5]), np.array([0.5, 0.5, 0.0]))


def report(
    recall: float | None = 0.6, budget: float | None = 0.015, state_days: float | None = None
) -> WindowReport:
    return WindowReport(
        batch_id=7,
        rows=5_000,
        psi={"score": 0.31, "amount": 0.02, "card_count_1d": 0.12},
        alert_rate={"review": 0.03, "block": 0.004},
        review_budget=budget,
        labelled=4_000,
        frauds=40,
        precision=0.5,
        recall=recall,
        average_precision=float("nan") if recall is None else 0.55,
        unmatched_labels=0,
        baseline=Baseline(
            BINS, {}, 100, alert_rate=0.02, recall=0.8, precision=0.6, history_days=7.0
        ),
        state_days=state_days,
    )


def test_the_alarms_ratios_are_computed_and_unknowns_left_out() -> None:
    sent = {d["MetricName"]: d["Value"] for d in metric_data(report(state_days=7.5), AT)}
    assert sent["ScorePSI"] == 0.31 and sent["MaxFeaturePSI"] == 0.12
    assert sent["ReviewRateToBudget"] == pytest.approx(2.0)
    assert sent["RecallToValidation"] == pytest.approx(0.75)
    unknown = {d["MetricName"] for d in metric_data(report(recall=None, budget=None), AT)}
    assert not unknown & {"Recall", "RecallToValidation", "ReviewRateToBudget", "AveragePrecision"}
    assert "ScorePSI" not in unknown  # the state's depth is not known: not warm


def test_psi_is_left_out_while_the_state_warms_up() -> None:
    """The drift alarms read missing data as not breaching: a cold start does not page."""
    sent = {d["MetricName"] for d in metric_data(report(state_days=2.0), AT)}
    assert not sent & {"ScorePSI", "MaxFeaturePSI"}
    assert {"ReviewRate", "Recall", "RecallToValidation"} <= sent


def test_no_namespace_means_no_publisher(local_stack: Settings) -> None:
    assert ModelMetricsPublisher.from_settings(local_stack) is None
    with pytest.raises(ValueError, match="empty"):
        ModelMetricsPublisher(local_stack)


def test_the_emulator_receives_the_window(local_stack: Settings) -> None:
    settings = local_stack.model_copy(update={"model_metrics_namespace": "Fraudstream/Test"})
    publisher = ModelMetricsPublisher.from_settings(settings)
    assert publisher is not None
    assert publisher.publish(report(state_days=8.0), datetime.now(UTC))
    listed = aws.client("cloudwatch", settings).list_metrics(Namespace="Fraudstream/Test")
    assert {"ScorePSI", "RecallToValidation"} <= {m["MetricName"] for m in listed["Metrics"]}


def test_a_refused_call_is_counted_not_raised(local_stack: Settings) -> None:
    settings = local_stack.model_copy(
        update={"model_metrics_namespace": "AWS/Reserved", "endpoint_url": "http://127.0.0.1:9"}
    )
    publisher = ModelMetricsPublisher(
        settings, client=aws.client("cloudwatch", settings, max_attempts=1, connect_timeout=0.5)
    )
    assert publisher.publish(report(), AT) is False
    assert publisher.failures == 1
