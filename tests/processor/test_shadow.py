"""The shadow challenger's rows: its own scores beside the champion's, refused if it cannot
score the same features."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from fraudstream.settings import load_settings
from ml_model.artifact import load_model
from ml_model.features import FEATURE_NAMES
from processor.shadow import ShadowScorer


def test_the_challenger_scores_the_champions_rows(generator_model_dir: Path) -> None:
    champion = load_model(generator_model_dir)
    challenger = replace(champion, manifest={**champion.manifest, "version": "challenger-1"})
    matrix = np.random.default_rng(4).normal(size=(3, len(FEATURE_NAMES))).astype(np.float32)
    when = datetime(2026, 12, 4, tzinfo=UTC)
    decided = pa.table(
        {
            "transaction_id": ["t1", "t2", "t3"],
            "card_id": ["c1", "c2", "c3"],
            "event_time": pa.array([when] * 3, pa.timestamp("us", tz="UTC")),
            "model_version": [champion.version] * 3,
            "score": [0.1, 0.2, 0.3],
            "decision": ["approve", "review", "block"],
        }
    )
    rows = ShadowScorer(challenger, champion).rows(decided, matrix)
    assert rows["challenger_score"].to_pylist() == challenger.predict(matrix).tolist()
    assert rows["challenger_version"].to_pylist() == ["challenger-1"] * 3
    assert rows["champion_score"].to_pylist() == [0.1, 0.2, 0.3]
    assert rows["decision"].to_pylist() == ["approve", "review", "block"]
    assert ShadowScorer(challenger, champion).rows(decided[:0], matrix[:0]).num_rows == 0


def test_a_challenger_on_other_features_or_none_at_all(
    generator_model_dir: Path, tmp_path: Path
) -> None:
    champion = load_model(generator_model_dir)
    names = [f"x_{n}" for n in champion.feature_names]
    other = replace(champion, manifest={**champion.manifest, "feature_names": names})
    with pytest.raises(ValueError, match="other features"):
        ShadowScorer(other, champion)
    assert ShadowScorer.from_settings(load_settings(state_dir=tmp_path), champion) is None
    settings = load_settings(state_dir=tmp_path, challenger_model_dir=generator_model_dir)
    scorer = ShadowScorer.from_settings(settings, champion)
    assert scorer is not None and scorer.challenger.version == champion.version
