"""What the batch sink remembers between micro-batches, and how it survives a restart.

The state: the feature engine's card and merchant state (:class:`~ml_model.features.
FeatureEngine`), the transactions already processed and the labels already applied (two
:class:`~processor.seen_ids.SeenIds`, one watermark of each), the
open aggregate windows (:class:`~processor.windows.Windows`) and the review budget's hourly
counts (:class:`~processor.decisions.budget.HourlyScores`: of the model scores, and of the
anomaly scores of the anomaly signal's candidates). All are columnar and
change only through the same calls, in the same order, whether a batch is processed live or
replayed.

Saved as a snapshot now and then plus, for every batch since, a log of that batch's inputs
(:class:`SinkStore`): the transactions' columns the engine and the windows read, their
decisions, scores and anomaly scores and whether the budget counted them as review or anomaly
candidates, their ids, and the labels applied. Restoring the state before batch ``b`` loads the
newest snapshot older than ``b`` and replays the logs between it and ``b`` through the same
calls; the engine's answer does not depend on batching, and each call is deterministic, so the
replayed state equals the state the first run had. A log is small (a few dozen bytes a row,
zstd), so a busy batch writes what it received rather than the cards it touched; a snapshot is
written once the logs since the last one reach ``snapshot_log_bytes`` (16 MiB by default, some
300,000 rows: a restore replays at most that much, a few seconds) or ``max_logs`` batches.
Spark re-runs the last uncommitted batch after a crash with the same input; files of that batch
or later, left by the attempt that crashed, are ignored and then overwritten.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from fraudstream.settings import Settings
from ml_model.features import FeatureConfig, FeatureEngine
from ml_model.features.engine import TX_COLUMNS, TX_OPTIONAL
from ml_model.features.snapshot import built_when_read, from_tables, joined, to_pieces
from processor.decisions.budget import HourlyScores
from processor.seen_ids import SeenIds
from processor.state_folder import StateFolder
from processor.windows import Windows, WindowSpec

log = logging.getLogger(__name__)

FORMAT = 6
READABLE_FORMATS = (3, 4, 5, 6)  # 3: before the review budget, 4: before the anomaly signal,
# 5: before the transactions' ids (the counts and ids a format lacks start empty)
_OPTIONS = ipc.IpcWriteOptions(compression="zstd")
_LOG = re.compile(r"^log-(\d{12})\.arrow$")
_SNAP = re.compile(r"^snap-(\d{12})\.json$")

LOG_SCHEMA = pa.schema(
    [
        pa.field("kind", pa.int8()),  # 0 a transaction, 1 a label
        pa.field("card_id", pa.string()),
        pa.field("merchant_id", pa.string()),
        pa.field("amount", pa.float64()),
        pa.field("event_ms", pa.int64()),
        pa.field("merchant_category", pa.string()),
        pa.field("channel", pa.string()),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        pa.field("fraud_decision", pa.int64()),  # transactions: review or block
        pa.field("score", pa.float64()),  # transactions: the model score
        pa.field("review_candidate", pa.bool_()),  # transactions: counted by the budget
        pa.field("anomaly", pa.float64()),  # transactions: the anomaly budget's rank
        pa.field("anomaly_candidate", pa.bool_()),  # transactions: counted by its budget
        pa.field("transaction_id", pa.string()),  # both (transactions: null before format 6)
        pa.field("label_ms", pa.int64()),
        pa.field("is_fraud", pa.bool_()),
    ]
)
LABEL_INPUT = ("transaction_id", "merchant_id", "event_ms", "label_ms", "is_fraud")


def _name(kind: str, batch_id: int, suffix: str = "arrow") -> str:
    return f"{kind}-{batch_id:012d}.{suffix}"


def encode(table: pa.Table) -> bytes:
    return encode_pieces(iter((table,)))


def encode_pieces(pieces: Iterator[pa.Table]) -> bytes:
    """One IPC file of the tables ``pieces`` yields (same schema, at least one), each written
    and dropped before the next is built."""
    first = next(pieces)
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, first.schema, options=_OPTIONS) as writer:
        writer.write_table(first)
        del first
        for piece in pieces:
            writer.write_table(piece)
    return bytes(sink.getvalue().to_pybytes())


def decode(data: bytes) -> pa.Table:
    return ipc.open_file(pa.py_buffer(data)).read_all()


@dataclass
class SinkState:
    engine: FeatureEngine
    transactions: SeenIds
    labels: SeenIds
    windows: Windows
    scores: HourlyScores
    anomalies: HourlyScores = dataclasses.field(default_factory=HourlyScores)

    @classmethod
    def empty(cls, config: FeatureConfig, spec: WindowSpec) -> SinkState:
        return cls(
            FeatureEngine(config, spec.delay_ms),
            SeenIds(spec.delay_ms),
            SeenIds(spec.delay_ms),
            Windows(spec),
            HourlyScores(),
            HourlyScores(),
        )

    # -- the steps of a batch (live and replayed alike) --------------------------------------
    def admit_transactions(self, transactions: pa.Table) -> tuple[np.ndarray, int, int]:
        """Mask of the transactions to process, and how many were dropped as late (older than
        the watermark of the batches before) and as duplicates (an id already processed, or
        repeated within the batch: the first is kept). Kept ones are remembered."""
        n = transactions.num_rows
        if n == 0:
            return np.zeros(0, dtype=bool), 0, 0
        event_ms = pc.cast(transactions.column("event_ms"), pa.int64()).to_numpy()
        on_time = ~self.transactions.late(event_ms)
        keep = np.zeros(n, dtype=bool)
        ids = transactions.column("transaction_id")
        if on_time.all():
            keep = self.transactions.admit(ids, event_ms)
        elif on_time.any():
            keep[on_time] = self.transactions.admit(
                ids.filter(pa.array(on_time)), event_ms[on_time]
            )
        late = int(n - on_time.sum())
        return keep, late, int(n - late - keep.sum())

    def admit_labels(self, labels: pa.Table) -> np.ndarray:
        """Mask of the labels not applied before (the first of repeats), which are remembered
        from now on."""
        if labels.num_rows == 0:
            return np.zeros(0, dtype=bool)
        label_ms = pc.cast(labels.column("label_ms"), pa.int64()).to_numpy()
        return self.labels.admit(labels.column("transaction_id"), label_ms)

    def features(self, transactions: pa.Table, fresh_labels: pa.Table) -> np.ndarray:
        return self.engine.compute(transactions, fresh_labels)

    def advance_windows(self, transactions: pa.Table, fraud: np.ndarray) -> tuple[pa.Table, int]:
        return self.windows.advance(
            transactions.column("card_id").combine_chunks(),
            transactions.column("merchant_id").combine_chunks(),
            pc.cast(transactions.column("event_ms"), pa.int64()).to_numpy(),
            pc.cast(transactions.column("amount"), pa.float64()).to_numpy(),
            fraud,
        )

    def replay(self, logged: pa.Table) -> None:
        """Apply a batch's log (see :func:`log_table`) as the live batch did. Logs written
        before the review budget (no ``score`` column) or the anomaly signal (no ``anomaly``)
        leave their counts as they are."""
        kind = logged.column("kind").to_numpy()
        tx = logged.filter(pa.array(kind == 0))
        ids = tx.column("transaction_id")
        if ids.null_count < len(ids):  # logs before format 6 have no transaction ids
            self.transactions.admit(ids, pc.cast(tx.column("event_ms"), pa.int64()).to_numpy())
        labels = logged.filter(pa.array(kind == 1)).select(list(LABEL_INPUT))
        fresh = labels.filter(pa.array(self.admit_labels(labels)))
        self.features(tx, fresh)
        if "score" in tx.column_names:
            event_ms = pc.cast(tx.column("event_ms"), pa.int64()).to_numpy()
            score = pc.fill_null(tx.column("score"), np.nan).to_numpy()
            candidate = pc.fill_null(tx.column("review_candidate"), False).to_numpy()
            self.scores.step(event_ms, score, candidate)
        if "anomaly" in tx.column_names:
            event_ms = pc.cast(tx.column("event_ms"), pa.int64()).to_numpy()
            anomaly = pc.fill_null(tx.column("anomaly"), np.nan).to_numpy()
            unusual = pc.fill_null(tx.column("anomaly_candidate"), False).to_numpy()
            self.anomalies.step(event_ms, anomaly, unusual)
        self.advance_windows(tx, tx.column("fraud_decision").to_numpy())

    # -- saved form ---------------------------------------------------------------------------
    def to_tables(self) -> tuple[dict[str, Any], dict[str, pa.Table]]:
        meta, pieces = self.to_pieces()
        return meta, joined(pieces)

    def to_pieces(self) -> tuple[dict[str, Any], dict[str, Iterator[pa.Table]]]:
        """The state's tables as pieces built as they are read (:func:`to_pieces` of the
        feature engine): a snapshot holds one piece at a time."""
        meta, pieces = to_pieces(self.engine)
        own = {
            "transactions_seen": self.transactions.to_arrow,
            "labels": self.labels.to_arrow,
            "windows": self.windows.to_arrow,
            "scores": self.scores.to_arrow,
            "anomalies": self.anomalies.to_arrow,
        }
        for name, build in own.items():
            pieces[name] = built_when_read(build)
        spec = self.windows.spec
        meta |= {
            "sink_format": FORMAT,
            "labels_newest_ms": self.labels.newest_ms,
            "transactions_newest_ms": self.transactions.newest_ms,
            "window_spec": [spec.size_ms, spec.slide_ms, spec.delay_ms],
            "window_max_event_ms": self.windows.max_event_ms,
            "window_next_start": self.windows.next_start,
        }
        return meta, pieces

    @classmethod
    def from_tables(cls, meta: dict[str, Any], tables: dict[str, pa.Table]) -> SinkState:
        if meta.get("sink_format") not in READABLE_FORMATS:
            raise ValueError(f"unknown sink state format {meta.get('sink_format')!r}")
        spec = WindowSpec(*meta["window_spec"])
        # format 5 and older saved no transaction ids (Spark kept them): the set starts empty,
        # the windows' newest event time standing in for its own, so late still means late
        newest = meta.get("transactions_newest_ms", meta["window_max_event_ms"])
        return cls(
            from_tables(meta, tables),
            SeenIds.from_arrow(
                tables.get("transactions_seen"),
                spec.delay_ms,
                None if newest is None else int(newest),
            ),
            SeenIds.from_arrow(tables["labels"], spec.delay_ms, int(meta["labels_newest_ms"])),
            Windows.from_arrow(
                tables["windows"], spec, meta["window_max_event_ms"], meta["window_next_start"]
            ),
            HourlyScores.from_arrow(tables["scores"]) if "scores" in tables else HourlyScores(),
            (
                HourlyScores.from_arrow(tables["anomalies"])
                if "anomalies" in tables
                else HourlyScores()
            ),
        )


def log_table(
    transactions: pa.Table,
    fraud: np.ndarray,
    fresh_labels: pa.Table,
    scores: np.ndarray | None = None,
    candidates: np.ndarray | None = None,
    anomaly: np.ndarray | None = None,
    anomaly_candidates: np.ndarray | None = None,
) -> pa.Table:
    """A batch's inputs as :data:`LOG_SCHEMA` rows: what :meth:`SinkState.replay` reads.
    ``scores`` and ``candidates``: what the review budget counted, ``anomaly`` (the ranks of
    :func:`~processor.decisions.anomaly.budget_rank`) and ``anomaly_candidates``: what the
    anomaly signal's part counted (null when not given)."""
    n, m = transactions.num_rows, fresh_labels.num_rows

    def tx_column(name: str, kind: pa.DataType) -> pa.Array:
        if name in transactions.column_names:
            return pc.cast(transactions.column(name), kind).combine_chunks()
        return pa.nulls(n, kind)

    def label_column(name: str, kind: pa.DataType) -> pa.Array:
        if name in fresh_labels.column_names:
            return pc.cast(fresh_labels.column(name), kind).combine_chunks()
        return pa.nulls(m, kind)

    parts = []
    for field in LOG_SCHEMA:
        if field.name == "kind":
            values = np.r_[np.zeros(n, np.int8), np.ones(m, np.int8)]
            parts.append(pa.array(values, pa.int8()))
        elif field.name == "fraud_decision":
            parts.append(pa.concat_arrays([pa.array(fraud, pa.int64()), pa.nulls(m, pa.int64())]))
        elif field.name in ("score", "review_candidate", "anomaly", "anomaly_candidate"):
            given = {
                "score": scores,
                "review_candidate": candidates,
                "anomaly": anomaly,
                "anomaly_candidate": anomaly_candidates,
            }[field.name]
            values = pa.nulls(n, field.type) if given is None else pa.array(given, field.type)
            parts.append(pa.concat_arrays([values, pa.nulls(m, field.type)]))
        elif field.name in ("merchant_id", "event_ms", "transaction_id"):
            parts.append(
                pa.concat_arrays(
                    [tx_column(field.name, field.type), label_column(field.name, field.type)]
                )
            )
        elif field.name in (*TX_COLUMNS, *TX_OPTIONAL):
            parts.append(
                pa.concat_arrays([tx_column(field.name, field.type), pa.nulls(m, field.type)])
            )
        else:
            parts.append(
                pa.concat_arrays([pa.nulls(n, field.type), label_column(field.name, field.type)])
            )
    return pa.Table.from_arrays(parts, schema=LOG_SCHEMA)


