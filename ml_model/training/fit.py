"""XGBoost fitting with a time-ordered validation split and early stopping.

Class imbalance (under 1 % fraud) is handled three ways: the objective is plain logistic loss
(so scores stay usable as probabilities for thresholds), early stopping watches the area under
the precision-recall curve (``aucpr``), which rewards ranking the rare class rather than
accuracy, and positives can be up-weighted with ``scale_pos_weight`` (the default is chosen
on validation AP; see ``docs/model.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ml_model.errors import DataError
from ml_model.features.schema import FEATURE_NAMES

#: progress(round, best_round, validation aucpr)
RoundProgress = Callable[[int, int, float], None]


@dataclass(frozen=True)
class TrainParams:
    """XGBoost settings; the defaults are the ones ``docs/model.md`` reports."""

    learning_rate: float = 0.1
    max_depth: int = 6
    min_child_weight: float = 1.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    scale_pos_weight: float = 1.0
    max_bin: int = 256
    max_rounds: int = 1000
    early_stopping_rounds: int = 50
    valid_fraction: float = 0.2
    nthread: int = 2
    seed: int = 0

    def xgb_params(self) -> dict[str, Any]:
        return {
            "objective": "binary:logistic",
            "eval_metric": "aucpr",
            "tree_method": "hist",
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "scale_pos_weight": self.scale_pos_weight,
            "max_bin": self.max_bin,
            "nthread": self.nthread,
            "seed": self.seed,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FitResult:
    booster: Any  # xgboost.Booster holding only the trees up to the best round
    best_round: int
    rounds_run: int
    valid_aucpr: float
    train_rows: int
    valid_rows: int
    valid_start_ms: int
    valid_scores: np.ndarray = field(repr=False)
    valid_mask: np.ndarray = field(repr=False)


def time_split(event_ms: np.ndarray, valid_fraction: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Masks (train, valid): validation is the last ``valid_fraction`` of the time span."""
    if not 0 < valid_fraction < 1:
        raise ValueError("valid_fraction must be between 0 and 1")
    start, end = int(event_ms.min()), int(event_ms.max())
    cut = end - math.floor((end - start) * valid_fraction)
    valid = event_ms >= cut
    return ~valid, valid, cut


class _Progress:
    """An xgboost callback that reports every ``every`` rounds (built lazily: xgboost import)."""

    @staticmethod
    def make(report: RoundProgress, every: int) -> Any:
        import xgboost as xgb

        class Callback(xgb.callback.TrainingCallback):
            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                history = evals_log.get("valid", {}).get("aucpr", [])
                if history and (epoch % every == 0):
                    best = int(np.argmax(history))
                    report(epoch, best, float(history[-1]))
                return False

        return Callback()


def fit(
    matrix: np.ndarray,
    labels: np.ndarray,
    event_ms: np.ndarray,
    params: TrainParams,
    *,
    progress: RoundProgress | None = None,
    progress_every: int = 25,
) -> FitResult:
    """Train on the earlier part of the window, stop early on the later part."""
    import xgboost as xgb

    y = np.asarray(labels, dtype=bool)
    train, valid, cut = time_split(np.asarray(event_ms), params.valid_fraction)
    for name, mask in (("training", train), ("validation", valid)):
        if not y[mask].any() or y[mask].all():
            raise DataError(f"the {name} split needs both fraud and genuine transactions")
    names = list(FEATURE_NAMES)
    dtrain = xgb.DMatrix(matrix[train], label=y[train], feature_names=names, nthread=params.nthread)
    dvalid = xgb.DMatrix(matrix[valid], label=y[valid], feature_names=names, nthread=params.nthread)
    callbacks = [_Progress.make(progress, progress_every)] if progress else []
    booster = xgb.train(
        params.xgb_params(),
        dtrain,
        num_boost_round=params.max_rounds,
        evals=[(dvalid, "valid")],
        early_stopping_rounds=params.early_stopping_rounds,
        verbose_eval=False,
        callbacks=callbacks,
    )
    best = int(booster.best_iteration)
    rounds_run = int(booster.num_boosted_rounds())
    best_score = float(booster.best_score)
    booster = booster[: best + 1]  # keep only the trees up to the best round
    scores = booster.inplace_predict(matrix[valid])
    return FitResult(
        booster=booster,
        best_round=best,
        rounds_run=rounds_run,
        valid_aucpr=best_score,
        train_rows=int(train.sum()),
        valid_rows=int(valid.sum()),
        valid_start_ms=cut,
        valid_scores=np.asarray(scores, dtype=np.float64),
        valid_mask=valid,
    )
