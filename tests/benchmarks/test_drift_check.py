"""The offline drift check: PSI per window, and that drift reads higher than none."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks import drift_check
from ml_model.features import FEATURE_NAMES
from ml_model.monitoring import build_baseline


def test_window_psi_cuts_whole_windows() -> None:
    rng = np.random.default_rng(2)
    matrix = rng.normal(size=(1_000, len(FEATURE_NAMES))).astype(np.float32)
    scores = rng.random(1_000)
    baseline = build_baseline(scores, matrix, list(FEATURE_NAMES), ["amount", "hour_of_day"])
    windows = drift_check.window_psi(baseline, scores[:450], matrix[:450], 200)
    assert len(windows) == 2  # the last 50 rows do not make a window
    assert all(w["score"] < 0.1 and w["max_feature"] < 0.15 for w in windows)
    moved = drift_check.window_psi(baseline, scores[:200] ** 4, matrix[:200], 200)
    assert moved[0]["score"] > 0.25


def test_a_tiny_run_reads_drift_above_no_drift(tmp_path: Path) -> None:
    out = tmp_path / "drift.json"
    tiny = ["--cards", "150", "--days", "4", "--test-days", "1", "--window", "200"]
    drift_check.main([*tiny, "--fraud-rate", "0.05", "--out", str(out)])
    result = json.loads(out.read_text())
    mean = {k: np.mean([w["score"] for w in result[k]]) for k in ("unchanged", "fraud_rate_x5")}
    assert mean["fraud_rate_x5"] > 2 * mean["unchanged"]
    features = {
        k: np.mean([w["max_feature"] for w in result[k]]) for k in ("unchanged", "amount_x2")
    }
    assert features["amount_x2"] > features["unchanged"]
