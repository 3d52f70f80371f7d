"""The training baseline and PSI: pure logic, plus the baseline a trained manifest records."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from ml_model.features import FEATURE_NAMES
from ml_model.monitoring import Baseline, Bins, bin_counts, build_baseline, psi, top_features
from ml_model.training.pipeline import TrainOutcome


def test_bins_put_each_value_left_closed_and_nan_last() -> None:
    counts = bin_counts(np.array([0.0, 1.0, 1.5, 2.0, 9.0, np.nan]), np.array([1.0, 2.0]))
    assert counts.tolist() == [1, 2, 2, 1]


def test_quantile_bins_stay_exact_with_mass_points() -> None:
    values = np.r_[np.full(700, -1.0), np.arange(300.0)]  # 70 % "unknown"
    bins = Bins.of(values, 10)
    assert bins.edges[0] > -1.0  # no empty bin below the mass point
    assert np.all(np.diff(bins.edges) > 0)
    assert bins.expected[0] == pytest.approx(0.7)
    assert bins.expected.sum() == pytest.approx(1.0)
    assert Bins.from_dict(bins.to_dict()).expected.tolist() == bins.expected.tolist()


def test_psi_is_zero_for_the_same_distribution_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(3)
    base = Bins.of(rng.lognormal(3, 1, 50_000))
    same = psi(base.expected, bin_counts(rng.lognormal(3, 1, 5_000), base.edges))
    shifted = psi(base.expected, bin_counts(rng.lognormal(3.7, 1, 5_000), base.edges))
    assert same < 0.02
    assert shifted > 0.25
    assert np.isnan(psi(base.expected, np.zeros_like(base.expected)))


def test_psi_of_an_unseen_bin_is_large_but_finite() -> None:
    value = psi(np.array([0.5, 0.5, 0.0]), np.array([0, 0, 10]))
    assert np.isfinite(value) and value > 5


def test_a_window_of_a_few_hours_is_compared_with_those_hours_of_the_baseline() -> None:
    """Scores follow the daily rhythm: night windows against whole days look like drift."""
    rng = np.random.default_rng(4)
    hours = rng.integers(0, 24, 48_000)

    def scores(h: np.ndarray) -> np.ndarray:
        return np.where(h < 6, rng.beta(4, 20, len(h)), rng.beta(1, 40, len(h)))

    bins = Bins.of(scores(hours), 10, hours)
    assert bins.by_hour is not None and bins.by_hour.shape == (24, len(bins.expected))
    assert np.allclose(bins.by_hour.sum(axis=1), 1.0)
    assert bins.expected_for(None) is bins.expected
    whole_days = bins.expected_for(np.bincount(hours, minlength=24))
    assert np.allclose(whole_days, bins.expected, atol=1e-4)  # up to the prior rows
    window = rng.integers(0, 6, 5_000)  # a window of night hours only
    counts = bin_counts(scores(window), bins.edges)
    assert psi(bins.expected, counts) > 0.5  # against whole days: a false alarm
    assert psi(bins.expected_for(np.bincount(window, minlength=24)), counts) < 0.05
    again = Bins.from_dict(bins.to_dict())
    assert again.by_hour is not None and np.allclose(again.by_hour, bins.by_hour, atol=1e-6)
    with pytest.raises(ValueError, match="hour of day"):
        Bins.of(np.zeros(2), 10, np.array([0, 24]))
    with pytest.raises(ValueError, match="by_hour"):
        Bins.from_dict(bins.to_dict() | {"by_hour": [[1.0]]})


def test_top_features_rank_by_gain_and_accept_positional_names() -> None:
    names = ["a", "b", "c", "d"]
    assert top_features({"c": 5.0, "f0": 9.0, "b": 5.0}, names, top=3) == ["a", "b", "c"]
    assert top_features({"d": 1.0}, names) == ["d"]
    # time-of-day features are never monitored: a window shorter than a day sees a few hours
    assert top_features({"hour_of_day": 9.0, "a": 1.0}, ["hour_of_day", "a"]) == ["a"]


def test_bins_refuse_a_malformed_baseline() -> None:
    with pytest.raises(ValueError, match="increasing edges"):
        Bins.from_dict({"edges": [2.0, 1.0], "expected": [0.2, 0.3, 0.5, 0.0]})


def test_build_baseline_needs_one_score_per_row() -> None:
    with pytest.raises(ValueError, match="one score per"):
        build_baseline(np.zeros(2), np.zeros((3, 1)), ["a"], ["a"])


def test_the_manifest_records_a_baseline_its_validation_rows_fit(trained: TrainOutcome) -> None:
    baseline = Baseline.from_manifest(trained.manifest)
    assert baseline is not None
    assert baseline.rows == trained.fit.valid_rows
    assert 0 < len(baseline.features) <= 8
    assert set(baseline.features) <= set(FEATURE_NAMES)
    assert baseline.score.expected.sum() == pytest.approx(1.0)
    # the validation scores themselves sit exactly on the baseline
    counts = bin_counts(trained.fit.valid_scores, baseline.score.edges)
    assert psi(baseline.score.expected, counts) == pytest.approx(0.0, abs=1e-12)
    assert baseline.recall == trained.manifest["metrics"]["validation"]["review_or_block_recall"]
    assert 0 < (baseline.alert_rate or 0) < 0.2
    # the history behind the first validation row: what a stream's state must cover to match
    data = trained.manifest["data"]
    behind = datetime.fromisoformat(data["valid_start"]) - datetime.fromisoformat(
        data["warmup_start"]
    )
    assert baseline.history_days == pytest.approx(behind.total_seconds() / 86_400, abs=1e-3)
    assert Baseline.from_dict(baseline.to_dict()).to_dict() == baseline.to_dict()
    assert Baseline.from_manifest({}) is None
    assert baseline.score.by_hour is not None  # the manifest keeps the shares per hour
