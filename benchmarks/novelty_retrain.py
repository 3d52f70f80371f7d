"""After the novel fraud is labelled: how much of it a retrained model catches.

    python -m benchmarks.novelty_retrain --scenario account_takeover --out result.json

The leave-one-out study (:mod:`benchmarks.novelty`) measures a scenario the model never
saw. Here the scenario "appears" ``days`` before the test start: its rows (with their labels)
from then on join the training rows, as the lake's labelled transactions would for
``fraudstream train --from-lake``; its earlier rows stay out. For each ``days`` (0: never
labelled, the leave-one-out model), the model and the anomaly detector are retrained and the
scenario's recall measured on the same test days at the same alert budget, model alone and with
a share of the budget for the anomaly signal.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.novelty import Split, evaluate, generator_split, report
from ml_model.anomaly.detector import AnomalyDetector
from ml_model.features.schema import DAY_MS
from ml_model.training.fit import TrainParams, fit


def after_labels(
    data: Split,
    scenario: str,
    test_start_ms: int,
    days: float,
    *,
    params: TrainParams,
    budget_share: float = 0.015,
    anomaly_shares: Sequence[float] = (0.0015,),
) -> dict[str, Any]:
    """Train on every row before ``test_start_ms`` except ``scenario``'s rows older than
    ``days`` before it; evaluate on the rows from ``test_start_ms``."""
    appeared = test_start_ms - round(days * DAY_MS)
    before = data.event_ms < test_start_ms
    train = before & ((data.scenario != scenario) | (data.event_ms >= appeared))
    test = ~before
    result = fit(data.matrix[train], data.is_fraud[train], data.event_ms[train], params)
    detector = AnomalyDetector.fit(data.matrix[train])
    scores = np.asarray(result.booster.inplace_predict(data.matrix[test]), dtype=np.float64)
    is_fraud = data.is_fraud[test]
    novel = is_fraud & (data.scenario[test] == scenario)
    return {
        "scenario": scenario,
        "labelled_days": days,
        "labelled_frauds": int((train & data.is_fraud & (data.scenario == scenario)).sum()),
        "train_rows": int(train.sum()),
        "test_rows": int(test.sum()),
        "novel_frauds": int(novel.sum()),
        "budget_share": budget_share,
        **evaluate(
            scores,
            detector.score(data.matrix[test]),
            is_fraud,
            novel,
            budget_share=budget_share,
            anomaly_shares=anomaly_shares,
        ),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", action="append", required=True, help="repeat for more")
    parser.add_argument(
        "--labelled-days",
        type=float,
        action="append",
        help="days of the scenario's labelled rows before the test (repeat; default 0 7 14 28)",
    )
    parser.add_argument("--cards", type=int, default=2_000)
    parser.add_argument("--days", type=float, default=28.0, help="history before the test")
    parser.add_argument("--test-days", type=float, default=7.0)
    parser.add_argument("--fraud-rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.015, help="alerts, share of rows")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    data = generator_split(args.cards, args.days + args.test_days, args.seed, args.fraud_rate)
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=args.days)
    test_start = int(start.timestamp() * 1000) // DAY_MS * DAY_MS
    params = TrainParams(nthread=1, max_rounds=400, early_stopping_rounds=40)
    results = [
        after_labels(data, scenario, test_start, days, params=params, budget_share=args.budget)
        for scenario in args.scenario
        for days in args.labelled_days or (0.0, 7.0, 14.0, args.days)
    ]
    report(args, results)


if __name__ == "__main__":  # pragma: no cover
    main()
