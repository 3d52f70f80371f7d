"""Champion against challenger on the same labelled rows, and promotion of the challenger."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml_model.artifact import MANIFEST_FILE, ModelBundle, load_model, read_manifest
from ml_model.errors import ArtifactError
from ml_model.features.schema import DAY_MS
from ml_model.promote import promote
from ml_model.training.compare import compare_models, format_comparison


def rows() -> pd.DataFrame:
    fraud = np.array([1, 1, 0, 0, 0, 0, 1, 0])
    return pd.DataFrame(
        {
            "card_id": ["a", "b", "c", "d", "e", "f", "g", "h"],
            "event_ms": np.arange(8) * DAY_MS // 8,
            "champion_score": [0.9, 0.2, 0.8, 0.1, 0.1, 0.3, 0.7, 0.05],
            "challenger_score": [0.9, 0.8, 0.1, 0.1, 0.2, 0.3, 0.7, 0.05],  # ranks perfectly
            "decision": [
                "block",
                "approve",
                "review",
                "approve",
                "approve",
                "approve",
                "review",
                "approve",
            ],
            "is_fraud": fraud,
        }
    )


def test_both_models_are_measured_on_the_same_rows() -> None:
    result = compare_models(rows(), champion_review=0.5, challenger_review=0.5)
    champion, challenger = result["champion"], result["challenger"]
    assert (result["rows"], result["frauds"]) == (8, 3)
    assert challenger["auc_roc"] == 1.0 and challenger["average_precision"] == 1.0
    assert champion["auc_roc"] < 1.0
    assert (challenger["precision"], challenger["recall"]) == (1.0, 1.0)
    assert champion["precision"] == pytest.approx(2 / 3) and champion["recall"] == pytest.approx(
        2 / 3
    )
    assert result["champion_policy"] == {"alerts": 3, "precision": 2 / 3, "recall": 2 / 3}
    assert result["challenger_better"] is True
    text = format_comparison(result, ("v1", "v2"))
    assert "challenger v2" in text and "is better on average precision" in text


def test_without_thresholds_only_the_ranking_is_compared() -> None:
    result = compare_models(rows())
    assert (
        "precision" not in result["challenger"] and result["challenger"]["review_threshold"] is None
    )
    with pytest.raises(ValueError, match="lack: decision"):
        compare_models(rows().drop(columns="decision"))


def test_promote_swaps_the_folders_and_keeps_the_previous(
    model_dir: Path, bundle: ModelBundle, tmp_path: Path
) -> None:
    champion, challenger = tmp_path / "model", tmp_path / "challenger"
    shutil.copytree(model_dir, champion)
    shutil.copytree(model_dir, challenger)
    outer = json.loads((challenger / MANIFEST_FILE).read_text())
    old, new = promote(champion, challenger)
    assert old == new == bundle.version
    assert load_model(champion).version == bundle.version
    assert read_manifest(tmp_path / "model.previous")["version"] == bundle.version
    assert not (tmp_path / ".model.incoming").exists()
    # a challenger on other features is refused, and the champion is left alone
    outer["feature_names"] = [f"other_{n}" for n in outer["feature_names"]]
    (challenger / MANIFEST_FILE).write_text(json.dumps(outer))
    (challenger / "model.tar.gz").unlink()
    (challenger / "xgboost-model").write_bytes(bundle.booster.save_raw(raw_format="ubj"))
    with pytest.raises(ArtifactError, match="other features"):
        promote(champion, challenger)
    assert load_model(champion).version == bundle.version
