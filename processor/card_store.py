"""Persistence of the driver's card table (:mod:`processor.driver_cards`) next to the checkpoint:
a full snapshot now and then, and after every other micro-batch only the cards it changed.

Files (Arrow IPC, zstd; columns ``card_id``, ``state``, ``last_ms``):

* ``full-<batch>.arrow``: every card after that batch (cards idle past the TTL dropped);
* ``delta-<batch>.arrow``: the cards that batch changed, as they were after it.

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

import pyarrow as pa
import pyarrow.ipc as ipc

from fraudstream.settings import Settings
from processor.driver_cards import CardTable
from processor.state_folder import StateFolder

log = logging.getLogger(__name__)

SCHEMA = pa.schema(
    [
        pa.field("card_id", pa.string(), False),
        pa.field("state", pa.binary(), False),
        pa.field("last_ms", pa.int64(), False),
    ]
)
_NAME = re.compile(r"^(full|delta)-(\d{12})\.arrow$")
_OPTIONS = ipc.IpcWriteOptions(compression="zstd")


def _name(kind: str, batch_id: int) -> str:
    return f"{kind}-{batch_id:012d}.arrow"


def encode(table: CardTable, cards: list[str] | None = None) -> bytes:
    """``cards`` of ``table`` (all by default, sorted so equal tables give equal bytes)."""
    ids = sorted(table.states) if cards is None else sorted(cards)
    batch = pa.table(
        {
            "card_id": pa.array(ids, pa.string()),
            "state": pa.array([table.states[c] for c in ids], pa.binary()),
            "last_ms": pa.array([table.last_ms[c] for c in ids], pa.int64()),
        },
        schema=SCHEMA,
    )
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, SCHEMA, options=_OPTIONS) as writer:
        writer.write_table(batch)
    return bytes(sink.getvalue().to_pybytes())


def apply(table: CardTable, data: bytes) -> None:
    """Put every card of an encoded file into ``table``."""
    read = ipc.open_file(pa.py_buffer(data)).read_all()
    for card_id, state, last_ms in zip(
        read["card_id"].to_pylist(),
        read["state"].to_pylist(),
        read["last_ms"].to_pylist(),
        strict=True,
    ):
        table.put(card_id, state, last_ms)


class CardStateStore:
    """Saves and restores the card table per micro-batch (see the module docstring)."""

    def __init__(
        self, location: str, settings: Settings, *, ttl_ms: int, max_deltas: int = 100
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

    def load_before(self, batch_id: int) -> CardTable:
        """The card table as it was after batch ``batch_id - 1`` (empty if nothing was saved)."""
        table = CardTable()
        chain = self._chain(self._files(), batch_id)
        for file_batch, kind, _ in chain:
            apply(table, self._folder.read(_name(kind, file_batch)))
        if chain:
            log.info(
                "card state restored: %d cards from %d file(s) up to batch %d",
                len(table),
                len(chain),
                chain[-1][0],
            )
        return table

    def save(self, batch_id: int, table: CardTable, changed: set[str]) -> None:
        """Persist the table after ``batch_id``, whose rows touched the cards in ``changed``:
        a delta of those cards, or a full snapshot when one is due (idle cards expired first).
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
        expired = table.expire(self.ttl_ms)
        if expired:
            log.info("card state: %d cards idle past the TTL forgotten", expired)
        self._folder.write(_name("full", batch_id), encode(table))
        if chain:  # files before the previous full snapshot are no longer needed
            for file_batch, kind, _ in files:
                if file_batch < chain[0][0]:
                    self._folder.delete(_name(kind, file_batch))
