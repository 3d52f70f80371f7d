"""Model monitoring in the stream: drift against the training baseline, the alert rate against
the review budget, and the decisions' precision and recall as labels arrive.

Pure logic over each micro-batch's columns (numpy and Arrow, no Python loop per transaction);
the sink feeds it and the exporter, the lake and the alarms read what it reports.

* **Drift**: every transaction's score and the baseline's top features are counted into the
  baseline's bins (:mod:`ml_model.monitoring`); when a window of at least ``window_rows``
  transactions (whole micro-batches) has passed, its PSI per column is reported and the counts
  start again. The expected shares are those of the hours of day the window holds (its
  ``hour_of_day`` feature), as the baseline has them per hour: a window of a few night hours is
  compared with the baseline's night, not with whole days.
* **Alert rate**: the window's share of review and of block decisions, beside the review
  budget of the rules file.
* **Warm-up**: the baseline's rows had ``history_days`` of history behind them; a processor
  whose feature state is younger (a first start, a new cell) sees colder cards, and its PSI
  measures that, not drift (0.2-0.6 on unchanged traffic, docs/model.md). Each report says
  how many days the state covers and whether that reaches the baseline's (``warm``); the drift
  alarms (Prometheus rules, CloudWatch figures) hold until it does. PSI is still reported.
* **Label-delayed quality**: each decided transaction's id, score and decision wait in a
  bounded buffer (the last ``pending_rows`` transactions); a label that arrives for one of them
  joins its decision, and precision, recall and average precision are measured over the last
  ``label_window_rows`` labelled decisions. A label whose transaction has left the buffer (a
  label delay longer than the buffer covers) is counted as unmatched, not guessed: for delays
  of days, measure the lake instead (``fraudstream rules test``).

The state is in memory and starts empty after a restart: monitoring is an estimate of recent
traffic, not an exactly-once record (the lake is that).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from ml_model.features.schema import DAY_MS, LOOKBACK_MS
from ml_model.monitoring import Baseline, bin_counts, psi
from ml_model.monitoring.baseline import HOURS, SCORE
from ml_model.training.metrics import average_precision
from processor.recent_decisions import RecentDecisions

if TYPE_CHECKING:
    from fraudstream.settings import Settings
    from ml_model.artifact import ModelBundle
    from processor.decisions.config import DecisionConfig
    from processor.metrics import ProcessorMetrics

DEFAULT_WINDOW_ROWS = 5_000
DEFAULT_LABEL_WINDOW_ROWS = 20_000
DEFAULT_PENDING_ROWS = 200_000


@dataclass(frozen=True)
class WindowReport:
    """One closed window of traffic, and the labelled decisions known when it closed."""

    batch_id: int
    rows: int
    psi: dict[str, float]
    alert_rate: dict[str, float]
    review_budget: float | None
    labelled: int
    frauds: int
    precision: float | None
    recall: float | None
    average_precision: float | None
    unmatched_labels: int
    baseline: Baseline = field(repr=False)
    state_days: float | None = None
    """Days of event time the processor's feature state covers (None: not known)."""

    @property
    def warm(self) -> bool:
        """Whether the state covers the history the baseline had (or the features' whole
        lookback, beyond which more history changes no feature), so PSI means drift."""
        if self.baseline.history_days is None:
            return True
        needed = min(self.baseline.history_days, LOOKBACK_MS / DAY_MS)
        return self.state_days is not None and self.state_days >= needed

    def lake_rows(self, model_version: str, computed_at: datetime) -> pa.Table:
        """The window as rows of the lake's ``model_monitoring`` table (one per measure)."""
        measures: list[tuple[str, str, float | None]] = [
            ("psi", name, value) for name, value in self.psi.items()
        ]
        measures += [("alert_rate", d, v) for d, v in self.alert_rate.items()]
        measures += [
            ("review_budget", "", self.review_budget),
            ("labelled", "", float(self.labelled)),
            ("frauds", "", float(self.frauds)),
            ("precision", "", self.precision),
            ("recall", "", self.recall),
            ("average_precision", "", self.average_precision),
            ("unmatched_labels", "", float(self.unmatched_labels)),
            ("state_days", "", self.state_days),
            ("warm", "", float(self.warm)),
            ("baseline_history_days", "", self.baseline.history_days),
            ("baseline_alert_rate", "", self.baseline.alert_rate),
            ("baseline_precision", "", self.baseline.precision),
            ("baseline_recall", "", self.baseline.recall),
        ]
        n = len(measures)
        return pa.table(
            {
                "computed_at": pa.array([computed_at] * n, pa.timestamp("us", tz="UTC")),
                "model_version": pa.array([model_version] * n, pa.string()),
                "window_rows": pa.array([self.rows] * n, pa.int64()),
                "measure": pa.array([m for m, _, _ in measures], pa.string()),
                "subject": pa.array([s for _, s, _ in measures], pa.string()),
                "value": pa.array([v for _, _, v in measures], pa.float64()),
            }
        )


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value


