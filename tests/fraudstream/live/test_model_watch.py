"""Following the model's health over a run: what the demo prints and reports about a drift."""

from __future__ import annotations

from typing import Any

from fraudstream.live.model_health import BASELINE, PSI, RECALL, STATE_DAYS, WARM, model_health
from fraudstream.live.model_watch import ModelWatch, firing_time, first_at_or_after


def health(psi: float, *, warm: bool = True, recall: float | None = None) -> dict[str, Any]:
    """What the collector hands over: the processor's gauges read by ``model_health``."""
    gauges: dict[str, dict[str, float]] = {
        PSI: {"score": psi, "amount": psi / 2},
        WARM: {"": 1.0 if warm else 0.0},
        STATE_DAYS: {"": 31.0 if warm else 12.0},
        BASELINE: {"recall": 0.9, "history_days": 41.2},
    }
    if recall is not None:
        gauges[RECALL] = {"": recall}
    found = model_health(gauges)
    assert found is not None
    return found.to_json()


def test_a_rule_fires_only_after_its_condition_held_for_the_whole_for() -> None:
    series = [(0.0, 0.3), (5.0, 0.1), (10.0, 0.3), (40.0, 0.1), (45.0, 0.3), (75.0, 0.4)]
    series += [(105.0, 0.5), (110.0, 0.2)]
    # before the start nothing counts; 10..40 is broken by the dip at 40; 45..105 holds 60 s
    assert firing_time(series, start=5.0, threshold=0.25, hold_s=60.0) == 105.0
    assert firing_time(series, start=5.0, threshold=0.25, hold_s=61.0) is None
    assert first_at_or_after(series, 5.0, lambda v: v > 0.25) == 10.0
    assert first_at_or_after(series, 111.0, lambda v: v > 0.25) is None


def test_a_drift_is_told_once_when_it_starts_and_once_when_it_ends() -> None:
    watch = ModelWatch()
    assert watch.observe(0.0, None) == []  # no window closed yet
    # cold: a high PSI is the cold start, not a drift, and is held as the rule holds it
    assert watch.observe(10.0, health(1.8, warm=False)) == []
    armed = watch.observe(20.0, health(0.02, recall=0.88))
    assert armed == [
        "monitoring warm (31.0 days of card history): drift alarms armed, score PSI 0.020"
    ]
    assert watch.observe(21.0, health(0.03, recall=0.87)) == []
    drifted = watch.observe(30.0, health(0.41, recall=0.6))
    assert drifted == [
        "score drifted from training (PSI 0.410 > 0.25)",
        "recall 60% on the labels so far, against 90% on validation",
    ]
    assert watch.observe(31.0, health(0.5, recall=0.55)) == []  # still drifting: nothing new
    assert watch.observe(40.0, health(0.1, recall=0.85)) == [
        "score back within the baseline (PSI 0.100)",
        "recall 85% on the labels so far, against 90% on validation (recovered)",
    ]


def test_the_report_times_the_alarm_from_the_drift_as_the_rule_would() -> None:
    watch = ModelWatch()
    watch.observe(0.0, health(2.0, warm=False))  # cold start: must not count as an alarm
    watch.observe(60.0, health(0.3, warm=False))
    for t in range(100, 200, 10):
        watch.observe(float(t), health(0.02, recall=0.9))
    for t in range(200, 320, 10):  # the drift starts at 200; PSI crosses at 210
        watch.observe(float(t), health(0.05 if t == 200 else 0.6, recall=0.5))
    found = watch.report(drift_start=200.0)
    assert found["monitoring warm after (s)"] == 100.0
    assert found["baseline history (days)"] == 41.2
    assert found["score PSI while warm, before the drift"] == "0.020-0.020"
    assert found["score-PSI alarm before the drift"] is False
    assert found["score PSI above 0.25 after the drift's start (s)"] == 10.0
    assert found["score-PSI alarm (1 min above) after the drift's start (s)"] == 70.0
    assert found["recall below 80 % of validation after the drift's start (s)"] == 0.0
    assert found["recall before / after the drift"] == (
        "0.900-0.900 / 0.500-0.500 (validation 0.900)"
    )


def test_without_a_drift_the_report_says_whether_an_alarm_fired_at_all() -> None:
    quiet = ModelWatch()
    for t in range(0, 100, 10):
        quiet.observe(float(t), health(0.03))
    assert quiet.report(None) == {
        "monitoring warm after (s)": 0.0,
        "baseline history (days)": 41.2,
        "score PSI while warm": "0.030-0.030",
        "score-PSI alarm fired": None,
    }
    noisy = ModelWatch()
    for t in range(0, 100, 10):
        noisy.observe(float(t), health(0.4))
    assert noisy.report(None)["score-PSI alarm fired"] == 60.0
