"""Backtest: train on one window, score a later one, compare with the handbook's protocol.

Protocol (the handbook's, chapter 3, generalised to a longer training window):

* features for every transaction come from the shared feature code, replaying all history up
  to the end of the test window; merchant risk sees a label only from its label time
  (transaction time + delay), so nothing from the future leaks into a test feature;
* training rows are transactions in ``[train_start, train_end]`` whose labels are known by the
  start of the test window (all of them when ``train_end + delay <= test_start``);
* the test set drops cards already known to be compromised: a card with a fraud on a day from
  ``test_start - delay - known_days`` up to ``test_day - delay - 1`` (the handbook's rule, with
  ``known_days`` = its 7-day training window), so the test set is the one the handbook would
  use for this split whatever our training window;
* metrics: AUC ROC, average precision, card precision@100 over the test set. The best any
  model can reach when it only sees delayed labels is also reported (see
  :func:`delayed_label_ceiling`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ml_model.data.history import History, format_ms
from ml_model.errors import DataError
from ml_model.features.builder import Progress
from ml_model.features.schema import DAY_MS, FeatureConfig
from ml_model.training.fit import FitResult, RoundProgress, TrainParams, fit
from ml_model.training.metrics import card_precision_at_k
from ml_model.training.pipeline import evaluate, feature_matrix

#: The handbook's published results (chapter 3 baselines and chapter 5 best XGBoost).
HANDBOOK_RESULTS: tuple[tuple[str, float, float, float], ...] = (
    ("handbook logistic regression (ch. 3)", 0.871, 0.606, 0.291),
    ("handbook random forest (ch. 3)", 0.867, 0.658, 0.287),
    ("handbook XGBoost (ch. 3)", 0.862, 0.639, 0.273),
    ("handbook XGBoost, prequential selection (ch. 5)", 0.869, 0.687, 0.303),
)
HANDBOOK_BEST = {"auc_roc": 0.871, "average_precision": 0.687, "card_precision_at_100": 0.303}
#: Length of the handbook's training window, which bounds its "known compromised cards".
HANDBOOK_KNOWN_DAYS = 7

Say = Callable[[str], None]


@dataclass(frozen=True)
class Windows:
    """Backtest windows as epoch ms; ends are exclusive."""

    train_start: int
    train_end: int
    test_start: int
    test_end: int

    def check(self) -> None:
        if not self.train_start < self.train_end <= self.test_start < self.test_end:
            raise DataError("windows must satisfy train start < train end <= test start < test end")

    def to_dict(self) -> dict[str, str]:
        return {
            "train_start": format_ms(self.train_start),
            "train_end_exclusive": format_ms(self.train_end),
            "test_start": format_ms(self.test_start),
            "test_end_exclusive": format_ms(self.test_end),
        }


@dataclass
class BacktestResult:
    metrics: dict[str, float]
    ceiling: dict[str, float]
    scores: pd.DataFrame
    fit: FitResult
    windows: Windows
    delay_days: int
    train_rows: int
    excluded_rows: int
    per_day_card_precision: list[float]

    def summary(self) -> dict[str, Any]:
        return {
            "windows": self.windows.to_dict(),
            "delay_days": self.delay_days,
            "train_rows": self.train_rows,
            "best_round": self.fit.best_round,
            "test_rows": int(self.metrics["rows"]),
            "test_frauds": int(self.metrics["frauds"]),
            "excluded_known_compromised_rows": self.excluded_rows,
            "metrics": self.metrics,
            "delayed_label_ceiling": self.ceiling,
            "card_precision_at_100_per_day": self.per_day_card_precision,
            "handbook_best": HANDBOOK_BEST,
        }


def known_compromised(
    days: np.ndarray,
    cards: np.ndarray,
    frauds: np.ndarray,
    test: np.ndarray,
    *,
    first_day: int,
    delay_days: int,
) -> np.ndarray:
    """Mask of test rows whose card had a fraud on a day in ``[first_day, day - delay - 1]``,
    i.e. a card already known to be compromised on that test day (the handbook's rule)."""
    excluded = np.zeros(len(days), dtype=bool)
    for day in np.unique(days[test]):
        window = frauds & (days >= first_day) & (days <= day - delay_days - 1)
        rows = test & (days == day)
        excluded[rows] = np.isin(cards[rows], np.unique(cards[window]))
    return excluded


def delayed_label_ceiling(
    scenario: np.ndarray,
    merchants: np.ndarray,
    event_ms: np.ndarray,
    frauds: np.ndarray,
    history: pd.DataFrame,
    delay_days: int,
) -> np.ndarray:
    """Frauds no model can see with delayed labels: handbook "compromised terminal" frauds
    less than ``delay_days`` after the first fraud of that terminal's run (its labels are not
    known yet, and those transactions are otherwise ordinary)."""
    runs = history[history["scenario"] == "compromised_terminal"]
    first_seen = runs.groupby("merchant_id")["event_ms"].apply(np.sort).to_dict()
    hidden = np.zeros(len(scenario), dtype=bool)
    horizon = 28 * DAY_MS  # a handbook terminal stays compromised for 28 days
    for i in np.flatnonzero(frauds & (scenario == "compromised_terminal")):
        times = first_seen.get(merchants[i])
        if times is None:
            continue
        t = event_ms[i]
        recent = times[(times <= t) & (t - times < horizon)]
        if len(recent) and t - recent.min() < delay_days * DAY_MS:
            hidden[i] = True
    return hidden


def prepare(
    history: History,
    end_ms: int,
    config: FeatureConfig,
    *,
    say: Say | None = None,
    progress: Progress | None = None,
) -> tuple[History, np.ndarray]:
    """History up to ``end_ms`` and its feature matrix (valid for any split ending by then:
    a row's features depend only on what came before it)."""
    history = history.before(end_ms)
    if say:
        say(f"building features for {len(history):,} transactions ({history.source})")
    return history, feature_matrix(history, config, progress)


def evaluate_split(
    history: History,
    matrix: np.ndarray,
    windows: Windows,
    *,
    delay_days: int,
    params: TrainParams,
    known_days: int = HANDBOOK_KNOWN_DAYS,
    exclude_known: bool = True,
    say: Say | None = None,
    round_progress: RoundProgress | None = None,
) -> BacktestResult:
    """Train and test one split on precomputed features (see :func:`prepare`)."""
    tell = say or (lambda _text: None)
    windows.check()
    tx = history.transactions
    event_ms = tx["event_ms"].to_numpy()
    labels = tx["is_fraud"].to_numpy(dtype=bool)
    known_by_test = tx["label_ms"].to_numpy() <= windows.test_start
    train = (event_ms >= windows.train_start) & (event_ms < windows.train_end) & known_by_test
    test = (event_ms >= windows.test_start) & (event_ms < windows.test_end)
    if not test.any():
        raise DataError(f"{history.source} has no transactions in the test window")
    if not train.any():
        raise DataError("no labelled transactions in the training window")
    tell(
        f"training on {int(train.sum()):,} transactions ({int(labels[train].sum()):,} frauds), "
        f"testing {windows.to_dict()['test_start'][:10]} .. "
        f"{format_ms(windows.test_end - 1)[:10]}"
    )
    result = fit(matrix[train], labels[train], event_ms[train], params, progress=round_progress)

    days = event_ms // DAY_MS
    cards = tx["card_id"].to_numpy()
    excluded = np.zeros(len(tx), dtype=bool)
    if exclude_known:
        first_day = windows.test_start // DAY_MS - delay_days - known_days
        excluded = known_compromised(
            days, cards, labels, test, first_day=first_day, delay_days=delay_days
        )
    kept = test & ~excluded
    scores = result.booster.inplace_predict(matrix[kept]).astype(np.float64)
    metrics = evaluate(labels[kept], scores, days[kept], cards[kept])
    _, per_day = card_precision_at_k(days[kept], cards[kept], labels[kept], scores)

    ceiling: dict[str, float] = {}
    if "scenario" in tx.columns and (tx["scenario"] == "compromised_terminal").any():
        hidden = delayed_label_ceiling(
            tx["scenario"].to_numpy()[kept],
            tx["merchant_id"].to_numpy()[kept],
            event_ms[kept],
            labels[kept],
            tx,
            delay_days,
        )
        oracle = (labels[kept] & ~hidden).astype(np.float64)
        ceiling = {
            "card_precision_at_100": card_precision_at_k(
                days[kept], cards[kept], labels[kept], oracle
            )[0],
            "hidden_fraud_rows": float(hidden.sum()),
        }
    frame = pd.DataFrame(
        {
            "transaction_id": tx["transaction_id"].to_numpy()[kept],
            "score": scores,
            "card_id": cards[kept],
            "event_time": pd.to_datetime(event_ms[kept], unit="ms", utc=True),
            "is_fraud": labels[kept],
        }
    )
    return BacktestResult(
        metrics=metrics,
        ceiling=ceiling,
        scores=frame,
        fit=result,
        windows=windows,
        delay_days=delay_days,
        train_rows=int(train.sum()),
        excluded_rows=int(excluded.sum()),
        per_day_card_precision=per_day,
    )


def run_backtest(
    history: History,
    windows: Windows,
    *,
    delay_days: int,
    params: TrainParams,
    config: FeatureConfig | None = None,
    known_days: int = HANDBOOK_KNOWN_DAYS,
    exclude_known: bool = True,
    weeks: int = 1,
    say: Say | None = None,
    progress: Progress | None = None,
    round_progress: RoundProgress | None = None,
) -> list[BacktestResult]:
    """The split as given, then (``weeks`` > 1) the same split shifted back one week at a
    time, training start fixed; features are built once. The first result is the split
    as given."""
    windows.check()
    config = config or FeatureConfig(label_delay_ms=delay_days * DAY_MS)
    cut, matrix = prepare(history, windows.test_end, config, say=say, progress=progress)
    results = []
    for week in range(weeks):
        shift = week * 7 * DAY_MS
        shifted = Windows(
            windows.train_start,
            windows.train_end - shift,
            windows.test_start - shift,
            windows.test_end - shift,
        )
        results.append(
            evaluate_split(
                cut,
                matrix,
                shifted,
                delay_days=delay_days,
                params=params,
                known_days=known_days,
                exclude_known=exclude_known,
                say=say,
                round_progress=round_progress,
            )
        )
    return results


def write_scores(frame: pd.DataFrame, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), out)
    return out
