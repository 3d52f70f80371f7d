"""Retrain from labelled history and register the result as challenger only when it is better.

The last ``eval_days`` of the history (its latest fully labelled week by default) are held
out; a model is trained on what comes before, with the champion's feature configuration (the
same feature engine and label delay), and the champion and the new model are scored on the
held-out days with features from the whole history. The new model becomes the challenger
(``challenger_dir``, which the processor can shadow-score) only when its average precision
there is higher; otherwise it is discarded and the outcome says why.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml_model.artifact import load_model, model_available
from ml_model.data.history import History, format_ms
from ml_model.errors import DataError
from ml_model.features import FeatureConfig
from ml_model.features.schema import DAY_MS
from ml_model.training.fit import TrainParams
from ml_model.training.pipeline import evaluate, feature_matrix, train_model


@dataclass(frozen=True)
class RetrainOutcome:
    registered: bool
    challenger_version: str
    champion_version: str | None
    eval_window: tuple[str, str]
    figures: dict[str, dict[str, Any]]


def retrain(
    history: History,
    *,
    champion_dir: Path,
    challenger_dir: Path,
    params: TrainParams,
    config: FeatureConfig | None = None,
    eval_days: float = 7.0,
    say: Callable[[str], None] | None = None,
) -> RetrainOutcome:
    """Train on ``history`` before its last ``eval_days``, compare on them, register if better."""
    tell = say or (lambda _text: None)
    champion = load_model(champion_dir) if model_available(champion_dir) else None
    config = config or (champion.feature_config if champion else None)
    if config is None:
        raise DataError("no champion to take the feature configuration from; pass one")
    eval_start = history.end_ms - int(eval_days * DAY_MS)
    if eval_start <= history.start_ms:
        raise DataError(f"the history is shorter than the {eval_days:g} evaluation days")
    staging = challenger_dir.with_name(f".{challenger_dir.name}.training")
    shutil.rmtree(staging, ignore_errors=True)
    outcome = train_model(
        history, out_dir=staging, config=config, params=params, train_end_ms=eval_start, say=say
    )
    tx = history.transactions
    rows = tx["event_ms"].to_numpy() >= eval_start
    labels = tx["is_fraud"].to_numpy(dtype=bool)[rows]
    days = tx["event_ms"].to_numpy()[rows] // DAY_MS
    cards = tx["card_id"].to_numpy()[rows]
    tell(f"scoring the held-out days from {format_ms(eval_start)}: {int(rows.sum()):,} rows")
    matrix = feature_matrix(history, config)[rows]
    figures = {"challenger": evaluate(labels, load_model(staging).predict(matrix), days, cards)}
    if champion is not None:
        if champion.feature_config != config:
            matrix = feature_matrix(history, champion.feature_config)[rows]
        figures["champion"] = evaluate(labels, champion.predict(matrix), days, cards)
    new_ap = figures["challenger"]["average_precision"]
    old_ap = figures.get("champion", {}).get("average_precision", float("-inf"))
    better = bool(np.isfinite(new_ap) and (not np.isfinite(old_ap) or new_ap > old_ap))
    if better:
        shutil.rmtree(challenger_dir, ignore_errors=True)
        staging.rename(challenger_dir)
    else:
        shutil.rmtree(staging, ignore_errors=True)
    return RetrainOutcome(
        registered=better,
        challenger_version=str(outcome.manifest["version"]),
        champion_version=champion.version if champion else None,
        eval_window=(format_ms(eval_start), format_ms(history.end_ms)),
        figures=figures,
    )
