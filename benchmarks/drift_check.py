"""How the monitor's PSI reacts to drift, offline: what the alert thresholds mean in windows.

    python -m benchmarks.drift_check --out result.json

A model is trained on generator history (its validation rows give the monitoring baseline, as
``fraudstream train`` records it); then the days after the training data are cut into windows
of ``--window`` transactions, as the processor cuts them, three times: unchanged, with every
amount multiplied by ``--amount-factor`` from the first test day on, and with the fraud rate
multiplied by ``--fraud-factor`` (a new population generated with that rate). Reported: the
score's PSI and the largest top-feature PSI per window.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ml_model.data.history import History, from_generator
from ml_model.features import FEATURE_NAMES, FeatureConfig, build
from ml_model.monitoring import Baseline, bin_counts, build_baseline, psi, top_features
from ml_model.training.fit import TrainParams, fit

START = datetime(2026, 1, 1, tzinfo=UTC)
CONFIG = FeatureConfig(label_delay_ms=60_000, merchant_bucket_ms=60_000)


def window_psi(
    baseline: Baseline, scores: np.ndarray, matrix: np.ndarray, window: int
) -> list[dict[str, float]]:
    """PSI of the score and the largest top-feature PSI per whole window of rows, each against
    the baseline's shares for the hours of day the window holds (as the processor measures)."""
    names = list(FEATURE_NAMES)
    hour = np.clip(matrix[:, names.index("hour_of_day")].astype(np.int64), 0, 23)
    out = []
    for start in range(0, len(scores) - window + 1, window):
        part = slice(start, start + window)
        hours = np.bincount(hour[part], minlength=24)
        features = [
            psi(bins.expected_for(hours), bin_counts(matrix[part, names.index(name)], bins.edges))
            for name, bins in baseline.features.items()
        ]
        out.append(
            {
                "score": psi(
                    baseline.score.expected_for(hours),
                    bin_counts(scores[part], baseline.score.edges),
                ),
                "max_feature": max(features, default=float("nan")),
            }
        )
    return out


def history(cards: int, days: float, seed: int, fraud_rate: float) -> History:
    from producer.history import generate_history

    table = generate_history(cards=cards, days=days, seed=seed, fraud_rate=fraud_rate, start=START)
    return from_generator(table, "generator")


def run(args: argparse.Namespace) -> dict[str, Any]:
    split_ms = int((START + timedelta(days=args.days)).timestamp() * 1000)
    base = history(args.cards, args.days + args.test_days, args.seed, args.fraud_rate)
    tx = base.transactions
    matrix = build(tx, base.labels(), CONFIG)
    event_ms = tx["event_ms"].to_numpy()
    train = event_ms < split_ms
    labels = tx["is_fraud"].to_numpy(dtype=bool)
    params = TrainParams(nthread=1, max_rounds=300, early_stopping_rounds=30)
    result = fit(matrix[train], labels[train], event_ms[train], params)
    names = list(FEATURE_NAMES)
    baseline = build_baseline(
        result.valid_scores,
        matrix[train][result.valid_mask],
        names,
        top_features(result.booster.get_score(importance_type="total_gain"), names),
        event_ms=event_ms[train][result.valid_mask],
    )

    def windows(frame_matrix: np.ndarray, rows: np.ndarray) -> list[dict[str, float]]:
        scores = np.asarray(result.booster.inplace_predict(frame_matrix[rows]), dtype=np.float64)
        return window_psi(baseline, scores, frame_matrix[rows], args.window)

    test = ~train
    shifted = tx.copy()
    shifted.loc[test, "amount"] = shifted.loc[test, "amount"] * args.amount_factor
    amount_matrix = build(shifted, base.labels(), CONFIG)
    fraudier = history(
        args.cards, args.days + args.test_days, args.seed, args.fraud_rate * args.fraud_factor
    )
    f_matrix = build(fraudier.transactions, fraudier.labels(), CONFIG)
    f_test = fraudier.transactions["event_ms"].to_numpy() >= split_ms
    return {
        "args": vars(args) | {"out": str(args.out)},
        "top_features": list(baseline.features),
        "unchanged": windows(matrix, test),
        f"amount_x{args.amount_factor:g}": windows(amount_matrix, test),
        f"fraud_rate_x{args.fraud_factor:g}": windows(f_matrix, f_test),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=3_000)
    parser.add_argument("--days", type=float, default=21.0)
    parser.add_argument("--test-days", type=float, default=3.0)
    parser.add_argument("--fraud-rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--window", type=int, default=5_000)
    parser.add_argument("--amount-factor", type=float, default=2.0)
    parser.add_argument("--fraud-factor", type=float, default=5.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    text = json.dumps(run(args), indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":  # pragma: no cover
    main()
