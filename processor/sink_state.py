"""What the batch sink remembers between micro-batches, on the driver, and how it is saved.

The state: merchant risk (fed by transactions and delayed labels), the open aggregate windows,
and the labels already applied (the labels stream may deliver one twice). Merchant risk lives
here rather than in a second keyed Spark operator because every transaction of a batch needs
it at once; see docs/adr/0007-processor-plan.md for the trade-off.

Saved after every batch by :class:`SinkStateStore`, so a replayed batch starts from the state
the first attempt started from. Saving must cost what the batch changed, not what the state
holds: open windows grow with the cards active within the watermark and labels with the rate,
and writing them whole every batch cost ~0.3 s per batch (7-9 MB of JSON) after a minute at
1,000/s. So the three keyed parts go to :class:`~processor.keyed_store.KeyedStateStore`\\ s
(a delta of the keys a batch changed, a full snapshot now and then), and only the scalars to a
small JSON snapshot per batch (:class:`~processor.driver_state.DriverStateStore`).

Labels are de-duplicated within the watermark delay of *label* time: a label is remembered
until the newest label time seen is more than the delay past its own, so memory holds one
watermark's worth of labels, not a month's. A label delivered again later than that would be
applied twice (Kinesis redelivers within seconds or minutes).
"""

from __future__ import annotations

import heapq
import json
import logging
import struct
from dataclasses import dataclass, field
from typing import Any

from fraudstream.settings import Settings
from ml_model.features import FeatureConfig, MerchantSnapshot, MerchantState
from processor.driver_state import DriverStateStore
from processor.keyed_store import KeyedStateStore, KeyedTable
from processor.windows import WindowKey, WindowSpec, WindowState

log = logging.getLogger(__name__)

FORMAT = 2  # the JSON snapshot of format 1 held every part; see SinkStateStore.load_before
SPACES = ("merchants", "windows", "labels")
_WINDOW = struct.Struct("<4d")  # count, sum, max, fraud decisions


def window_key(key: WindowKey) -> str:
    """``kind:start:entity`` (the entity id last, so any characters in it are safe)."""
    kind, entity, start = key
    return f"{kind}:{start}:{entity}"


def parse_window_key(text: str) -> WindowKey:
    kind, start, entity = text.split(":", 2)
    return kind, entity, int(start)


