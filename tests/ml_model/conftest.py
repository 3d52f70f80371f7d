"""Fixtures of the model tests: a small synthetic history and a model trained on it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ml_model.artifact import ModelBundle, load_model
from ml_model.data.history import History
from ml_model.features import FeatureConfig
from ml_model.features.schema import DAY_MS
from ml_model.testing import synthetic_history
from ml_model.training.fit import TrainParams
from ml_model.training.pipeline import TrainOutcome, train_model

CONFIG = FeatureConfig(label_delay_ms=DAY_MS)
#: Small and single-threaded: the CI machine is shared.
PARAMS = TrainParams(max_rounds=60, early_stopping_rounds=20, nthread=1, max_depth=4)


@pytest.fixture(scope="session")
def history_frame() -> pd.DataFrame:
    return synthetic_history(cards=80, days=24.0, seed=11)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, history_frame: pd.DataFrame) -> TrainOutcome:
    folder = tmp_path_factory.mktemp("model")
    return train_model(
        History(history_frame, "synthetic"), out_dir=folder, config=CONFIG, params=PARAMS
    )


@pytest.fixture(scope="session")
def model_dir(trained: TrainOutcome) -> Path:
    return trained.archive.parent


@pytest.fixture(scope="session")
def bundle(model_dir: Path) -> ModelBundle:
    return load_model(model_dir)
