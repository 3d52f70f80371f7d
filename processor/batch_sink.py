"""The ``foreachBatch`` sink: everything after Spark, once per micro-batch, in columns.

For the batch's rows (transactions, labels, quarantined records), as Arrow columns end to end:

1. keep the transactions not processed before and not older than the watermark, and the
   labels not applied before (:class:`~processor.seen_ids.SeenIds`: Kinesis delivers at least
   once);
2. compute every transaction's features with the feature engine (:class:`~ml_model.features.
   FeatureEngine`, the code training replays), the new labels counting from their label time;
3. score the batch (endpoint, in-process fallback) and its anomaly (the model's anomaly
   detector, in-process), and decide (model thresholds, the review budget over the recent
   event hours, rules, then the anomaly signal's part of the budget:
   :mod:`processor.decisions.anomaly`);
4. count the decisions in the sliding windows and take the windows that closed;
5. write every transaction, new label, quarantined record and closed window to the lake and,
   at the same time on a thread of its own, review/block decisions to the alerts table;
6. save the batch's log (and now and then a snapshot) of the state, then report metrics.

Each step's end is a mark (``sink.timings`` names them) and, in the reliability tests only, a
possible crash point (:mod:`processor.crash`, ``FRAUDSTREAM_CRASH_AT``).

No step loops over rows in Python. Replays are safe: the lake's object names and the alerts'
keys derive from the batch id and the transactions, and a replayed batch starts from the state
saved before it (:mod:`processor.sink_state`), so it writes the same objects and items again.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudstream import lake_tables
from fraudstream.events import EVENT_FIELD_NAMES
from fraudstream.settings import Settings
from ml_model.artifact import ModelBundle
from ml_model.features import FEATURE_NAMES
from ml_model.scoring.client import ScoredBatch, ScoringClient
from processor.crash import from_setting
from processor.decisions import ModelReasons, RulesFile, decide, with_model_thresholds
from processor.decisions import columns as C
from processor.decisions.anomaly import (
    anomaly_candidates,
    budget_rank,
    flagged,
    review_anomalous,
)
from processor.decisions.budget import review_candidates
from processor.decisions.engine import SEVERITY
from processor.decisions.inputs import decision_inputs
from processor.metrics import BatchSummary, ProcessorMetrics, report, summarize
from processor.model_monitor import WindowReport, export, export_start, monitor_for
from processor.rows import KIND, LABEL, QUARANTINE, TX
from processor.shadow import ShadowScorer
from processor.sink_state import SinkState, SinkStore, log_table
from processor.sinks.alerts import AlertWriter
from processor.sinks.cloudwatch import ModelMetricsPublisher
from processor.sinks.lake import LakeWriter
from processor.windows import WindowSpec

log = logging.getLogger(__name__)

UTC_US = pa.timestamp("us", tz="UTC")
ENGINE_COLUMNS = (  # what the engine, the windows and the state's log read
    "transaction_id",
    "card_id",
    "merchant_id",
    "amount",
    "event_ms",
    "merchant_category",
    "channel",
    "lat",
    "lon",
)


@dataclass
class SinkParts:
    """The sink's I/O, injected so tests and benchmarks can assemble their own."""

    lake: LakeWriter
    alerts: AlertWriter
    store: SinkStore
    scorer: ScoringClient
    rules: RulesFile
    metrics: ProcessorMetrics | None = None
    model_metrics: ModelMetricsPublisher | None = None  # CloudWatch, for the AWS alarms
    shadow: ShadowScorer | None = None  # a challenger scoring beside the champion


EVERY_BATCH = ("transactions", "labels", "quarantine", "aggregates")
"""The lake tables every batch writes (model monitoring and shadow scores only some)."""


def _rows(table: pa.Table, kind: str) -> pa.Table:
    return table.filter(pc.equal(table[KIND], kind))


