"""The drift benchmark's reading of the alert rules: when a `for:` rule fires, from scrapes."""

from __future__ import annotations

import pytest

from benchmarks.drift_watch import firing_time, first_at_or_after, model_figures

SCRAPE = """# TYPE fraudstream_model_psi gauge
fraudstream_model_psi{column="score"} 0.31
fraudstream_model_psi{column="amount"} 0.9
fraudstream_model_psi{column="card_count_10m"} 0.2
# TYPE fraudstream_model_alert_rate gauge
fraudstream_model_alert_rate{decision="review"} 0.03
fraudstream_model_alert_rate{decision="block"} 0.01
# TYPE fraudstream_model_recall gauge
fraudstream_model_recall 0.42
# TYPE fraudstream_model_baseline gauge
fraudstream_model_baseline{measure="recall"} 0.61
fraudstream_model_baseline{measure="precision"} 0.3
"""


def test_the_score_psi_and_recalls_are_read_from_a_scrape() -> None:
    figures = model_figures(SCRAPE)
    assert figures == {
        "psi": 0.31,
        "feature_psi": 0.9,
        "recall": 0.42,
        "baseline_recall": 0.61,
        "alerts": pytest.approx(0.04),
    }
    assert set(model_figures("").values()) == {-1.0}


def test_a_rule_fires_only_after_its_condition_held_for_the_whole_for() -> None:
    series = [(0.0, 0.3), (5.0, 0.1), (10.0, 0.3), (40.0, 0.1), (45.0, 0.3), (75.0, 0.4)]
    series += [(105.0, 0.5), (110.0, 0.2)]
    # before the start nothing counts; 10..40 is broken by the dip at 40; 45..105 holds 60 s
    assert firing_time(series, start=5.0, threshold=0.25, hold_s=60.0) == 105.0
    assert firing_time(series, start=5.0, threshold=0.25, hold_s=61.0) is None
    assert first_at_or_after(series, 5.0, lambda v: v > 0.25) == 10.0
    assert first_at_or_after(series, 111.0, lambda v: v > 0.25) is None