class SinkStore:
    """Snapshots and per-batch logs of :class:`SinkState` in a state folder."""

    def __init__(
        self,
        location: str,
        settings: Settings,
        *,
        snapshot_log_bytes: int = 16 * 2**20,
        max_logs: int = 500,
    ) -> None:
        if snapshot_log_bytes < 1 or max_logs < 1:
            raise ValueError("snapshot_log_bytes and max_logs must be positive")
        self.snapshot_log_bytes = snapshot_log_bytes
        self.max_logs = max_logs
        self.folder = StateFolder(location, settings)

    def _files(self) -> tuple[list[int], list[int]]:
        snaps, logs = [], []
        for name in self.folder.names():
            if m := _SNAP.match(name):
                snaps.append(int(m.group(1)))
            elif m := _LOG.match(name):
                logs.append(int(m.group(1)))
        return sorted(snaps), sorted(logs)

    def load_before(self, batch_id: int, config: FeatureConfig, spec: WindowSpec) -> SinkState:
        """The state after batch ``batch_id - 1`` (empty when nothing was saved)."""
        snaps, logs = self._files()
        older = [s for s in snaps if s < batch_id]
        if older:
            snap = older[-1]
            manifest = json.loads(self.folder.read(_name("snap", snap, "json")))
            tables = {
                name: decode(self.folder.read(file)) for name, file in manifest["tables"].items()
            }
            state = SinkState.from_tables(manifest["meta"], tables)
        else:
            snap = -1
            state = SinkState.empty(config, spec)
        replay = [b for b in logs if snap < b < batch_id]
        for b in replay:
            logged = decode(self.folder.read(_name("log", b)))
            if logged.num_rows:  # a batch with nothing to apply leaves an empty log
                state.replay(logged)
        if older or replay:
            log.info(
                "sink state restored: snapshot of batch %s and %d logged batch(es) up to %s",
                snap if older else "(none)",
                len(replay),
                replay[-1] if replay else snap,
            )
        return state

    def last_batch(self) -> int | None:
        """The last batch saved (every batch leaves a log, empty or not), or None."""
        snaps, logs = self._files()
        return max([*snaps, *logs], default=None)

    def save(self, batch_id: int, state: SinkState, logged: pa.Table) -> None:
        """Persist batch ``batch_id``: its log (empty when the batch had nothing to apply: the
        log also says the batch is done, :mod:`processor.rewind`), and a snapshot when one is
        due. A crashed attempt's files for this batch or later are replaced or removed first."""
        snaps, logs = self._files()
        for b in logs:
            if b >= batch_id:
                self.folder.delete(_name("log", b))
        stale = [s for s in snaps if s >= batch_id]
        for name in self.folder.names():
            if _batch_of(name) in stale and name.startswith("snap-"):
                self.folder.delete(name)
        self.folder.write(_name("log", batch_id), encode(logged))
        last = max([s for s in snaps if s < batch_id], default=-1)
        since = [b for b in logs if last < b < batch_id] + ([batch_id] if logged.num_rows else [])
        listing = self.folder.listing()
        size = sum(listing.get(_name("log", b), 0) for b in since)
        if since and (size >= self.snapshot_log_bytes or len(since) >= self.max_logs):
            self._snapshot(batch_id, state, previous=last)

    def _snapshot(self, batch_id: int, state: SinkState, *, previous: int) -> None:
        meta, pieces = state.to_pieces()
        files = {}
        for name, parts in pieces.items():  # one table, one piece of it, in memory at a time
            file = f"snap-{batch_id:012d}-{name}.arrow"
            self.folder.write(file, encode_pieces(parts))
            files[name] = file
        manifest = {"meta": meta, "tables": files}
        self.folder.write(_name("snap", batch_id, "json"), json.dumps(manifest).encode())
        log.info("sink state snapshot after batch %d", batch_id)
        if previous >= 0:  # what restoring before the newest snapshot needs is kept
            for name in self.folder.names():
                number = _batch_of(name)
                if number is not None and number < previous:
                    self.folder.delete(name)


def _batch_of(name: str) -> int | None:
    found = re.match(r"^(?:log|snap)-(\d{12})", name)
    return int(found.group(1)) if found else None
