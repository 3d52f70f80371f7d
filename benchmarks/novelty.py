"""Fraud no label has shown: leave one scenario out of training, measure what the anomaly
signal adds at the same alert budget.

    python -m benchmarks.novelty --scenario account_takeover --out result.json
    python -m benchmarks.novelty --handbook transactions_2018-04_2018-07.parquet \
        --scenario compromised_card --train-start 2018-05-08 --test-start 2018-07-11 \
        --test-end 2018-07-25

Generator history (all scenarios) is replayed through the feature engine; the supervised model
and the anomaly detector are fitted on the rows before the test start *except the left-out
scenario's* (the model never sees one of them, as fraud or otherwise); the test days hold every
scenario. At an alert budget of ``budget_share`` of the test rows, the model alone alerts on its
highest scores; with the anomaly signal, ``anomaly_share`` of that budget goes instead to the
most anomalous rows the model left. Reported: recall on the left-out scenario, overall recall
and precision, for both. The left-out scenario's labels still reach the merchant features, as
any label would in production.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ml_model.anomaly.detector import AnomalyDetector, combined_alerts, top_share
from ml_model.data.history import History
from ml_model.features import FeatureConfig, build
from ml_model.features.schema import DAY_MS
from ml_model.training.fit import TrainParams, fit


@dataclass(frozen=True)
class Split:
    """Rows of one experiment: features, labels, scenario names, event times."""

    matrix: np.ndarray
    is_fraud: np.ndarray
    scenario: np.ndarray
    event_ms: np.ndarray


def outcome(alerted: np.ndarray, is_fraud: np.ndarray, novel: np.ndarray) -> dict[str, float]:
    """Recall on the novel frauds, overall recall and precision of one set of alerts."""
    hits = alerted & is_fraud
    return {
        "alerts": int(alerted.sum()),
        "recall_novel": float((alerted & novel).sum() / max(int(novel.sum()), 1)),
        "recall": float(hits.sum() / max(int(is_fraud.sum()), 1)),
        "precision": float(hits.sum() / max(int(alerted.sum()), 1)),
    }


def evaluate(
    model_scores: np.ndarray,
    anomaly_scores: np.ndarray,
    is_fraud: np.ndarray,
    novel: np.ndarray,
    *,
    budget_share: float,
    anomaly_shares: Sequence[float],
) -> dict[str, Any]:
    """The model alone and with each share of the budget given to the anomaly signal."""
    budget = round(budget_share * len(model_scores))
    result: dict[str, Any] = {
        "budget": budget,
        "model_only": outcome(top_share(model_scores, budget), is_fraud, novel),
        "anomaly_alone": outcome(top_share(anomaly_scores, budget), is_fraud, novel),
        "with_anomaly": {},
    }
    for share in anomaly_shares:
        by_model, by_anomaly = combined_alerts(
            model_scores, anomaly_scores, budget, round(share * len(model_scores))
        )
        row = outcome(by_model | by_anomaly, is_fraud, novel)
        row["anomaly_alert_precision"] = (
            float(is_fraud[by_anomaly].mean()) if by_anomaly.any() else 0.0
        )
        result["with_anomaly"][f"{share:g}"] = row
    return result


def leave_one_out(
    data: Split,
    scenario: str,
    test_start_ms: int,
    *,
    params: TrainParams,
    train_start_ms: int | None = None,
    test_end_ms: int | None = None,
    budget_share: float = 0.015,
    anomaly_shares: Sequence[float] = (0.0015, 0.003, 0.005),
) -> dict[str, Any]:
    """Fit without ``scenario`` on ``[train_start_ms, test_start_ms)``; evaluate on
    ``[test_start_ms, test_end_ms)`` (open ends: all of the data)."""
    first = data.event_ms.min() if train_start_ms is None else train_start_ms
    last = data.event_ms.max() + 1 if test_end_ms is None else test_end_ms
    train = (data.event_ms >= first) & (data.event_ms < test_start_ms)
    train &= data.scenario != scenario
    test = (data.event_ms >= test_start_ms) & (data.event_ms < last)
    result = fit(data.matrix[train], data.is_fraud[train], data.event_ms[train], params)
    detector = AnomalyDetector.fit(data.matrix[train])
    scores = np.asarray(result.booster.inplace_predict(data.matrix[test]), dtype=np.float64)
    anomaly = detector.score(data.matrix[test])
    is_fraud = data.is_fraud[test]
    novel = is_fraud & (data.scenario[test] == scenario)
    return {
        "scenario": scenario,
        "train_rows": int(train.sum()),
        "train_frauds": int(data.is_fraud[train].sum()),
        "test_rows": int(test.sum()),
        "test_frauds": int(is_fraud.sum()),
        "novel_frauds": int(novel.sum()),
        "budget_share": budget_share,
        **evaluate(
            scores,
            anomaly,
            is_fraud,
            novel,
            budget_share=budget_share,
            anomaly_shares=anomaly_shares,
        ),
    }


def generator_split(cards: int, days: float, seed: int, fraud_rate: float) -> Split:
    """Generator history (every scenario, labels a minute late) and its features."""
    from ml_model.data.history import from_generator
    from producer.history import generate_history

    table = generate_history(
        cards=cards,
        days=days,
        seed=seed,
        fraud_rate=fraud_rate,
        start=datetime(2026, 1, 1, tzinfo=UTC),
    )
    history: History = from_generator(table, "generator")
    config = FeatureConfig(label_delay_ms=60_000, merchant_bucket_ms=60_000)
    tx = history.transactions
    return Split(
        matrix=build(tx, history.labels(), config),
        is_fraud=tx["is_fraud"].to_numpy(dtype=bool),
        scenario=tx["scenario"].to_numpy(dtype=str),
        event_ms=tx["event_ms"].to_numpy(),
    )


def handbook_split(path: Path) -> Split:
    """The handbook's transactions (labels 7 days late, as its protocol has them)."""
    from ml_model.data.history import load_history

    history = load_history(path, "handbook", label_delay_ms=7 * DAY_MS)
    tx = history.transactions
    return Split(
        matrix=build(tx, history.labels(), FeatureConfig(label_delay_ms=7 * DAY_MS)),
        is_fraud=tx["is_fraud"].to_numpy(dtype=bool),
        scenario=tx["scenario"].to_numpy(dtype=str),
        event_ms=tx["event_ms"].to_numpy(),
    )


