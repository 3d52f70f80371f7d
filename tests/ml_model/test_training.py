"""Training writes a SageMaker-layout artifact whose manifest describes the model."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from ml_model.artifact import (
    ANOMALY_FILE,
    ARCHIVE_MANIFEST,
    BOOSTER_FILE,
    ModelBundle,
    features_code_hash,
    load_model,
    read_manifest,
)
from ml_model.data.history import History, load_history
from ml_model.errors import ArtifactError, DataError
from ml_model.features import FEATURE_NAMES, build
from ml_model.testing import as_handbook_table
from ml_model.training.fit import TrainParams, time_split
from ml_model.training.pipeline import TrainOutcome, train_model

from .conftest import CONFIG, PARAMS


def test_archive_root_holds_only_the_booster(model_dir: Path) -> None:
    with tarfile.open(model_dir / "model.tar.gz") as archive:
        files = [m.name for m in archive.getmembers() if m.isfile()]
    # the SageMaker XGBoost container loads every top-level file as a booster
    assert [f for f in files if "/" not in f] == [BOOSTER_FILE]
    assert ARCHIVE_MANIFEST in files


def test_manifest_describes_the_model(trained: TrainOutcome, model_dir: Path) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["feature_names"] == list(FEATURE_NAMES)
    assert manifest["version"] == trained.manifest["version"]
    assert manifest["feature_config"]["label_delay_ms"] == CONFIG.label_delay_ms
    assert manifest["code_version"]["features_sha256"] == features_code_hash()
    assert set(manifest["thresholds"]) >= {"review", "block", "rule"}
    assert manifest["metrics"]["validation"]["auc_roc"] > 0.8
    assert manifest["data"]["train_rows"] > manifest["data"]["valid_rows"] > 0
    assert len(manifest["artifact"]["sha256"]) == 64
    assert manifest["training"]["best_round"] < PARAMS.max_rounds


def test_loaded_model_scores_like_the_trained_booster(
    trained: TrainOutcome, bundle: ModelBundle, history_frame: object
) -> None:
    matrix = build(history_frame, history_frame, CONFIG)  # type: ignore[arg-type]
    scores = bundle.predict(matrix)
    assert np.allclose(scores, trained.fit.booster.inplace_predict(matrix), atol=1e-7)
    assert ((scores >= 0) & (scores <= 1)).all()
    contributions = bundle.contributions(matrix[:5])
    assert contributions.shape == (5, len(FEATURE_NAMES) + 1)
    # contributions add up to the log-odds of the score
    logit = np.log(scores[:5] / (1 - scores[:5]))
    assert np.allclose(contributions.sum(axis=1), logit, atol=1e-4)
    assert np.allclose(bundle.contributions(matrix[:5], exact=True).sum(axis=1), logit, atol=1e-4)


def test_reason_ranking_follows_treeshap_on_the_rows_that_get_reasons(
    bundle: ModelBundle, history_frame: object
) -> None:
    # Reasons come from the cheap path attribution; on the rows that reach review (the only
    # rows given reasons) its top feature must be TreeSHAP's on the large majority.
    matrix = build(history_frame, history_frame, CONFIG)  # type: ignore[arg-type]
    scores = bundle.predict(matrix)
    flagged = matrix[scores >= np.quantile(scores, 0.9)]
    cheap = bundle.contributions(flagged)[:, :-1].argmax(axis=1)
    exact = bundle.contributions(flagged, exact=True)[:, :-1].argmax(axis=1)
    assert len(flagged) >= 20
    assert (cheap == exact).mean() >= 0.8


def test_the_anomaly_detector_travels_with_the_model(
    bundle: ModelBundle, model_dir: Path, history_frame: object
) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["anomaly"]["file"] == ANOMALY_FILE
    detector = bundle.anomaly
    assert detector is not None
    assert detector.threshold == manifest["anomaly"]["threshold"]
    assert list(detector.tail) == manifest["anomaly"]["tail"]
    # the threshold is the training rows' quantile: about ``share`` of them reach it
    matrix = build(history_frame, history_frame, CONFIG)  # type: ignore[arg-type]
    reach = detector.anomalous(matrix).mean()
    assert 0.5 * detector.share <= reach <= 2 * detector.share


def test_extracted_layout_loads_like_sagemaker(model_dir: Path, tmp_path: Path) -> None:
    with tarfile.open(model_dir / "model.tar.gz") as archive:
        archive.extractall(tmp_path, filter="data")
    loaded = load_model(tmp_path)
    original = load_model(model_dir)
    assert loaded.version == original.version
    assert loaded.anomaly is not None and original.anomaly is not None
    rows = np.random.default_rng(0).normal(size=(50, len(FEATURE_NAMES)))
    assert np.array_equal(loaded.anomaly.score(rows), original.anomaly.score(rows))
    (tmp_path / ANOMALY_FILE).write_bytes(b"not a booster")
    with pytest.raises(ArtifactError, match="anomaly detector does not load"):
        load_model(tmp_path)


def test_the_manifest_reads_without_the_booster_in_every_layout(
    model_dir: Path, tmp_path: Path
) -> None:
    version = load_model(model_dir).version
    assert read_manifest(model_dir)["version"] == version  # manifest.json beside the archive
    alone = tmp_path / "archive-only"
    alone.mkdir()
    (alone / "model.tar.gz").write_bytes((model_dir / "model.tar.gz").read_bytes())
    assert read_manifest(alone)["version"] == version  # the copy inside the archive
    extracted = tmp_path / "extracted"
    with tarfile.open(model_dir / "model.tar.gz") as archive:
        archive.extractall(extracted, filter="data")
    assert read_manifest(extracted)["thresholds"]["block"] > 0
    (alone / "manifest.json").write_text("{")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        read_manifest(alone)


def test_tampered_archive_is_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    copy.mkdir()
    (copy / "manifest.json").write_text((model_dir / "manifest.json").read_text())
    (copy / "model.tar.gz").write_bytes((model_dir / "model.tar.gz").read_bytes() + b"x")
    with pytest.raises(ArtifactError, match="checksum"):
        load_model(copy)
    with pytest.raises(ArtifactError, match="no model"):
        load_model(tmp_path / "missing")


def test_time_split_keeps_validation_last() -> None:
    times = np.arange(100)
    train, valid, cut = time_split(times, 0.2)
    assert times[train].max() < times[valid].min() == cut
    assert valid.sum() == 20


def test_training_needs_both_classes(tmp_path: Path, history_frame: object) -> None:
    frame = history_frame.assign(is_fraud=False)  # type: ignore[attr-defined]
    with pytest.raises(DataError, match="both fraud and genuine"):
        train_model(History(frame, "x"), out_dir=tmp_path, config=CONFIG, params=PARAMS)


def test_handbook_layout_loads(tmp_path: Path, history_frame: object) -> None:
    path = tmp_path / "hb.parquet"
    import pyarrow.parquet as pq

    pq.write_table(as_handbook_table(history_frame), path)  # type: ignore[arg-type]
    history = load_history(path, "handbook", label_delay_ms=CONFIG.label_delay_ms)
    assert len(history) == len(history_frame)  # type: ignore[arg-type]
    tx = history.transactions
    assert (tx["label_ms"] - tx["event_ms"] == CONFIG.label_delay_ms).all()
    assert tx["card_id"].str.startswith("c").all()
    assert tx["event_ms"].is_monotonic_increasing
    with pytest.raises(DataError, match="not generator history"):
        load_history(path, "generator")
    with pytest.raises(DataError, match="not found"):
        load_history(tmp_path / "nope.parquet", "handbook")
    assert TrainParams().xgb_params()["objective"] == "binary:logistic"
