"""Champion against challenger on the same labelled transactions: pure logic.

Both models scored every row (the challenger in shadow), so the figures compare like for like:
AUC ROC, average precision and card precision@100 of each score, precision and recall of each
model alone at its own review threshold (score >= review, from its manifest), and of the
champion's actual decisions (policy: thresholds, budget, rules).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ml_model.features.schema import DAY_MS
from ml_model.training.metrics import auc_roc, average_precision, card_precision_at_k

COLUMNS = ("card_id", "event_ms", "champion_score", "challenger_score", "decision", "is_fraud")


def _alerts(flagged: np.ndarray, fraud: np.ndarray) -> dict[str, float | int | None]:
    hits = int(np.count_nonzero(flagged & fraud))
    alerts = int(np.count_nonzero(flagged))
    frauds = int(np.count_nonzero(fraud))
    return {
        "alerts": alerts,
        "precision": hits / alerts if alerts else None,
        "recall": hits / frauds if frauds else None,
    }


def _none(value: float) -> float | None:
    return None if math.isnan(value) else value


def score_figures(
    frame: pd.DataFrame, column: str, review: float | None, k: int = 100
) -> dict[str, Any]:
    fraud = frame["is_fraud"].to_numpy(dtype=bool)
    scores = frame[column].to_numpy(dtype=np.float64)
    days = frame["event_ms"].to_numpy(dtype=np.int64) // DAY_MS
    cp, _ = card_precision_at_k(days, frame["card_id"].to_numpy(), fraud, scores, k)
    figures: dict[str, Any] = {
        "auc_roc": _none(auc_roc(fraud, scores)),
        "average_precision": _none(average_precision(fraud, scores)),
        f"card_precision_at_{k}": _none(cp),
        "review_threshold": review,
    }
    if review is not None:
        figures |= _alerts(scores >= review, fraud)
    return figures


def compare_models(
    frame: pd.DataFrame,
    *,
    champion_review: float | None = None,
    challenger_review: float | None = None,
) -> dict[str, Any]:
    """The figures of both models on ``frame`` (:data:`COLUMNS`, labelled rows only)."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"comparison rows lack: {', '.join(missing)}")
    fraud = frame["is_fraud"].to_numpy(dtype=bool)
    policy = frame["decision"].isin(["review", "block"]).to_numpy()
    champion = score_figures(frame, "champion_score", champion_review)
    challenger = score_figures(frame, "challenger_score", challenger_review)
    better = (
        challenger["average_precision"] is not None
        and champion["average_precision"] is not None
        and challenger["average_precision"] > champion["average_precision"]
    )
    return {
        "rows": len(frame),
        "frauds": int(fraud.sum()),
        "champion": champion,
        "champion_policy": _alerts(policy, fraud),
        "challenger": challenger,
        "challenger_better": bool(better),
    }


def format_comparison(result: dict[str, Any], versions: tuple[str, str]) -> str:
    """A table a person reads: one line per model, then the verdict on average precision."""

    def cell(value: Any, pct: bool = False) -> str:
        if value is None:
            return "-"
        if isinstance(value, int):
            return f"{value:,}"
        return f"{value:.1%}" if pct else f"{value:.4f}"

    lines = [
        f"{result['rows']:,} labelled transactions, {result['frauds']:,} fraud",
        f"{'':34}{'AUC':>8}{'AP':>8}{'CP@100':>8}{'alerts':>9}{'precision':>11}{'recall':>8}",
    ]
    rows = [
        (f"champion   {versions[0]}", result["champion"]),
        (f"challenger {versions[1]}", result["challenger"]),
        ("champion's decisions (policy)", result["champion_policy"]),
    ]
    for name, f in rows:
        lines.append(
            f"{name[:33]:34}{cell(f.get('auc_roc')):>8}{cell(f.get('average_precision')):>8}"
            f"{cell(f.get('card_precision_at_100')):>8}{cell(f.get('alerts')):>9}"
            f"{cell(f.get('precision'), True):>11}{cell(f.get('recall'), True):>8}"
        )
    verdict = "better" if result["challenger_better"] else "not better"
    lines.append(f"challenger is {verdict} on average precision")
    return "\n".join(lines)
