"""Retraining: a held-out latest stretch decides whether the new model is registered."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from ml_model.artifact import load_model
from ml_model.data.history import History
from ml_model.errors import DataError
from ml_model.training.retrain import retrain
from tests.ml_model.conftest import CONFIG, PARAMS


def test_registered_only_when_better_than_the_champion(
    history_frame: pd.DataFrame, model_dir: Path, tmp_path: Path
) -> None:
    history = History(history_frame, "synthetic")
    champion = tmp_path / "model"
    shutil.copytree(model_dir, champion)
    challenger = tmp_path / "challenger"
    outcome = retrain(
        history, champion_dir=champion, challenger_dir=challenger, params=PARAMS, eval_days=6
    )
    new, old = (outcome.figures[k]["average_precision"] for k in ("challenger", "champion"))
    assert outcome.registered == (new > old) == challenger.is_dir()
    assert outcome.champion_version == load_model(champion).version
    assert outcome.figures["challenger"]["rows"] == outcome.figures["champion"]["rows"] > 0
    assert not (tmp_path / ".challenger.training").exists()
    # with no champion, any model that ranks the held-out frauds is registered
    fresh = retrain(
        history,
        champion_dir=tmp_path / "none",
        challenger_dir=challenger,
        params=PARAMS,
        config=CONFIG,
        eval_days=6,
    )
    assert fresh.registered and load_model(challenger).version == fresh.challenger_version
    assert "champion" not in fresh.figures


def test_retraining_needs_a_configuration_and_enough_history(
    history_frame: pd.DataFrame, tmp_path: Path
) -> None:
    history = History(history_frame, "synthetic")
    with pytest.raises(DataError, match="feature configuration"):
        retrain(history, champion_dir=tmp_path, challenger_dir=tmp_path / "c", params=PARAMS)
    with pytest.raises(DataError, match="shorter than"):
        retrain(
            history,
            champion_dir=tmp_path,
            challenger_dir=tmp_path / "c",
            params=PARAMS,
            config=CONFIG,
            eval_days=400,
        )
