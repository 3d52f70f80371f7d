"""The stream's model monitor: windows of traffic, PSI, alert rate, label-delayed quality."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest

from ml_model.monitoring import Baseline, build_baseline
from processor.model_monitor import ModelMonitor

NAMES = ["amount", "card_count_1d", "hour_of_day"]
RNG = np.random.default_rng(5)


def traffic(n: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    matrix = np.column_stack(
        [RNG.lognormal(3 + shift, 1, n), RNG.poisson(2, n), RNG.integers(0, 24, n)]
    ).astype(np.float32)
    scores = RNG.beta(1 + shift * 4, 40, n)
    return matrix, scores


def baseline() -> Baseline:
    matrix, scores = traffic(40_000)
    return build_baseline(scores, matrix, NAMES, ["amount", "card_count_1d"], alert_rate=0.02)


BASE = baseline()


def ids(start: int, n: int) -> pa.Array:
    return pa.array([f"t{i}" for i in range(start, start + n)])


def labels(start: int, fraud: np.ndarray) -> pa.Table:
    return pa.table({"transaction_id": ids(start, len(fraud)), "is_fraud": pa.array(fraud)})


NO_LABELS = pa.table(
    {"transaction_id": pa.array([], pa.string()), "is_fraud": pa.array([], pa.bool_())}
)


def feed(monitor: ModelMonitor, batch: int, start: int, n: int, shift: float = 0.0):  # type: ignore[no-untyped-def]
    matrix, scores = traffic(n, shift)
    none = np.zeros(n, bool)
    return monitor.observe(batch, ids(start, n), matrix, scores, scores > 0.05, none, NO_LABELS)


def test_a_window_closes_after_its_rows_and_reports_psi_per_column() -> None:
    monitor = ModelMonitor(BASE, NAMES, review_budget=0.015, window_rows=3_000)
    assert feed(monitor, 0, 0, 2_000) is None
    report = feed(monitor, 1, 2_000, 2_000)
    assert report is not None and report.rows == 4_000 and report.batch_id == 1
    assert set(report.psi) == {"score", "amount", "card_count_1d"}
    assert max(report.psi.values()) < 0.05
    assert report.review_budget == 0.015
    assert report.alert_rate["block"] == 0.0
    assert 0 < report.alert_rate["review"] < 0.2
    drifted = feed(monitor, 2, 4_000, 3_000, shift=0.6)  # the counts started again
    assert drifted is not None and drifted.rows == 3_000
    assert drifted.psi["score"] > 0.25 and drifted.psi["amount"] > 0.25
    assert drifted.psi["card_count_1d"] < 0.05


def test_labels_join_their_decisions_as_they_arrive() -> None:
    monitor = ModelMonitor(BASE, NAMES, window_rows=1)
    n = 1_000
    matrix, _ = traffic(n)
    fraud = np.zeros(n, bool)
    fraud[:100] = True
    scores = np.where(fraud, 0.9, 0.01)
    scores[100:120] = 0.9  # 20 false alerts
    flagged = scores > 0.5
    flagged[:10] = False  # 10 frauds missed by the decision (but ranked first by the score)
    monitor.observe(0, ids(0, n), matrix, scores, flagged, np.zeros(n, bool), NO_LABELS)
    later = labels(0, fraud)
    one = np.zeros(1, bool)
    report = monitor.observe(1, ids(n, 1), matrix[:1], scores[:1], one, one, later)
    assert report is not None
    assert (report.labelled, report.frauds) == (n, 100)
    assert report.precision == pytest.approx(90 / 110)
    assert report.recall == pytest.approx(0.9)
    assert report.average_precision == pytest.approx(100 / 120)  # one threshold: all tied at 0.9
    assert report.unmatched_labels == 0


def test_labels_beyond_the_buffer_are_counted_unmatched_not_guessed() -> None:
    monitor = ModelMonitor(BASE, NAMES, window_rows=1, pending_rows=500)
    for batch in range(4):
        feed(monitor, batch, batch * 500, 500)
    fraud = np.zeros(2_000, bool)
    report = monitor.observe(
        9, ids(0, 0), np.zeros((0, 3)), np.zeros(0), *[np.zeros(0, bool)] * 2, labels(0, fraud)
    )
    assert report is None  # no traffic in this batch: the window has not closed
    report = feed(monitor, 10, 5_000, 10)
    assert report is not None
    assert report.unmatched_labels == 1_500 and report.labelled == 500
    assert report.precision is None or report.precision == 0.0
    assert report.recall is None and report.average_precision is None


def test_the_label_window_keeps_the_latest_decisions() -> None:
    monitor = ModelMonitor(BASE, NAMES, window_rows=1, label_window_rows=300)
    feed(monitor, 0, 0, 1_000)
    monitor.observe(
        1,
        ids(0, 0),
        np.zeros((0, 3)),
        np.zeros(0),
        *[np.zeros(0, bool)] * 2,
        labels(0, np.ones(1_000, bool)),
    )
    report = feed(monitor, 2, 1_000, 1)
    assert report is not None and report.labelled == 300 and report.frauds == 300


def test_the_report_becomes_lake_rows() -> None:
    monitor = ModelMonitor(BASE, NAMES, review_budget=0.015, window_rows=10)
    report = feed(monitor, 3, 0, 100)
    assert report is not None
    at = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
    rows = report.lake_rows("v1", at).to_pylist()
    psi = {r["subject"]: r["value"] for r in rows if r["measure"] == "psi"}
    assert psi == report.psi
    budget = [r for r in rows if r["measure"] == "review_budget"]
    assert budget[0]["value"] == 0.015 and budget[0]["window_rows"] == 100
    assert {r["model_version"] for r in rows} == {"v1"}
    assert [r["value"] for r in rows if r["measure"] == "recall"] == [None]
    assert [r["value"] for r in rows if r["measure"] == "baseline_alert_rate"] == [0.02]


def test_a_baseline_the_model_cannot_compute_is_refused() -> None:
    with pytest.raises(ValueError, match="does not have"):
        ModelMonitor(BASE, ["amount"])
    with pytest.raises(ValueError, match="positive"):
        ModelMonitor(BASE, NAMES, window_rows=0)


def test_a_batch_run_again_is_not_counted_twice() -> None:
    monitor = ModelMonitor(BASE, NAMES, window_rows=1_500)
    assert feed(monitor, 4, 0, 1_000) is None
    assert feed(monitor, 4, 0, 1_000) is None  # the same batch again: ignored
    report = feed(monitor, 5, 1_000, 500)
    assert report is not None and report.rows == 1_500


def test_the_exporter_sets_the_catalogued_metrics() -> None:
    from processor.metrics import ProcessorMetrics
    from processor.model_monitor import export, export_start

    metrics = ProcessorMetrics()
    monitor = ModelMonitor(BASE, NAMES, review_budget=0.015, window_rows=10)
    export_start(metrics, monitor)
    value = metrics.registry.get_sample_value
    assert value("fraudstream_model_recall") == -1  # unknown, not zero
    assert value("fraudstream_model_review_budget") == 0.015
    assert value("fraudstream_model_baseline", {"measure": "alert_rate"}) == 0.02
    assert value("fraudstream_model_baseline", {"measure": "recall"}) == -1
    feed(monitor, 0, 0, 100)
    monitor.observe(
        1,
        ids(200, 0),
        np.zeros((0, 3)),
        np.zeros(0),
        *[np.zeros(0, bool)] * 2,
        labels(0, np.ones(100, bool)),
    )
    report = feed(monitor, 2, 100, 20)
    assert report is not None
    export(metrics, report)
    assert value("fraudstream_model_psi", {"column": "score"}) == report.psi["score"]
    assert (
        value("fraudstream_model_alert_rate", {"decision": "review"}) == report.alert_rate["review"]
    )
    assert value("fraudstream_model_recall") == report.recall
    assert value("fraudstream_model_labelled_decisions") == 100


def test_a_state_younger_than_the_baseline_history_is_not_warm() -> None:
    from dataclasses import replace

    from processor.metrics import ProcessorMetrics
    from processor.model_monitor import export

    monitor = ModelMonitor(replace(BASE, history_days=10.0), NAMES, window_rows=10)
    matrix, scores = traffic(20)
    none = np.zeros(20, bool)
    cold = monitor.observe(0, ids(0, 20), matrix, scores, none, none, NO_LABELS, state_days=2.5)
    assert cold is not None and cold.state_days == 2.5 and not cold.warm
    unknown = monitor.observe(1, ids(20, 20), matrix, scores, none, none, NO_LABELS)
    assert unknown is not None and not unknown.warm  # a depth not known is not warm
    warm = monitor.observe(2, ids(40, 20), matrix, scores, none, none, NO_LABELS, state_days=10.0)
    assert warm is not None and warm.warm
    rows = {r["measure"]: r["value"] for r in cold.lake_rows("v1", datetime.now(UTC)).to_pylist()}
    assert rows["state_days"] == 2.5 and rows["warm"] == 0.0
    assert rows["baseline_history_days"] == 10.0
    metrics = ProcessorMetrics()
    export(metrics, cold)
    assert metrics.registry.get_sample_value("fraudstream_model_warm") == 0
    assert metrics.registry.get_sample_value("fraudstream_model_state_days") == 2.5
    export(metrics, warm)
    assert metrics.registry.get_sample_value("fraudstream_model_warm") == 1


def test_a_baseline_without_its_history_never_holds_the_alarms() -> None:
    monitor = ModelMonitor(BASE, NAMES, window_rows=10)  # a manifest from before the count
    report = feed(monitor, 0, 0, 20)
    assert report is not None and report.state_days is None and report.warm


def test_a_night_window_is_held_against_the_baselines_night() -> None:
    rng = np.random.default_rng(8)

    def rows(hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        night = hours < 6
        scores = np.where(night, rng.beta(4, 20, len(hours)), rng.beta(1, 40, len(hours)))
        matrix = np.column_stack([rng.lognormal(3, 1, len(hours)), night, hours])
        return matrix.astype(np.float32), scores

    hours = rng.integers(0, 24, 40_000)
    matrix, scores = rows(hours)
    base = build_baseline(scores, matrix, NAMES, ["amount"], event_ms=hours * 3_600_000)
    monitor = ModelMonitor(base, NAMES, window_rows=5_000)
    night = rng.integers(0, 6, 5_000)
    window, window_scores = rows(night)
    none = np.zeros(5_000, bool)
    report = monitor.observe(0, ids(0, 5_000), window, window_scores, none, none, NO_LABELS)
    assert report is not None and report.psi["score"] < 0.05
    whole_days = ModelMonitor(build_baseline(scores, matrix, NAMES, ["amount"]), NAMES)
    plain = whole_days.observe(0, ids(0, 5_000), window, window_scores, none, none, NO_LABELS)
    assert plain is not None and plain.psi["score"] > 0.5  # what a baseline of whole days says


def test_a_state_as_deep_as_the_features_lookback_is_warm_whatever_the_baseline() -> None:
    """Past 30 days more history changes no feature: a longer baseline history never holds."""
    from dataclasses import replace

    monitor = ModelMonitor(replace(BASE, history_days=41.2), NAMES, window_rows=10)
    matrix, scores = traffic(20)
    none = np.zeros(20, bool)
    young = monitor.observe(0, ids(0, 20), matrix, scores, none, none, NO_LABELS, state_days=29.9)
    deep = monitor.observe(1, ids(20, 20), matrix, scores, none, none, NO_LABELS, state_days=30.0)
    assert young is not None and not young.warm
    assert deep is not None and deep.warm
