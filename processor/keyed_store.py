"""Per-batch persistence of a keyed table the driver keeps (the cards of
:mod:`processor.driver_cards`, the merchants, open windows and labels of
:mod:`processor.sink_state`) next to the checkpoint: a full snapshot now and then, and after
every other micro-batch only the keys it changed.

Files (Arrow IPC, zstd; columns ``key``, ``state``, ``last_ms``):

* ``full-<batch>.arrow``: every key after that batch (keys idle past the TTL dropped, when the
  store has one);
* ``delta-<batch>.arrow``: the keys that batch changed, as they were after it; a key the batch
  removed has a null ``state`` (a tombstone).

Restoring the state *before* batch ``b`` (Spark re-runs the last uncommitted batch after a
crash, with the same input) reads the newest full snapshot older than ``b`` and applies the
deltas between it and ``b`` in order; files of ``b`` or later, left by the attempt that crashed,
are ignored and then overwritten. So a re-run starts from the state the first attempt started
from and writes the same output.

A full snapshot is written when the deltas since the last one add up to its size (or after
``max_deltas`` batches), so a restore reads at most about twice the table, and a busy batch
writes only what it touched. Files older than the previous full snapshot are deleted when a new
one is written: the previous one is still needed to re-run the batch that wrote the new one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.ipc as ipc

from fraudstream.settings import Settings
from processor.state_folder import StateFolder

log = logging.getLogger(__name__)

SCHEMA = pa.schema(
    [
        pa.field("key", pa.string(), False),
        pa.field("state", pa.binary(), True),  # null: the key was removed
        pa.field("last_ms", pa.int64(), False),
    ]
)
_NAME = re.compile(r"^(full|delta)-(\d{12})\.arrow$")
_OPTIONS = ipc.IpcWriteOptions(compression="zstd")


def _name(kind: str, batch_id: int) -> str:
    return f"{kind}-{batch_id:012d}.arrow"


@dataclass
class KeyedTable:
    """Keys with their state as bytes and an event time (epoch ms) each: a card's newest
    transaction, a window's start, a label's time."""

    states: dict[str, bytes] = field(default_factory=dict)
    last_ms: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.states)

    def copy(self) -> KeyedTable:
        return KeyedTable(dict(self.states), dict(self.last_ms))

    def put(self, key: str, state: bytes, last_ms: int) -> None:
        self.states[key] = state
        self.last_ms[key] = last_ms

    def delete(self, key: str) -> None:
        self.states.pop(key, None)
        self.last_ms.pop(key, None)

    def expire(self, ttl_ms: int) -> int:
        """Forget keys whose time is more than ``ttl_ms`` older than the newest key's (event
        time, so a replay expires the same keys); returns how many were forgotten."""
        if not self.last_ms:
            return 0
        cutoff = max(self.last_ms.values()) - ttl_ms
        stale = [key for key, ms in self.last_ms.items() if ms < cutoff]
        for key in stale:
            self.delete(key)
        return len(stale)


def encode(table: KeyedTable, keys: Iterable[str] | None = None) -> bytes:
    """``keys`` of ``table`` (all by default, sorted so equal tables give equal bytes); a key
    not in the table is written as removed."""
    ids = sorted(table.states) if keys is None else sorted(keys)
    batch = pa.table(
        {
            "key": pa.array(ids, pa.string()),
            "state": pa.array([table.states.get(k) for k in ids], pa.binary()),
            "last_ms": pa.array([table.last_ms.get(k, 0) for k in ids], pa.int64()),
        },
        schema=SCHEMA,
    )
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, SCHEMA, options=_OPTIONS) as writer:
        writer.write_table(batch)
    return bytes(sink.getvalue().to_pybytes())


def apply(table: KeyedTable, data: bytes) -> None:
    """Apply an encoded file to ``table``: put every key, remove the tombstoned ones."""
    read = ipc.open_file(pa.py_buffer(data)).read_all()
    key_column = "key" if "key" in read.column_names else "card_id"  # files before 2026-11-30
    for key, state, last_ms in zip(
        read[key_column].to_pylist(),
        read["state"].to_pylist(),
        read["last_ms"].to_pylist(),
        strict=True,
    ):
        if state is None:
            table.delete(key)
        else:
            table.put(key, state, last_ms)


class KeyedStateStore:
    """Saves and restores a keyed table per micro-batch (see the module docstring). ``ttl_ms``:
    keys idle that long (by event time) are dropped when a full snapshot is written; ``None``
    keeps every key until the owner removes it."""

    def __init__(
        self,
        location: str,
        settings: Settings,
        *,
        ttl_ms: int | None = None,
        max_deltas: int = 100,
    ) -> None:
        if max_deltas < 1:
            raise ValueError("max_deltas must be at least 1")
        self.ttl_ms = ttl_ms
        self.max_deltas = max_deltas
        self._folder = StateFolder(location, settings)

    def _files(self) -> list[tuple[int, str, int]]:
        """(batch id, kind, size) of every state file, oldest first, a full before a delta."""
        found = [
            (int(m.group(2)), m.group(1), size)
            for name, size in self._folder.listing().items()
            if (m := _NAME.match(name))
        ]
        return sorted(found, key=lambda f: (f[0], f[1] != "full"))

    @staticmethod
    def _chain(files: list[tuple[int, str, int]], batch_id: int) -> list[tuple[int, str, int]]:
        """The files that rebuild the state before ``batch_id``: the newest full snapshot older
        than it, then the deltas after that snapshot."""
        older = [f for f in files if f[0] < batch_id]
        fulls = [i for i, f in enumerate(older) if f[1] == "full"]
        if not fulls:
            return []
        return older[fulls[-1] : fulls[-1] + 1] + [
            f for f in older[fulls[-1] + 1 :] if f[1] == "delta"
        ]

    def load_before(self, batch_id: int) -> KeyedTable:
        """The table as it was after batch ``batch_id - 1`` (empty if nothing was saved)."""
        table = KeyedTable()
        chain = self._chain(self._files(), batch_id)
        for file_batch, kind, _ in chain:
            apply(table, self._folder.read(_name(kind, file_batch)))
        if chain:
            log.info(
                "%s restored: %d keys from %d file(s) up to batch %d",
                self._folder.location,
                len(table),
                len(chain),
                chain[-1][0],
            )
        return table

    def save(self, batch_id: int, table: KeyedTable, changed: set[str]) -> None:
        """Persist the table after ``batch_id``, which changed (or removed) the keys in
        ``changed``: a delta of those keys, or a full snapshot when one is due (idle keys
        expired first, with a TTL).
        A batch that changed nothing writes nothing: the state before the next batch is then
        the state before this one."""
        files = self._files()
        for file_batch, kind, _ in files:  # a crashed attempt's file for this batch
            if file_batch == batch_id:
                self._folder.delete(_name(kind, batch_id))
        if not changed:
            return
        chain = self._chain(files, batch_id)
        delta = encode(table, list(changed))
        if chain and len(chain) - 1 < self.max_deltas:
            pending = sum(size for _, _, size in chain[1:]) + len(delta)
            if pending < chain[0][2]:
                self._folder.write(_name("delta", batch_id), delta)
                return
        if self.ttl_ms is not None:
            expired = table.expire(self.ttl_ms)
            if expired:
                log.info("%s: %d keys idle past the TTL forgotten", self._folder.location, expired)
        self._folder.write(_name("full", batch_id), encode(table))
        if chain:  # files before the previous full snapshot are no longer needed
            for file_batch, kind, _ in files:
                if file_batch < chain[0][0]:
                    self._folder.delete(_name(kind, file_batch))
