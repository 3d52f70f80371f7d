"""The anomaly signal: the detector, the shared alert budget, the leave-one-scenario-out
experiment on data where the answer is known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.novelty import Split, leave_one_out, outcome
from ml_model.anomaly import AnomalyDetector, combined_alerts
from ml_model.features import FEATURE_NAMES
from ml_model.training.fit import TrainParams

RNG = np.random.default_rng(11)
WIDTH = len(FEATURE_NAMES)


def normal(n: int) -> np.ndarray:
    return RNG.normal(0, 1, (n, WIDTH)).astype(np.float32)


def test_the_detector_scores_outliers_above_its_threshold() -> None:
    detector = AnomalyDetector.fit(normal(2_000), share=0.01, trees=50)
    inliers, outliers = normal(500), normal(20) + 8
    assert detector.anomalous(outliers).all()
    assert detector.anomalous(inliers).mean() < 0.05
    assert detector.score(np.zeros((0, WIDTH))).shape == (0,)
    with np.errstate(invalid="ignore"):
        assert np.isfinite(detector.score(np.full((1, WIDTH), np.nan))).all()
    with pytest.raises(ValueError, match="share"):
        AnomalyDetector.fit(normal(10), share=1.5)


@pytest.mark.parametrize(("trees", "samples"), [(3, 700), (20, 256)])
def test_the_compiled_forest_scores_as_scikit_learn_does(trees: int, samples: int) -> None:
    from sklearn.ensemble import IsolationForest

    from ml_model.anomaly.compiled import compile_forest, path_scores

    rows = normal(3_000)
    rows[:, :6] = np.round(rows[:, :6])  # ties on split values: the <= against < boundary
    forest = IsolationForest(n_estimators=trees, max_samples=samples, random_state=1).fit(rows)
    probe = np.vstack([rows[:500], normal(500) * 3])
    expected = -forest.score_samples(probe)
    assert np.allclose(path_scores(compile_forest(forest, WIDTH), probe), expected, atol=1e-6)


def test_split_conditions_send_every_float32_the_same_way() -> None:
    from ml_model.anomaly.compiled import left_condition

    thresholds = np.array([0.5, 0.1, -2.25, 1e-8, 3e38], dtype=np.float64)
    thresholds = np.r_[thresholds, (np.float32(0.1) + np.float32(0.2)) / 2.0]
    condition = left_condition(thresholds)
    for t, c in zip(thresholds, condition, strict=True):
        probes = np.array(
            [np.float32(t), np.nextafter(np.float32(t), np.float32(np.inf)), c],
            dtype=np.float32,
        )
        probes = np.r_[probes, np.nextafter(probes, np.float32(-np.inf))]
        assert ((probes < c) == (probes.astype(np.float64) <= t)).all(), t


def test_the_anomaly_signal_spends_part_of_the_same_budget() -> None:
    model = np.array([0.9, 0.8, 0.7, 0.1, 0.0, 0.0])
    anomaly = np.array([5.0, 0.0, 0.0, 0.0, 3.0, 1.0])
    by_model, by_anomaly = combined_alerts(model, anomaly, budget=3, anomaly_budget=1)
    assert by_model.tolist() == [True, True, False, False, False, False]
    assert by_anomaly.tolist() == [False, False, False, False, True, False]  # not row 0 again
    with pytest.raises(ValueError, match="part of"):
        combined_alerts(model, anomaly, budget=1, anomaly_budget=2)


def test_outcome_counts_novel_recall_apart() -> None:
    alerted = np.array([True, True, False, True])
    fraud = np.array([True, True, True, False])
    novel = np.array([False, True, True, False])
    assert outcome(alerted, fraud, novel) == {
        "alerts": 3,
        "recall_novel": 0.5,
        "recall": pytest.approx(2 / 3),
        "precision": pytest.approx(2 / 3),
    }


def test_a_pattern_left_out_of_training_is_found_by_the_anomaly_signal() -> None:
    n = 6_000
    matrix = normal(n)
    event_ms = np.sort(RNG.integers(0, 10 * 86_400_000, n))
    scenario = np.full(n, "genuine", dtype=object)
    known = RNG.random(n) < 0.02
    novel = (~known) & (RNG.random(n) < 0.005)
    matrix[known, 0] += 4  # the known fraud's sign: feature 0
    matrix[novel, 5:15] += 6  # the novel fraud looks like nothing the model was shown
    scenario[known], scenario[novel] = "known", "novel"
    data = Split(matrix, known | novel, scenario.astype(str), event_ms)
    params = TrainParams(nthread=1, max_rounds=60, early_stopping_rounds=20, max_depth=3)
    result = leave_one_out(
        data, "novel", 7 * 86_400_000, params=params, budget_share=0.04, anomaly_shares=(0.01,)
    )
    assert result["train_frauds"] == int(known[event_ms < 7 * 86_400_000].sum())
    assert result["novel_frauds"] > 0
    assert result["model_only"]["recall_novel"] < 0.5
    assert result["with_anomaly"]["0.01"]["recall_novel"] > 0.9
    assert result["with_anomaly"]["0.01"]["alerts"] == result["model_only"]["alerts"]


def test_once_labelled_the_novel_pattern_is_caught_by_the_retrained_model(
    tmp_path: Path,
) -> None:
    from benchmarks import novelty_retrain

    n = 6_000
    matrix = normal(n)
    event_ms = np.sort(RNG.integers(0, 10 * 86_400_000, n))
    scenario = np.full(n, "genuine", dtype=object)
    known = RNG.random(n) < 0.02
    novel = (~known) & (RNG.random(n) < 0.02)
    matrix[known, 0] += 4
    matrix[novel, 3] += 3  # a sign the model can learn once it has labels
    scenario[known], scenario[novel] = "known", "novel"
    data = Split(matrix, known | novel, scenario.astype(str), event_ms)
    params = TrainParams(nthread=1, max_rounds=60, early_stopping_rounds=20, max_depth=3)
    start = 7 * 86_400_000
    never, labelled = (
        novelty_retrain.after_labels(data, "novel", start, days, params=params, budget_share=0.05)
        for days in (0.0, 5.0)
    )
    assert never["labelled_frauds"] == 0
    recent = (event_ms >= start - 5 * 86_400_000) & (event_ms < start)
    assert labelled["labelled_frauds"] == int((novel & recent).sum())
    assert labelled["model_only"]["recall_novel"] > never["model_only"]["recall_novel"] + 0.3
    assert labelled["model_only"]["alerts"] == never["model_only"]["alerts"]  # same budget

    out = tmp_path / "retrain.json"
    tiny = ["--cards", "150", "--days", "4", "--test-days", "1", "--fraud-rate", "0.05"]
    novelty_retrain.main(
        [*tiny, "--scenario", "card_testing", "--labelled-days", "2", "--out", str(out)]
    )
    (result,) = json.loads(out.read_text())["results"]
    assert result["labelled_days"] == 2.0 and result["test_rows"] > 0


def test_the_experiment_runs_on_generator_history(tmp_path: Path) -> None:
    from benchmarks import novelty

    out = tmp_path / "novelty.json"
    tiny = ["--cards", "150", "--days", "4", "--test-days", "1", "--fraud-rate", "0.05"]
    novelty.main([*tiny, "--scenario", "card_testing", "--out", str(out)])
    (result,) = json.loads(out.read_text())["results"]
    assert result["scenario"] == "card_testing" and result["test_rows"] > 0
    same_budget = {row["alerts"] for row in result["with_anomaly"].values()}
    assert same_budget == {result["model_only"]["alerts"]} == {result["budget"]}


def test_the_experiment_reads_the_handbook(handbook_path: Path, tmp_path: Path) -> None:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from benchmarks import novelty

    table = pq.read_table(handbook_path)
    days = table.filter(pc.less(table["TX_TIME_DAYS"], 12))  # the first 12 days
    pq.write_table(days, tmp_path / "handbook.parquet")
    out = tmp_path / "novelty.json"
    data = str(tmp_path / "handbook.parquet")
    window = ["--test-start", "2018-04-10", "--budget", "0.02", "--out", str(out)]
    novelty.main(["--handbook", data, "--scenario", "compromised_card", *window])
    (result,) = json.loads(out.read_text())["results"]
    assert result["scenario"] == "compromised_card"
    assert 0 < result["test_rows"] < days.num_rows and result["train_frauds"] > 0