class ModelMonitor:
    """Feed it each batch with :meth:`observe`; it returns a report when a window closes."""

    def __init__(
        self,
        baseline: Baseline,
        feature_names: list[str],
        *,
        review_budget: float | None = None,
        window_rows: int = DEFAULT_WINDOW_ROWS,
        label_window_rows: int = DEFAULT_LABEL_WINDOW_ROWS,
        pending_rows: int = DEFAULT_PENDING_ROWS,
    ) -> None:
        if min(window_rows, label_window_rows, pending_rows) < 1:
            raise ValueError("window sizes must be positive")
        missing = [n for n in baseline.features if n not in feature_names]
        if missing:
            raise ValueError(f"baseline features the model does not have: {missing}")
        self.baseline = baseline
        self.review_budget = review_budget
        self.window_rows = window_rows
        self.label_window_rows = label_window_rows
        self.pending_rows = pending_rows
        self._columns = {n: feature_names.index(n) for n in baseline.features}
        self._hour_column = (
            feature_names.index("hour_of_day") if "hour_of_day" in feature_names else None
        )
        self._bins = {SCORE: baseline.score, **baseline.features}
        self._reset_window()
        self._pending = RecentDecisions(pending_rows)
        self._labelled = np.zeros((0, 3))  # score, flagged, is_fraud
        self._unmatched = 0
        self._last_batch = -1

    def _reset_window(self) -> None:
        self._rows = 0
        self._decided = {"review": 0, "block": 0}
        self._counts = {n: np.zeros(len(b.edges) + 2, np.int64) for n, b in self._bins.items()}
        self._hours = np.zeros(HOURS, np.int64)

    def observe(
        self,
        batch_id: int,
        transaction_ids: pa.Array | pa.ChunkedArray,
        matrix: np.ndarray,
        scores: np.ndarray,
        reviewed: np.ndarray,
        blocked: np.ndarray,
        labels: pa.Table,
        state_days: float | None = None,
    ) -> WindowReport | None:
        """Count one batch: its decided transactions (ids, feature matrix, scores, review and
        block masks) and its first-time labels (``transaction_id``, ``is_fraud``); the
        feature state's depth after it (:meth:`FeatureEngine.history_days`).

        A batch id not above the last one seen (a failed batch run again) is not counted twice.
        """
        if batch_id <= self._last_batch:
            return None
        self._last_batch = batch_id
        self._count_traffic(matrix, scores, reviewed, blocked)
        self._remember(transaction_ids, scores, reviewed | blocked)
        self._join_labels(labels)
        if self._rows < self.window_rows:
            return None
        report = self._report(batch_id, state_days)
        self._reset_window()
        return report

    def _count_traffic(
        self, matrix: np.ndarray, scores: np.ndarray, reviewed: np.ndarray, blocked: np.ndarray
    ) -> None:
        self._rows += len(scores)
        self._decided["review"] += int(np.count_nonzero(reviewed))
        self._decided["block"] += int(np.count_nonzero(blocked))
        self._counts[SCORE] += bin_counts(scores, self._bins[SCORE].edges)
        for name, column in self._columns.items():
            self._counts[name] += bin_counts(matrix[:, column], self._bins[name].edges)
        if self._hour_column is not None and len(matrix):
            hour = np.clip(matrix[:, self._hour_column].astype(np.int64), 0, HOURS - 1)
            self._hours += np.bincount(hour, minlength=HOURS)

    def _remember(
        self, ids: pa.Array | pa.ChunkedArray, scores: np.ndarray, flagged: np.ndarray
    ) -> None:
        self._pending.add(ids, scores, flagged)

    def _join_labels(self, labels: pa.Table) -> None:
        if labels.num_rows == 0:
            return
        found, scores, flagged = self._pending.find(labels["transaction_id"])
        self._unmatched += int(np.count_nonzero(~found))
        if not found.any():
            return
        fraud = labels["is_fraud"].to_numpy(zero_copy_only=False)[found]
        joined = np.column_stack([scores, flagged, fraud]).astype(np.float64)
        self._labelled = np.vstack([self._labelled, joined])[-self.label_window_rows :]

    def _report(self, batch_id: int, state_days: float | None) -> WindowReport:
        scores = self._labelled[:, 0]
        flagged = self._labelled[:, 1].astype(bool)
        fraud = self._labelled[:, 2].astype(bool)
        hits = int(np.count_nonzero(flagged & fraud))
        frauds = int(np.count_nonzero(fraud))
        alerts = int(np.count_nonzero(flagged))
        unmatched, self._unmatched = self._unmatched, 0
        return WindowReport(
            batch_id=batch_id,
            rows=self._rows,
            psi={
                n: psi(self._bins[n].expected_for(self._hours), c) for n, c in self._counts.items()
            },
            alert_rate={d: n / self._rows for d, n in self._decided.items()},
            review_budget=self.review_budget,
            labelled=len(scores),
            frauds=frauds,
            precision=hits / alerts if alerts else None,
            recall=hits / frauds if frauds else None,
            average_precision=_none_if_nan(average_precision(fraud, scores)) if frauds else None,
            unmatched_labels=unmatched,
            baseline=self.baseline,
            state_days=state_days,
        )


