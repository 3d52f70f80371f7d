"""The ``foreachBatch`` sink: everything after the per-card operator, once per micro-batch.

For the batch's rows (transactions, labels, quarantined records):

1. apply new labels to merchant risk (each label once);
2. in event-time order, compute each transaction's card features from its card's state on the
   driver (or take those the per-card Spark operator computed, with ``card_state = spark``),
   complete the vector with its merchant's risk at its event time, then count it for both;
3. score the batch (endpoint, in-process fallback) and decide (model thresholds + rules);
4. write every transaction, new label, quarantined record and closed window to the lake,
   review/block decisions to the alerts table;
5. save what this batch changed in the driver state (cards, merchants, windows, labels) under
   its batch id, then log and export the batch's metrics.

Replays are safe: the lake's object names and the alerts' keys derive from the batch id and
the transactions, and a replayed batch starts from the driver state saved by the batch before
it, so it writes the same objects and items again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraudstream import lake_tables
from fraudstream.events import EVENT_FIELD_NAMES
from fraudstream.settings import Settings
from ml_model.artifact import ModelBundle
from ml_model.features import FEATURE_NAMES, UNKNOWN
from ml_model.features.schema import FEATURE_INDEX
from ml_model.scoring.client import ScoringClient
from processor.card_features import CARD_FEATURES
from processor.decisions import RulesFile, decide, with_model_thresholds
from processor.decisions import columns as C
from processor.driver_cards import CardTable, batch_card_features
from processor.keyed_store import KeyedStateStore
from processor.metrics import BatchSummary, ProcessorMetrics, report, summarize
from processor.pipeline import KIND, LABEL, QUARANTINE, TX
from processor.sink_state import SinkState, SinkStateStore
from processor.sinks.alerts import AlertWriter
from processor.sinks.lake import LakeWriter
from processor.windows import Decided, WindowSpec

log = logging.getLogger(__name__)

FEATURES_TYPE = pa.map_(pa.string(), pa.float64())
UTC_US = pa.timestamp("us", tz="UTC")


@dataclass
class SinkParts:
    """The sink's I/O, injected so tests and benchmarks can assemble their own. ``cards`` is
    the per-card state on the driver; without it the rows must carry the card features the
    Spark operator computed (``card_state = spark``)."""

    lake: LakeWriter
    alerts: AlertWriter
    store: SinkStateStore
    scorer: ScoringClient
    rules: RulesFile
    metrics: ProcessorMetrics | None = None
    cards: KeyedStateStore | None = None


def _rows(table: pa.Table, kind: str) -> pa.Table:
    return table.filter(pc.equal(table[KIND], kind))


def _epoch_ms(column: pa.ChunkedArray) -> np.ndarray:
    values = column.cast(UTC_US) if column.type != UTC_US else column
    micros: np.ndarray = pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False)
    return micros // 1000


def features_map(matrix: np.ndarray) -> pa.MapArray:
    """Each row's features as a ``map<string,double>`` (the lake's ``features`` column), built
    from flat arrays rather than per-row Python lists."""
    rows, width = matrix.shape
    offsets = pa.array(np.arange(0, (rows + 1) * width, width, dtype=np.int32))
    keys = pa.array(np.tile(np.array(FEATURE_NAMES, dtype=object), rows), pa.string())
    return pa.MapArray.from_arrays(offsets, keys, pa.array(matrix.ravel(), pa.float64()))


def decision_inputs(matrix: np.ndarray, scores: np.ndarray, words: list[list[str]]) -> pd.DataFrame:
    """The decision rules' columns (see :mod:`processor.decisions.columns`) from the features:
    unknown history becomes NaN, and the 10-minute count includes the transaction itself."""
    mean_30d = matrix[:, FEATURE_INDEX["card_mean_30d"]].copy()
    mean_30d[matrix[:, FEATURE_INDEX["card_count_30d"]] <= 0] = np.nan
    speed = matrix[:, FEATURE_INDEX["speed_from_previous_kmh"]].copy()
    speed[speed == UNKNOWN] = np.nan
    return pd.DataFrame(
        {
            C.SCORE: scores,
            C.AMOUNT: matrix[:, FEATURE_INDEX["amount"]],
            C.CARD_MEAN_AMOUNT_30D: mean_30d,
            C.SPEED_KMH_FROM_PREV: speed,
            C.CARD_COUNT_10M: matrix[:, FEATURE_INDEX["card_count_10m"]] + 1,
            C.MODEL_REASONS: words,
        }
    )


class BatchSink:
    """Callable as ``writeStream.foreachBatch(sink)``; :meth:`process` takes Arrow directly."""

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
        self.cards: CardTable | None = None
        self._state_batch: int | None = None  # the batch the in-memory state is after
        self.last: BatchSummary | None = None
        self.on_batch = on_batch

    def __call__(self, frame: Any, batch_id: int) -> None:
        self.process(frame.toArrow(), batch_id)

    # -- state --------------------------------------------------------------------------------
    def _state_for(self, batch_id: int) -> tuple[SinkState, CardTable | None]:
        """The state after batch ``batch_id - 1``: in memory when this sink ran that batch,
        else from the stores (a restart, or a re-run of a batch that failed half way)."""
        if self.state is not None and self._state_batch == batch_id - 1:
            return self.state, self.cards
        cards = self.parts.cards.load_before(batch_id) if self.parts.cards else None
        return self.parts.store.load_before(batch_id, self.config, self.spec), cards

    # -- the batch ----------------------------------------------------------------------------
    def process(self, table: pa.Table, batch_id: int) -> BatchSummary:
        started = time.monotonic()
        state, cards = self._state_for(batch_id)
        self._state_batch = None  # in-memory state is mid-update until saved
        labels = self._labels(state, _rows(table, LABEL))
        transactions, changed = self._transactions(state, cards, _rows(table, TX))
        quarantine = _rows(table, QUARANTINE)
        closed, late = state.windows.advance(self._decided(transactions))
        self.parts.lake.write_tables(
            batch_id,
            {
                "transactions": transactions,
                "labels": labels,
                "quarantine": quarantine,
                "aggregates": self._aggregates(closed),
            },
        )
        self.parts.alerts.write(transactions)
        state.forget_old_labels()
        if self.parts.cards is not None and cards is not None:
            self.parts.cards.save(batch_id, cards, changed)
        self.parts.store.save(batch_id, state)
        self.state, self.cards, self._state_batch = state, cards, batch_id
        summary = summarize(
            batch_id,
            transactions,
            quarantine,
            batch_seconds=time.monotonic() - started,
            committed_at=self.clock(),
            late_events=late,
        )
        report(summary, self.parts.metrics)
        self.last = summary
        if self.on_batch is not None:
            self.on_batch(summary)
        return summary

    def _labels(self, state: SinkState, rows: pa.Table) -> pa.Table:
        """Apply labels not seen before, in label-time order; return those (for the lake)."""
        if rows.num_rows == 0:
            return rows
        rows = rows.sort_by([("label_time", "ascending"), ("transaction_id", "ascending")])
        fresh = [
            state.add_label(tx_id, merchant, int(event_ms), int(label_ms), bool(fraud))
            for tx_id, merchant, event_ms, label_ms, fraud in zip(
                rows["transaction_id"].to_pylist(),
                rows["merchant_id"].to_pylist(),
                _epoch_ms(rows["event_time"]),
                _epoch_ms(rows["label_time"]),
                rows["is_fraud"].to_pylist(),
                strict=True,
            )
        ]
        return rows.filter(pa.array(fresh, pa.bool_()))

    def _card_parts(self, cards: CardTable | None, rows: pa.Table) -> tuple[list[Any], set[str]]:
        """Each row's card features (rows in event-time order) and the cards changed."""
        if cards is None:
            if CARD_FEATURES not in rows.column_names:
                raise ValueError(
                    "the rows carry no card features and the sink keeps no card state: "
                    "give SinkParts a KeyedStateStore for cards (card_state = driver)"
                )
            return rows[CARD_FEATURES].to_pylist(), set()
        fields = ["card_id", "event_ms", "amount", "merchant_id", "merchant_category"]
        fields += ["channel", "lat", "lon"]
        return batch_card_features(cards, rows.select(fields).to_pylist(), self.config)

    def _transactions(
        self, state: SinkState, cards: CardTable | None, rows: pa.Table
    ) -> tuple[pa.Table, set[str]]:
        """Complete, score and decide the batch's transactions; also the cards changed."""
        if rows.num_rows == 0:
            schema = lake_tables.arrow_schema("transactions").append(
                pa.field("event_ms", pa.int64())
            )
            return schema.empty_table(), set()
        rows = rows.sort_by([("event_ms", "ascending"), ("transaction_id", "ascending")])
        merchants = rows["merchant_id"].to_pylist()
        event_ms = rows["event_ms"].to_pylist()
        card_parts, changed = self._card_parts(cards, rows)
        vectors = []
        for card_part, merchant, ms in zip(card_parts, merchants, event_ms, strict=True):
            vectors.append(card_part + list(state.merchant_snapshot(merchant, ms)))
            state.add_transaction(merchant, ms)
        matrix = np.asarray(vectors, dtype=np.float64)
        scored = self.parts.scorer.score(matrix)
        config = self.parts.rules.current()
        thresholds = self.model.thresholds
        if thresholds is not None:
            config = with_model_thresholds(config, thresholds.review, thresholds.block)
        decided = decide(decision_inputs(matrix, scored.scores, scored.reasons), config)
        columns: dict[str, Any] = {name: rows[name] for name in EVENT_FIELD_NAMES}
        columns |= {
            "event_ms": rows["event_ms"],
            "features": features_map(matrix),
            "score": pa.array(scored.scores, pa.float64()),
            "model_version": pa.array(scored.model_version, pa.string()),
            "scored_by": pa.array(scored.scored_by, pa.string()),
            C.DECISION: pa.array(decided[C.DECISION].tolist(), pa.string()),
            C.REASONS: pa.array(decided[C.REASONS].tolist(), pa.list_(pa.string())),
            "shard_id": rows["shard_id"],
            "sequence_number": rows["sequence_number"],
            "arrival_time": rows["arrival_time"],
            "processed_at": pa.array([self.clock()] * rows.num_rows, UTC_US),
        }
        return pa.table(columns), changed

    @staticmethod
    def _decided(transactions: pa.Table) -> list[Decided]:
        if transactions.num_rows == 0:
            return []
        return [
            Decided(card, merchant, ms, amount, decision)
            for card, merchant, ms, amount, decision in zip(
                transactions["card_id"].to_pylist(),
                transactions["merchant_id"].to_pylist(),
                transactions["event_ms"].to_pylist(),
                transactions["amount"].to_pylist(),
                transactions[C.DECISION].to_pylist(),
                strict=True,
            )
        ]

    @staticmethod
    def _aggregates(closed: list[dict[str, Any]]) -> pa.Table:
        def times(key: str) -> pa.Array:
            return pa.array([r[key] * 1000 for r in closed], pa.int64()).cast(UTC_US)

        return pa.table(
            {
                "entity_type": pa.array([r["entity_type"] for r in closed], pa.string()),
                "entity_id": pa.array([r["entity_id"] for r in closed], pa.string()),
                "window_start": times("window_start_ms"),
                "window_end": times("window_end_ms"),
                "tx_count": pa.array([r["tx_count"] for r in closed], pa.int64()),
                "amount_sum": pa.array([r["amount_sum"] for r in closed], pa.float64()),
                "amount_max": pa.array([r["amount_max"] for r in closed], pa.float64()),
                "fraud_decisions": pa.array([r["fraud_decisions"] for r in closed], pa.int64()),
            }
        )