@dataclass
class SinkState:
    config: FeatureConfig
    windows: WindowState
    merchants: dict[str, MerchantState] = field(default_factory=dict)
    # Applied labels: transaction id -> label ms (as ``last_ms``, no state bytes). Kept in its
    # saved form directly, being nothing more than that.
    labels: KeyedTable = field(default_factory=KeyedTable)
    newest_label_ms: int | None = None
    # What changed since the last save, and the saved form of every key (for full snapshots;
    # ``tables["labels"]`` is :attr:`labels` itself).
    changed_merchants: set[str] = field(default_factory=set, repr=False, compare=False)
    changed_labels: set[str] = field(default_factory=set, repr=False, compare=False)
    tables: dict[str, KeyedTable] = field(
        default_factory=lambda: {space: KeyedTable() for space in SPACES if space != "labels"},
        repr=False,
        compare=False,
    )
    # (label ms, transaction id) of every remembered label, oldest first, so forgetting visits
    # only what it forgets; built on first use (after a restore) and kept up to date.
    _label_heap: list[tuple[int, str]] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.tables["labels"] = self.labels

    @classmethod
    def empty(cls, config: FeatureConfig, spec: WindowSpec) -> SinkState:
        return cls(config=config, windows=WindowState(spec=spec))

    def merchant_snapshot(self, merchant_id: str, event_ms: int) -> MerchantSnapshot:
        """Risk of ``merchant_id`` as known at ``event_ms`` (labels older than the delay)."""
        merchant = self.merchants.get(merchant_id)
        return merchant.snapshot(event_ms, self.config) if merchant else MerchantSnapshot()

    def _merchant(self, merchant_id: str) -> MerchantState:
        merchant = self.merchants.get(merchant_id)
        if merchant is None:
            merchant = self.merchants[merchant_id] = MerchantState()
        self.changed_merchants.add(merchant_id)
        return merchant

    def add_transaction(self, merchant_id: str, event_ms: int) -> None:
        self._merchant(merchant_id).add_transaction(event_ms, self.config)

    def add_label(
        self, transaction_id: str, merchant_id: str, event_ms: int, label_ms: int, fraud: bool
    ) -> bool:
        """Apply a label once; False when this transaction's label was already applied (within
        the de-duplication window, see the module docstring)."""
        if transaction_id in self.labels.last_ms:
            return False
        self.labels.put(transaction_id, b"", label_ms)
        self.changed_labels.add(transaction_id)
        if self._label_heap is not None:
            heapq.heappush(self._label_heap, (label_ms, transaction_id))
        if self.newest_label_ms is None or label_ms > self.newest_label_ms:
            self.newest_label_ms = label_ms
        self._merchant(merchant_id).add_label(event_ms, fraud, self.config)
        return True

    def forget_old_labels(self) -> int:
        """Forget labels more than the watermark delay older (label time) than the newest one;
        returns how many."""
        if self.newest_label_ms is None:
            return 0
        cutoff = self.newest_label_ms - self.windows.spec.delay_ms
        if self._label_heap is None:
            self._label_heap = [(ms, tx) for tx, ms in self.labels.last_ms.items()]
            heapq.heapify(self._label_heap)
        forgotten = 0
        while self._label_heap and self._label_heap[0][0] < cutoff:
            ms, tx = heapq.heappop(self._label_heap)
            if self.labels.last_ms.get(tx) == ms:
                self.labels.delete(tx)
                self.changed_labels.add(tx)
                forgotten += 1
        return forgotten

    # -- saved form ---------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "max_event_ms": self.windows.max_event_ms,
            "newest_label_ms": self.newest_label_ms,
        }

    def sync_tables(self) -> dict[str, set[str]]:
        """Bring :attr:`tables` up to date with what changed since the last call; return the
        keys changed per space (removed keys included)."""
        merchants, windows = self.tables["merchants"], self.tables["windows"]
        for merchant_id in self.changed_merchants:
            merchant = self.merchants[merchant_id]
            data = json.dumps(merchant.to_dict(), separators=(",", ":")).encode()
            merchants.put(merchant_id, data, merchant.newest or 0)
        window_keys = set()
        for key in self.windows.changed:
            text = window_key(key)
            window_keys.add(text)
            values = self.windows.open.get(key)
            if values is None:
                windows.delete(text)
            else:
                windows.put(text, _WINDOW.pack(*values), key[2])
        changed = {
            "merchants": self.changed_merchants,
            "windows": window_keys,
            "labels": self.changed_labels,
        }
        self.changed_merchants, self.changed_labels = set(), set()
        self.windows.changed = set()
        return changed

    @classmethod
    def from_tables(
        cls,
        meta: dict[str, Any],
        tables: dict[str, KeyedTable],
        config: FeatureConfig,
        spec: WindowSpec,
    ) -> SinkState:
        windows = WindowState(spec=spec, max_event_ms=meta.get("max_event_ms"))
        for text, data in tables["windows"].states.items():
            windows.open[parse_window_key(text)] = _WINDOW.unpack(data)
        return cls(
            config=config,
            windows=windows,
            merchants={
                k: MerchantState.from_dict(json.loads(v))
                for k, v in tables["merchants"].states.items()
            },
            labels=tables["labels"],
            newest_label_ms=meta.get("newest_label_ms"),
            tables=tables,
        )

    @classmethod
    def from_legacy(
        cls, data: dict[str, Any], config: FeatureConfig, spec: WindowSpec
    ) -> SinkState:
        """A format-1 snapshot (everything in one JSON), every part marked changed so the next
        save writes it all in the keyed form. Its labels carry event times, not label times:
        they are kept as they are and age out as the new labels arrive."""
        state = cls(
            config=config,
            windows=WindowState.from_dict(data.get("windows", {}), spec),
            merchants={k: MerchantState.from_dict(v) for k, v in data.get("merchants", {}).items()},
            labels=KeyedTable(
                {str(k): b"" for k in data.get("labels_seen", {})},
                {str(k): int(v) for k, v in data.get("labels_seen", {}).items()},
            ),
        )
        state.changed_merchants = set(state.merchants)
        state.changed_labels = set(state.labels.states)
        state.windows.changed = set(state.windows.open)
        return state


class SinkStateStore:
    """Saves and restores :class:`SinkState` per micro-batch under ``location``: the scalars as
    a JSON snapshot in the folder itself, each keyed part in a subfolder of its name."""

    def __init__(self, location: str, settings: Settings, *, max_deltas: int = 100) -> None:
        root = location.rstrip("/")
        self.meta = DriverStateStore(root, settings)
        self.parts = {
            space: KeyedStateStore(f"{root}/{space}", settings, max_deltas=max_deltas)
            for space in SPACES
        }

    def load_before(self, batch_id: int, config: FeatureConfig, spec: WindowSpec) -> SinkState:
        """The state after batch ``batch_id - 1`` (empty when nothing was saved)."""
        saved = self.meta.load_before(batch_id)
        if saved is None:
            return SinkState.empty(config, spec)
        saved_batch, meta = saved
        if meta.get("format", 1) == 1:
            log.info("driver state: converting the snapshot of batch %d", saved_batch)
            return SinkState.from_legacy(meta, config, spec)
        tables = {space: store.load_before(batch_id) for space, store in self.parts.items()}
        log.info("driver state restored from batch %d", saved_batch)
        return SinkState.from_tables(meta, tables, config, spec)

    def save(self, batch_id: int, state: SinkState) -> None:
        """Persist what ``batch_id`` changed; the JSON snapshot last, so a crash part way
        leaves the previous batch's state the newest complete one (files of this batch are
        ignored by a re-run, then overwritten)."""
        changed = state.sync_tables()
        for space, store in self.parts.items():
            store.save(batch_id, state.tables[space], changed[space])
        self.meta.save(batch_id, state.meta())
