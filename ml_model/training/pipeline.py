"""Train a model from labelled history and write the artifact (``fraudstream train``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ml_model.anomaly import AnomalyDetector
from ml_model.artifact import (
    ANOMALY_FILE,
    MODEL_NAME,
    booster_bytes,
    code_version,
    feature_descriptions,
    new_version,
    write_artifact,
)
from ml_model.data.history import History, format_ms
from ml_model.errors import DataError
from ml_model.features import FEATURE_NAMES, FeatureConfig, build
from ml_model.features.builder import Progress
from ml_model.monitoring import build_baseline, top_features
from ml_model.training.fit import FitResult, RoundProgress, TrainParams, fit
from ml_model.training.metrics import auc_roc, average_precision, card_precision_at_k
from ml_model.training.thresholds import Thresholds, choose_thresholds

Say = Callable[[str], None]


@dataclass
class TrainOutcome:
    archive: Path
    manifest: dict[str, Any]
    fit: FitResult
    thresholds: Thresholds


def evaluate(
    labels: np.ndarray, scores: np.ndarray, days: np.ndarray, cards: np.ndarray, k: int = 100
) -> dict[str, float]:
    """AUC ROC, average precision and card precision@k of one scored set."""
    cp, _ = card_precision_at_k(days, cards, labels, scores, k)
    return {
        "auc_roc": auc_roc(labels, scores),
        "average_precision": average_precision(labels, scores),
        f"card_precision_at_{k}": cp,
        "rows": float(len(labels)),
        "frauds": float(np.asarray(labels, dtype=bool).sum()),
    }


def _clean(metrics: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()}


def feature_matrix(
    history: History, config: FeatureConfig, progress: Progress | None = None
) -> np.ndarray:
    """Features of every transaction of ``history``, labels fed at their label times."""
    return build(history.transactions, history.labels(), config, progress=progress)


def train_model(
    history: History,
    *,
    out_dir: str | Path,
    config: FeatureConfig,
    params: TrainParams,
    train_start_ms: int | None = None,
    train_end_ms: int | None = None,
    alert_rate: float = 0.005,
    block_precision: float = 0.9,
    block_confidence: float | None = 0.95,
    say: Say | None = None,
    progress: Progress | None = None,
    round_progress: RoundProgress | None = None,
    anomaly_share: float | None = 0.003,
) -> TrainOutcome:
    """Build features over ``history`` (all of it is warm-up), train on ``[start, end)``,
    choose thresholds on the validation split, fit the anomaly detector on the same rows (its
    threshold: the score ``anomaly_share`` of them reach; None: no detector) and write the
    artifact to ``out_dir``."""
    tell = say or (lambda _text: None)
    start = history.start_ms if train_start_ms is None else train_start_ms
    end = history.end_ms if train_end_ms is None else train_end_ms
    history = history.before(end)
    tell(f"building features for {len(history):,} transactions ({history.source})")
    matrix = feature_matrix(history, config, progress)
    tx = history.transactions
    event_ms = tx["event_ms"].to_numpy()
    rows = event_ms >= start
    if rows.sum() == 0:
        raise DataError(f"no transactions between {format_ms(start)} and {format_ms(end)}")
    labels = tx["is_fraud"].to_numpy(dtype=bool)
    tell(
        f"training on {int(rows.sum()):,} transactions ({int(labels[rows].sum()):,} frauds) "
        f"from {format_ms(int(event_ms[rows].min()))} to {format_ms(int(event_ms[rows].max()))}"
    )
    result = fit(matrix[rows], labels[rows], event_ms[rows], params, progress=round_progress)
    valid_labels = labels[rows][result.valid_mask]
    thresholds = choose_thresholds(
        valid_labels,
        result.valid_scores,
        alert_rate=alert_rate,
        block_precision=block_precision,
        confidence=block_confidence,
    )
    sub = tx[rows][result.valid_mask]
    valid_metrics = evaluate(
        valid_labels,
        result.valid_scores,
        sub["event_ms"].to_numpy() // 86_400_000,
        sub["card_id"].to_numpy(),
    )
    flagged = result.valid_scores >= thresholds.review
    blocked = result.valid_scores >= thresholds.block
    queued = flagged & ~blocked

    def precision(mask: np.ndarray) -> float:
        return float(valid_labels[mask].mean()) if mask.any() else 0.0

    valid_metrics |= {
        "review_rate": float(queued.mean()),
        "review_precision": precision(queued),
        "block_rate": float(blocked.mean()),
        "block_precision": precision(blocked),
        "review_or_block_recall": float(flagged[valid_labels].mean()),
    }
    baseline = build_baseline(
        result.valid_scores,
        matrix[rows][result.valid_mask],
        list(FEATURE_NAMES),
        top_features(result.booster.get_score(importance_type="total_gain"), list(FEATURE_NAMES)),
        alert_rate=float(flagged.mean()),
        recall=valid_metrics["review_or_block_recall"],
        precision=precision(flagged),
        history_days=(result.valid_start_ms - history.start_ms) / 86_400_000,
        event_ms=event_ms[rows][result.valid_mask],
    )
    anomaly = None
    if anomaly_share is not None:
        tell(f"fitting the anomaly detector ({anomaly_share:.2%} of the rows above its threshold)")
        anomaly = AnomalyDetector.fit(matrix[rows], share=anomaly_share)
    raw = booster_bytes(result.booster)
    now = datetime.now(UTC)
    version = new_version(raw, now)
    import xgboost as xgb

    manifest: dict[str, Any] = {
        "name": MODEL_NAME,
        "version": version,
        "created_at": now.isoformat(timespec="seconds"),
        "feature_names": list(FEATURE_NAMES),
        "feature_descriptions": feature_descriptions(list(FEATURE_NAMES)),
        "feature_config": config.to_dict(),
        "data": {
            "source": history.source,
            "start": format_ms(int(event_ms[rows].min())),
            "end": format_ms(int(event_ms[rows].max())),
            "warmup_start": format_ms(history.start_ms),
            "train_rows": result.train_rows,
            "valid_rows": result.valid_rows,
            "valid_start": format_ms(result.valid_start_ms),
            "frauds": int(labels[rows].sum()),
        },
        "metrics": {"validation": _clean(valid_metrics)},
        "thresholds": thresholds.to_dict(),
        "training": {
            "params": params.to_dict(),
            "xgboost_params": params.xgb_params(),
            "best_round": result.best_round,
            "rounds_run": result.rounds_run,
            "valid_aucpr": result.valid_aucpr,
            "xgboost_version": xgb.__version__,
        },
        "monitoring": baseline.to_dict(),
        "code_version": code_version(),
        "content_types": ["text/csv", "application/json"],
    }
    if anomaly is not None:
        manifest["anomaly"] = {**anomaly.describe(), "file": ANOMALY_FILE}
    archive = write_artifact(result.booster, manifest, out_dir, anomaly)
    tell(f"wrote {archive} (version {version})")
    return TrainOutcome(archive=archive, manifest=manifest, fit=result, thresholds=thresholds)