def _known(value: float | None) -> float:
    return -1.0 if value is None else value


def export_start(metrics: ProcessorMetrics, monitor: ModelMonitor) -> None:
    """Set the gauges a fresh processor knows before its first window: the budget and the
    baseline; -1 for the label-delayed figures (unknown, not zero)."""
    metrics.metric("fraudstream_model_review_budget").set(_known(monitor.review_budget))
    baseline = monitor.baseline
    for measure, value in (
        ("alert_rate", baseline.alert_rate),
        ("precision", baseline.precision),
        ("recall", baseline.recall),
        ("history_days", baseline.history_days),
    ):
        metrics.metric("fraudstream_model_baseline").labels(measure=measure).set(_known(value))
    for name in ("precision", "recall", "average_precision", "state_days"):
        metrics.metric(f"fraudstream_model_{name}").set(-1)
    metrics.metric("fraudstream_model_warm").set(0)


def export(metrics: ProcessorMetrics, report: WindowReport) -> None:
    """Set the monitoring metrics of :mod:`fraudstream.metric_names` from a closed window."""
    metrics.metric("fraudstream_model_review_budget").set(_known(report.review_budget))
    for column, value in report.psi.items():
        metrics.metric("fraudstream_model_psi").labels(column=column).set(value)
    for decision, rate in report.alert_rate.items():
        metrics.metric("fraudstream_model_alert_rate").labels(decision=decision).set(rate)
    metrics.metric("fraudstream_model_precision").set(_known(report.precision))
    metrics.metric("fraudstream_model_recall").set(_known(report.recall))
    metrics.metric("fraudstream_model_average_precision").set(_known(report.average_precision))
    metrics.metric("fraudstream_model_labelled_decisions").set(report.labelled)
    metrics.metric("fraudstream_model_state_days").set(_known(report.state_days))
    metrics.metric("fraudstream_model_warm").set(int(report.warm))
    metrics.metric("fraudstream_model_unmatched_labels_total").inc(report.unmatched_labels)


def monitor_for(
    model: ModelBundle, rules: DecisionConfig, settings: Settings
) -> ModelMonitor | None:
    """The monitor of ``model`` (None when its manifest predates baselines: retrain it)."""
    baseline = Baseline.from_manifest(model.manifest)
    if baseline is None:
        return None
    return ModelMonitor(
        baseline,
        model.feature_names,
        review_budget=rules.budget.review_share if rules.budget is not None else None,
        window_rows=settings.monitor_window_rows,
    )
