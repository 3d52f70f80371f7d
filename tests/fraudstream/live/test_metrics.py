"""The live figures from the processor's real exporter output (no HTTP: the text it serves)."""

from __future__ import annotations

import math

import pytest
from prometheus_client import generate_latest

from fraudstream.live.metrics import (
    LATENCY,
    Histogram,
    LiveMetrics,
    Scrape,
    ScrapeError,
    parse,
)
from processor.metrics import LATENCY_BUCKETS, ProcessorMetrics
from tests.fraudstream.live.simulated import decided_batch, record_batch

WALL = 1_795_300_000.0


def outcomes(rows: int) -> dict[str, int]:
    """Decisions of a recorded batch of ``rows``."""
    counts = decided_batch(rows)["decision"].value_counts()
    return {o: int(counts.get(o, 0)) for o in ("approve", "review", "block")}


def text(metrics: ProcessorMetrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_parse_reads_counters_by_label_histograms_gauges_and_start_time() -> None:
    metrics = ProcessorMetrics()
    record_batch(metrics, 3, 100, fallback_every=4, quarantined=2, late=5)
    scrape = parse(text(metrics))
    assert scrape.counters["fraudstream_rows_total"] == {"": 100.0}
    assert scrape.counters["fraudstream_decisions_total"] == {
        "approve": 97.0,
        "review": 2.0,
        "block": 1.0,
    }
    assert scrape.counters["fraudstream_quarantined_total"] == {"bad_json": 2.0}
    assert scrape.counters["fraudstream_scored_total"] == {"endpoint": 75.0, "fallback": 25.0}
    assert scrape.counters["fraudstream_late_events_total"] == {"": 5.0}
    latency = scrape.histograms[LATENCY]
    assert latency.bounds == (*LATENCY_BUCKETS, math.inf)
    assert latency.count == latency.cumulative[-1] == 100
    assert scrape.gauges["fraudstream_last_batch_id"] == {"": 3.0}
    assert scrape.gauges["fraudstream_kinesis_millis_behind_latest"] == {"shardId-0": 120.0}
    assert scrape.created is not None


@pytest.mark.parametrize(
    "body", ["<html>not metrics</html>", "rows 1 2 3", "# TYPE x counter\nx_total abc", ""]
)
def test_parse_refuses_what_is_not_the_processors_exposition(body: str) -> None:
    with pytest.raises(ScrapeError):
        parse(body)


def test_quantiles_interpolate_inside_the_bucket_like_histogram_quantile() -> None:
    # 10 observations in (0, 0.1], 80 in (0.1, 0.5], 10 in (0.5, 1.0]
    histogram = Histogram((0.1, 0.5, 1.0, math.inf), (10, 90, 100, 100), 100, 30.0)
    assert histogram.quantile(0.5) == pytest.approx(0.1 + 0.4 * (50 - 10) / 80)
    assert histogram.quantile(0.99) == pytest.approx(0.5 + 0.5 * (99 - 90) / 10)
    assert histogram.quantile(0.05) == pytest.approx(0.05)
    assert Histogram().quantile(0.5) is None
    beyond = Histogram((0.1, math.inf), (0, 4), 4, 100.0)
    assert beyond.quantile(0.5) == 0.1  # the +Inf bucket reports the largest finite bound
    with pytest.raises(ValueError, match="quantile"):
        histogram.quantile(1.5)


def test_throughput_per_interval_and_over_the_moving_window() -> None:
    metrics = ProcessorMetrics()
    live = LiveMetrics(window=10.0)
    live.observe(parse(text(metrics)), at=100.0, wall=WALL)
    assert live.summary().rows_per_second is None  # one scrape: no interval yet
    record_batch(metrics, 1, 400)
    live.observe(parse(text(metrics)), at=102.0, wall=WALL + 2)
    record_batch(metrics, 2, 100)
    live.observe(parse(text(metrics)), at=103.0, wall=WALL + 3)
    summary = live.summary()
    assert summary.rows_per_second == pytest.approx(100.0)  # last interval: 100 rows in 1 s
    assert summary.rows_per_second_window == pytest.approx(500 / 3)
    assert summary.rows_total == 500
    assert summary.decisions_total["block"] == outcomes(400)["block"] + outcomes(100)["block"] == 5
    assert summary.last_batch_id == 2
    assert summary.millis_behind_latest == 120.0
    assert summary.updated_at == WALL + 3


def test_latency_percentiles_cover_the_window_not_the_whole_run() -> None:
    metrics = ProcessorMetrics()
    live = LiveMetrics(window=10.0)
    live.observe(parse(text(metrics)), at=0.0, wall=WALL)
    record_batch(metrics, 1, 1000, latency_ms=20_000)  # a slow start: ~10-30 s
    live.observe(parse(text(metrics)), at=1.0, wall=WALL + 1)
    assert live.summary().latency_p50 is not None and live.summary().latency_p50 > 5
    for step in range(2, 15):  # then fast batches, ~50-150 ms
        record_batch(metrics, step, 1000, latency_ms=100)
        live.observe(parse(text(metrics)), at=float(step), wall=WALL + step)
    summary = live.summary()
    assert summary.latency_p99 is not None and summary.latency_p99 <= 0.25
    assert summary.latency_p50 is not None and 0.05 <= summary.latency_p50 <= 0.25
    assert summary.latency_observations == 10_000  # ten 1-second intervals in the window
    history = live.history()
    assert history[0].latency_p50 is not None and history[0].latency_p50 > 5
    assert history[-1].latency_p99 == summary.latency_p99


def test_recent_and_total_decisions_quarantine_late_and_fallback_share() -> None:
    metrics = ProcessorMetrics()
    live = LiveMetrics(window=5.0)
    record_batch(metrics, 1, 100, quarantined=3, late=1)  # before the first scrape
    live.observe(parse(text(metrics)), at=0.0, wall=WALL)
    record_batch(metrics, 2, 100, fallback_every=2, quarantined=2, late=4)
    live.observe(parse(text(metrics)), at=1.0, wall=WALL + 1)
    summary = live.summary()
    assert summary.decisions_total == {k: 2 * v for k, v in outcomes(100).items()}
    assert summary.decisions_recent == outcomes(100)
    assert (summary.quarantined_total, summary.quarantined_recent) == (5, 2)
    assert summary.quarantined_by_reason == {"bad_json": 5}
    assert (summary.late_events_total, summary.late_events_recent) == (5, 4)
    assert summary.fallback_share == pytest.approx(0.5)
    assert summary.fallback_share_total == pytest.approx(0.25)
    assert summary.scored_total == {"endpoint": 150, "fallback": 50}


def test_a_processor_restart_never_makes_a_negative_rate_and_totals_carry_on() -> None:
    before = ProcessorMetrics()
    live = LiveMetrics(window=10.0)
    record_batch(before, 1, 1000)
    live.observe(parse(text(before)), at=0.0, wall=WALL)
    record_batch(before, 2, 1000)
    live.observe(parse(text(before)), at=1.0, wall=WALL + 1)

    after = ProcessorMetrics()  # the restarted process: counters from zero
    record_batch(after, 3, 300)
    live.observe(parse(text(after)), at=2.0, wall=WALL + 2)
    summary = live.summary()
    assert summary.rows_per_second == pytest.approx(300.0)
    assert summary.rows_total == 2300
    assert summary.restarts == 1
    assert summary.decisions_recent["block"] == outcomes(1000)["block"] + outcomes(300)["block"]
    assert all(p.rows_per_second is not None and p.rows_per_second >= 0 for p in live.history())


def test_a_restart_is_seen_by_its_start_time_even_when_counters_went_up() -> None:
    live = LiveMetrics()
    live.observe(Scrape({"fraudstream_rows_total": {"": 100.0}}, created=1000.0), 0.0, WALL)
    restarted = Scrape({"fraudstream_rows_total": {"": 150.0}}, created=2000.0)
    live.observe(restarted, 1.0, WALL + 1)
    assert live.summary().rows_per_second == pytest.approx(150.0)  # not 50
    assert live.summary().restarts == 1


def test_a_changed_bucket_layout_counts_as_a_new_histogram() -> None:
    old = Histogram((0.1, math.inf), (5, 10), 10, 1.0)
    new = Histogram((0.5, math.inf), (12, 12), 12, 2.0)
    assert new.increase_since(old, reset=False) == new
    assert old.plus(new) == new
    fewer = Histogram((0.1, math.inf), (1, 2), 2, 0.1)
    assert fewer.increase_since(old, reset=False) == fewer  # counts went down: a reset


def test_history_is_bounded_and_scrapes_must_be_in_order() -> None:
    metrics = ProcessorMetrics()
    live = LiveMetrics(window=2.0, history_seconds=5.0)
    for second in range(20):
        record_batch(metrics, second, 10)
        live.observe(parse(text(metrics)), at=float(second), wall=WALL + second)
    times = [p.time - WALL for p in live.history()]
    assert times == [14.0, 15.0, 16.0, 17.0, 18.0, 19.0]
    assert live.summary().rows_per_second_window == pytest.approx(10.0)
    record_batch(metrics, 20, 10)
    live.observe(parse(text(metrics)), at=19.0, wall=WALL + 19)  # same instant: ignored
    assert live.summary().rows_total == 200
    with pytest.raises(ValueError, match="time order"):
        live.observe(parse(text(metrics)), at=18.0, wall=WALL + 18)
    with pytest.raises(ValueError, match="positive"):
        LiveMetrics(window=0)


def test_an_empty_view_before_the_first_scrape() -> None:
    summary = LiveMetrics(window=7).summary()
    assert summary.updated_at is None
    assert summary.window_seconds == 7
    assert summary.latency_p50 is None
    assert summary.to_json()["decisions_total"] == {}


def test_backlog_and_time_to_catch_up_come_from_the_processors_gauges() -> None:
    metrics = ProcessorMetrics()
    live = LiveMetrics(window=10.0)
    metrics.metric("fraudstream_backlog_records").set(1_234_567)
    metrics.metric("fraudstream_catch_up_eta_seconds").set(321.5)
    live.observe(parse(text(metrics)), at=0.0, wall=WALL)
    summary = live.summary()
    assert (summary.backlog_records, summary.catch_up_seconds) == (1_234_567, 321.5)
    # -1 is the processor's "unknown / not gaining": shown as no estimate, not as a number
    metrics.metric("fraudstream_backlog_records").set(-1)
    metrics.metric("fraudstream_catch_up_eta_seconds").set(-1)
    live.observe(parse(text(metrics)), at=1.0, wall=WALL + 1)
    summary = live.summary()
    assert (summary.backlog_records, summary.catch_up_seconds) == (None, None)


def test_the_model_health_comes_from_the_monitoring_gauges() -> None:
    import numpy as np

    from ml_model.monitoring import Baseline, Bins
    from processor.model_monitor import ModelMonitor, WindowReport, export, export_start

    metrics = ProcessorMetrics()
    record_batch(metrics, 1, 100)
    assert LiveMetrics().summary().model is None
    live = LiveMetrics()
    live.observe(parse(text(metrics)), 1.0, WALL)
    assert live.summary().model is None  # no window closed yet
    bins = Bins(np.array([0.5]), np.array([0.5, 0.5, 0.0]))
    baseline = Baseline(bins, {"amount": bins}, 100, alert_rate=0.02, recall=0.9, precision=0.6)
    export_start(metrics, ModelMonitor(baseline, ["amount"], review_budget=0.015))
    report = WindowReport(
        batch_id=2,
        rows=5_000,
        psi={"score": 0.4, "amount": 0.05},
        alert_rate={"review": 0.03, "block": 0.004},
        review_budget=0.015,
        labelled=3_000,
        frauds=30,
        precision=0.5,
        recall=0.6,
        average_precision=0.55,
        unmatched_labels=0,
        baseline=baseline,
    )
    export(metrics, report)
    live.observe(parse(text(metrics)), 2.0, WALL + 1)
    model = live.summary().model
    assert model is not None
    assert model["score_psi"] == 0.4 and model["feature_psi"] == {"amount": 0.05}
    assert (model["review_rate"], model["review_budget"]) == (0.03, 0.015)
    assert model["recall"] == 0.6 and model["validation"]["recall"] == 0.9
    assert model["warnings"] == [
        "score drifted from training (PSI 0.40)",
        "reviews at 3.0%, over 1.5 x the 1.5% budget",
        "recall 60% against 90% on validation",
    ]


def test_a_cold_state_holds_the_drift_warnings_and_says_how_far_it_has_warmed() -> None:
    import numpy as np

    from ml_model.monitoring import Baseline, Bins
    from processor.model_monitor import ModelMonitor, WindowReport, export, export_start

    metrics = ProcessorMetrics()
    record_batch(metrics, 1, 100)
    bins = Bins(np.array([0.5]), np.array([0.5, 0.5, 0.0]))
    baseline = Baseline(bins, {"amount": bins}, 100, recall=0.9, history_days=11.2)
    export_start(metrics, ModelMonitor(baseline, ["amount"]))

    def health(state_days: float) -> dict[str, object]:
        report = WindowReport(
            batch_id=2,
            rows=5_000,
            psi={"score": 0.4, "amount": 0.5},
            alert_rate={"review": 0.01, "block": 0.004},
            review_budget=None,
            labelled=0,
            frauds=0,
            precision=None,
            recall=None,
            average_precision=None,
            unmatched_labels=0,
            baseline=baseline,
            state_days=state_days,
        )
        export(metrics, report)
        live = LiveMetrics()
        live.observe(parse(text(metrics)), 1.0, WALL)
        model = live.summary().model
        assert model is not None
        return model

    cold = health(3.04)
    assert cold["warm"] is False and cold["history_days"] == 11.2
    assert "recall" in cold["validation"] and "history_days" not in cold["validation"]
    assert cold["warnings"] == [
        "warming up: card state covers 3.0 of the 11.2 days of history the baseline had;"
        " drift alerts held"
    ]
    warm = health(12.0)
    assert warm["warm"] is True
    assert warm["warnings"] == [
        "score drifted from training (PSI 0.40)",
        "amount drifted from training (PSI 0.50)",
    ]