def _day_ms(text: str | None) -> int | None:
    if text is None:
        return None
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", action="append", required=True, help="left out (repeat)")
    parser.add_argument("--cards", type=int, default=3_000)
    parser.add_argument("--days", type=float, default=28.0, help="history before the test")
    parser.add_argument("--test-days", type=float, default=7.0)
    parser.add_argument("--fraud-rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.015, help="alerts, share of rows")
    parser.add_argument("--handbook", type=Path, help="the handbook's Parquet instead")
    parser.add_argument("--train-start", help="YYYY-MM-DD (handbook; default: its start)")
    parser.add_argument("--test-start", help="YYYY-MM-DD (handbook)")
    parser.add_argument("--test-end", help="YYYY-MM-DD, exclusive (handbook; default: its end)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.handbook is not None:
        if args.test_start is None:
            parser.error("--handbook needs --test-start")
        data = handbook_split(args.handbook)
        test_start = _day_ms(args.test_start)
    else:
        data = generator_split(args.cards, args.days + args.test_days, args.seed, args.fraud_rate)
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=args.days)
        test_start = int(start.timestamp() * 1000) // DAY_MS * DAY_MS
    params = TrainParams(nthread=1, max_rounds=400, early_stopping_rounds=40)
    results = [
        leave_one_out(
            data,
            scenario,
            int(test_start or 0),
            params=params,
            budget_share=args.budget,
            train_start_ms=_day_ms(args.train_start),
            test_end_ms=_day_ms(args.test_end),
        )
        for scenario in args.scenario
    ]
    report(args, results)


def report(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    """Print the study's arguments and results as JSON, and write them to ``--out`` if given."""
    text = json.dumps(
        {
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "results": results,
        },
        indent=2,
    )
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":  # pragma: no cover
    main()
