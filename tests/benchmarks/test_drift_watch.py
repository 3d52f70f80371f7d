"""The drift benchmark's reading of the alert rules: when a `for:` rule fires, from scrapes."""

from __future__ import annotations

import pytest

from benchmarks.drift_watch import model_figures

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
fraudstream_model_baseline{measure="history_days"} 11.2
# TYPE fraudstream_model_warm gauge
fraudstream_model_warm 0
# TYPE fraudstream_model_state_days gauge
fraudstream_model_state_days 3.5
"""


def test_the_score_psi_and_recalls_are_read_from_a_scrape() -> None:
    figures = model_figures(SCRAPE)
    assert figures == {
        "psi": 0.31,
        "feature_psi": 0.9,
        "recall": 0.42,
        "baseline_recall": 0.61,
        "alerts": pytest.approx(0.04),
        "warm": 0.0,
        "state_days": 3.5,
        "baseline_history_days": 11.2,
    }
    nothing = model_figures("")
    assert nothing.pop("warm") == 1.0  # a processor without the warm-up gate never holds
    assert set(nothing.values()) == {-1.0}


def test_the_alert_is_timed_as_the_gated_rule_sees_it() -> None:
    """A cold start's high PSI neither fires the rule nor counts as the drift's detection."""
    from argparse import Namespace

    from benchmarks.drift_watch import summarize
    from processor.metrics import BatchSummary

    args = Namespace(drift="fraud_x5", drift_at=200.0, seconds=400.0, rate=10, cards=100, scrape=5)
    batch = BatchSummary(1, 4_000, {}, {}, 1.0, 0.5, 0.9, 1.0)  # committed 1 s after sending

    def figures(t: float) -> dict[str, float]:
        warm = t >= 101.0
        drifted = t >= 231.0
        return {
            "psi": 0.6 if not warm or drifted else 0.05,
            "feature_psi": 0.1,
            "recall": 0.9,
            "baseline_recall": 0.9,
            "alerts": 0.02,
            "warm": float(warm),
            "state_days": t / 10,
            "baseline_history_days": 10.0,
        }

    samples = [(t, figures(t)) for t in range(1, 420, 5)]
    out = summarize(args, [(1.0, batch)], samples, 400.0, 1.0, [0.0, 0.0, 0.0])
    assert out["ungated_alert_would_have_fired_before_drift"] is True
    assert out["score_drift_alert_fired_before_drift"] is False
    assert out["state_warm_after_s"] == -99.0  # warm at 101 s, the drift at 200 s
    assert out["psi_warm_before_drift"] == [0.05, 0.05]
    assert out["psi_above_threshold_after_s"] == 31.0
    assert out["score_drift_alert_fires_after_s"] == 91.0  # held above from 231 s for 60 s
    assert out["within_target"] is True and out["baseline_history_days"] == 10.0