def epoch_ms(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Epoch milliseconds of a timestamp column (naive means UTC)."""
    values = column.cast(UTC_US) if column.type != UTC_US else column
    micros: np.ndarray = pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False)
    return micros // 1000


def features_map(matrix: np.ndarray) -> pa.MapArray:
    """Each row's features as a ``map<string,double>`` (the lake's ``features`` column), built
    from flat arrays: the keys gathered from the names by index, not converted from a Python
    string per value (70 -> 5 ms a 20,000-row batch)."""
    rows, width = matrix.shape
    offsets = pa.array(np.arange(0, (rows + 1) * width, width, dtype=np.int32))
    names = pa.array(FEATURE_NAMES, pa.string())
    keys = names.take(pa.array(np.tile(np.arange(width, dtype=np.int32), rows)))
    values = pa.array(matrix.astype(np.float64, copy=False).ravel(), pa.float64())
    return pa.MapArray.from_arrays(offsets, keys, values)


def label_inputs(rows: pa.Table) -> pa.Table:
    """The label rows as the state reads them (times as epoch ms)."""
    return pa.table(
        {
            "transaction_id": rows.column("transaction_id"),
            "merchant_id": rows.column("merchant_id"),
            "event_ms": pa.array(epoch_ms(rows.column("label_event_time")), pa.int64()),
            "label_ms": pa.array(epoch_ms(rows.column("label_time")), pa.int64()),
            "is_fraud": rows.column("is_fraud"),
        }
    )


def lake_labels(rows: pa.Table) -> pa.Table:
    """The label rows as the lake's ``labels`` table stores them (the labelled transaction's
    time as ``event_time``)."""
    kept = [n for n in rows.column_names if n != "event_time"]
    return rows.select(kept).append_column("event_time", rows.column("label_event_time"))


def engine_inputs(rows: pa.Table) -> pa.Table:
    return rows.select([name for name in ENGINE_COLUMNS if name in rows.column_names])


class BatchSink:
    """One micro-batch at a time through :meth:`process`, in Arrow (Spark calls it through
    :class:`~processor.sink_pipeline.PipelinedSink`)."""

    def __init__(
        self,
        settings: Settings,
        model: ModelBundle,
        parts: SinkParts,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_batch: Callable[[BatchSummary], None] | None = None,
    ) -> None:
        if list(model.feature_names) != list(FEATURE_NAMES):
            raise ValueError(
                "the model was trained on different features than this code computes "
                f"(model {model.version}); retrain it with `fraudstream train`"
            )
        self.settings = settings
        self.model = model
        self.parts = parts
        self.clock = clock
        self.config = model.feature_config
        self.spec = WindowSpec(delay_ms=settings.watermark_ms)
        self.state: SinkState | None = None
        self._state_batch: int | None = None  # the batch the in-memory state is after
        self.last: BatchSummary | None = None
        self.timings: dict[str, float] = {}  # wall seconds per step of the last batch
        self.cpu_timings: dict[str, float] = {}  # this process's CPU seconds (all threads)
        self.on_batch = on_batch
        self.crash = from_setting(settings.crash_at)  # test only; None in production
        self._alerts = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sink-alerts")
        # in-process, like the shadow challenger: a forest of 100 trees costs ~2 µs a row
        # (docs/model.md), less than a second network call, and needs nothing but the bundle
        self.anomaly = model.anomaly if settings.anomaly_signal else None
        if settings.anomaly_signal and model.anomaly is None:
            log.warning(
                "model %s has no anomaly detector; retrain it for the 'anomalous' signal",
                model.version,
            )
        self.monitor = monitor_for(model, parts.rules.current(), settings)
        if self.monitor is None:
            log.warning(
                "model %s has no monitoring baseline; retrain it to monitor drift", model.version
            )
        elif parts.metrics is not None:
            export_start(parts.metrics, self.monitor)

    def close(self) -> None:
        """Stop the alert writer's and the scoring requests' threads (no batch comes after)."""
        self._alerts.shutdown(wait=True)
        self.parts.scorer.close()

    def open_lake(self, app_id: str) -> None:
        """Open the lake tables every batch writes, in the background: called as the query
        starts, so the first batch finds them open (``app_id``: the query's id)."""
        self.parts.lake.open_tables(app_id, EVERY_BATCH)

    def _state_for(self, batch_id: int) -> SinkState:
        """The state after batch ``batch_id - 1``: in memory when this sink ran that batch,
        else from the store (a restart, or a re-run of a batch that failed half way)."""
        if self.state is not None and self._state_batch == batch_id - 1:
            return self.state
        return self.parts.store.load_before(batch_id, self.config, self.spec)

    def process(self, table: pa.Table, batch_id: int) -> BatchSummary:
        started = time.monotonic()
        marks = [("start", started, time.process_time())]

        def mark(step: str) -> None:
            marks.append((step, time.monotonic(), time.process_time()))
            if self.crash is not None:
                self.crash.reached(step, batch_id)

        state = self._state_for(batch_id)
        self._state_batch = None  # in-memory state is mid-update until saved
        label_rows = _rows(table, LABEL)
        labels = label_inputs(label_rows)
        first_time = pa.array(state.admit_labels(labels), pa.bool_())
        fresh, label_rows = labels.filter(first_time), label_rows.filter(first_time)
        tx_rows = _rows(table, TX)
        kept, late_rows, duplicates = state.admit_transactions(tx_rows)
        if not kept.all():
            tx_rows = tx_rows.filter(pa.array(kept))
        tx = engine_inputs(tx_rows)
        mark("labels")
        matrix = state.features(tx, fresh)
        mark("features")
        scored = self.parts.scorer.score(matrix)
        mark("scoring")
        anomaly = self.anomaly.score(matrix) if self.anomaly is not None else None
        mark("anomaly")
        severity, reasons, candidates, counted = self._decide(state, tx, matrix, scored, anomaly)
        fraud = (severity >= SEVERITY[C.REVIEW]).astype(np.int64)
        closed, late = state.advance_windows(tx, fraud)
        transactions = self._transactions(tx_rows, matrix, scored, anomaly, severity, reasons)
        window = self._monitor(
            batch_id,
            tx_rows["transaction_id"],
            matrix,
            scored.scores,
            severity,
            fresh,
            state.engine.history_days(),
        )
        shadow = self.parts.shadow.rows(transactions, matrix) if self.parts.shadow else None
        mark("decisions")
        quarantine = _rows(table, QUARANTINE)
        tables = dict(
            zip(
                EVERY_BATCH,
                (transactions, lake_labels(label_rows), quarantine, closed),
                strict=True,
            )
        )
        if window is not None:
            tables["model_monitoring"] = window.lake_rows(self.model.version, self.clock())
        if shadow is not None:
            tables["shadow_scores"] = shadow
        # the alert items beside the lake's files and commits: two writers waiting on requests
        alerts = self._alerts.submit(self.parts.alerts.write, transactions)
        try:
            lake = self.parts.lake.write_tables(batch_id, tables)
        finally:
            wait([alerts])  # a failed lake never leaves an alert write running into a replay
        mark("lake")
        alerts.result()
        mark("alerts")
        logged = log_table(tx, fraud, fresh, scored.scores, candidates, *(counted or (None, None)))
        self.parts.store.save(batch_id, state, logged)
        mark("state")
        self.state, self._state_batch = state, batch_id
        self.timings = {b[0]: b[1] - a[1] for a, b in itertools.pairwise(marks)}
        self.cpu_timings = {b[0]: b[2] - a[2] for a, b in itertools.pairwise(marks)}
        summary = summarize(
            batch_id,
            transactions,
            quarantine,
            batch_seconds=time.monotonic() - started,
            committed_at=self.clock(),
            late_events=late_rows + late,
            duplicates=duplicates,
            lake_files=len(lake.written),
            lake_bytes=sum(o.bytes for o in lake.written),
        )
        report(summary, self.parts.metrics)
        if window is not None and self.parts.metrics is not None:
            export(self.parts.metrics, window)
        if window is not None and self.parts.model_metrics is not None:
            self.parts.model_metrics.publish(window, self.clock())
        self.last = summary
        if self.on_batch is not None:
            self.on_batch(summary)
        if self.crash is not None:  # the batch's last moment in the sink
            self.crash.reached("commit", batch_id)
        return summary

    def _monitor(
        self,
        batch_id: int,
        ids: pa.ChunkedArray,
        matrix: np.ndarray,
        scores: np.ndarray,
        severity: np.ndarray,
        labels: pa.Table,
        state_days: float | None,
    ) -> WindowReport | None:
        """Feed the model monitor (drift, alert rate, label-delayed quality); the closed
        window's report, if this batch closed one."""
        if self.monitor is None:
            return None
        budget = self.parts.rules.current().budget  # the rules file may have changed
        self.monitor.review_budget = budget.review_share if budget is not None else None
        return self.monitor.observe(
            batch_id,
            ids,
            matrix,
            scores,
            severity == SEVERITY[C.REVIEW],
            severity == SEVERITY[C.BLOCK],
            labels.select(["transaction_id", "is_fraud"]),
            state_days,
        )

    def _decide(
        self,
        state: SinkState,
        tx: pa.Table,
        matrix: np.ndarray,
        scored: ScoredBatch,
        anomaly: np.ndarray | None,
    ) -> tuple[np.ndarray, pa.ListArray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
        """Severity and reasons per row, which rows the review budget counted as candidates,
        and the anomaly signal's budget ranks and candidates (what the state log must record
        to replay the budget)."""
        config = self.parts.rules.current()
        thresholds = self.model.thresholds
        if thresholds is not None:
            config = with_model_thresholds(config, thresholds.review, thresholds.block)
        model_budget, anomaly_budget = (
            config.budget.split(anomaly is not None) if config.budget else (None, None)
        )
        inputs = decision_inputs(matrix, scored.scores)
        candidates = review_candidates(inputs, config)
        event_ms = pc.cast(tx.column("event_ms"), pa.int64()).to_numpy()
        review_at = state.scores.step(event_ms, scored.scores, candidates, model_budget)
        model = ModelReasons(scored.reason_features, scored.feature_words)
        decided = decide(inputs, config, model, review_at=review_at)
        if anomaly is None or self.anomaly is None:
            return decided.severity, decided.reasons, candidates, None
        unusual = anomaly_candidates(decided.severity, anomaly, self.anomaly.threshold)
        rank = budget_rank(anomaly, self.anomaly.threshold, self.anomaly.tail)
        cut = state.anomalies.step(event_ms, rank, unusual, anomaly_budget)
        decided = review_anomalous(decided, flagged(unusual, rank, cut))
        return decided.severity, decided.reasons, candidates, (rank, unusual)

    def _transactions(
        self,
        rows: pa.Table,
        matrix: np.ndarray,
        scored: ScoredBatch,
        anomaly: np.ndarray | None,
        severity: np.ndarray,
        reasons: pa.ListArray,
    ) -> pa.Table:
        """The lake's ``transactions`` rows (and what the alerts read)."""
        n = rows.num_rows
        if n == 0:
            schema = lake_tables.arrow_schema("transactions")
            return schema.append(pa.field("event_ms", pa.int64())).empty_table()
        columns: dict[str, Any] = {name: rows[name] for name in EVENT_FIELD_NAMES}
        columns |= {
            "event_ms": rows["event_ms"],
            "features": features_map(matrix),
            "score": pa.array(scored.scores, pa.float64()),
            "model_version": pa.array(scored.model_version, pa.string()),
            "scored_by": pa.array(scored.scored_by, pa.string()),
            C.DECISION: pa.array(C.OUTCOMES, pa.string()).take(pa.array(severity, pa.int8())),
            C.REASONS: reasons,
            "shard_id": rows["shard_id"],
            "sequence_number": rows["sequence_number"],
            "arrival_time": rows["arrival_time"],
            "processed_at": pa.array(
                np.full(n, int(self.clock().timestamp() * 1e6)), pa.int64()
            ).cast(UTC_US),
            "anomaly_score": (
                pa.nulls(n, pa.float64()) if anomaly is None else pa.array(anomaly, pa.float64())
            ),
        }
        return pa.table(columns)
