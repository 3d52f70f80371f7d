"""The feature engine's state as Arrow tables, and back, exactly (slots included).

A snapshot is a handful of tables: per-slot arrays of cards and merchants (rings as
fixed-size lists), their ids, the logged card entries, the merchant/category days, pending
fraud labels and a JSON-ready ``meta`` dict. Only live slots are written, so a snapshot's size
follows the entities held, not the arrays' spare capacity. No pickle: a snapshot is data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from ml_model.features import entries as E
from ml_model.features.cards import _SCALARS, CardStore
from ml_model.features.engine import FeatureEngine
from ml_model.features.entries import EntryLog
from ml_model.features.keys import KeyIndex
from ml_model.features.merchants import MerchantStore
from ml_model.features.pairs import LastSeen
from ml_model.features.rings import NEVER, PeriodRings
from ml_model.features.schema import LOOKBACK_MS, FeatureConfig

FORMAT = 1


def _ring_columns(prefix: str, ring: PeriodRings, slots: np.ndarray) -> dict[str, pa.Array]:
    columns: dict[str, pa.Array] = {f"{prefix}.newest": pa.array(ring.newest[slots])}
    for name, values in ring.values.items():
        flat = pa.array(values[slots].reshape(-1))
        columns[f"{prefix}.{name}"] = pa.FixedSizeListArray.from_arrays(flat, ring.length)
    return columns


def _restore_ring(prefix: str, ring: PeriodRings, table: pa.Table, slots: np.ndarray) -> None:
    ring.newest[slots] = table.column(f"{prefix}.newest").to_numpy()
    for name, values in ring.values.items():
        column = table.column(f"{prefix}.{name}").combine_chunks()
        flat = column.flatten().to_numpy(zero_copy_only=False)
        values[slots] = flat.reshape(len(slots), ring.length).astype(values.dtype)


#: Rows of card or merchant slots per piece of a snapshot: a piece's columns (a merchant's rings
#: hold hundreds of periods) are built, written and dropped before the next one.
PIECE_ROWS = 256

Pieces = dict[str, Iterator[pa.Table]]


def built_when_read(build: Callable[[], pa.Table]) -> Iterator[pa.Table]:
    """A table as a one-piece iterator that builds it only when read."""
    yield build()


def joined(pieces: Pieces) -> dict[str, pa.Table]:
    """Each table of ``pieces`` whole."""
    return {name: pa.concat_tables(list(parts)) for name, parts in pieces.items()}


def _slot_pieces(
    slots: np.ndarray, build: Callable[[np.ndarray], dict[str, Any]]
) -> Iterator[pa.Table]:
    for first in range(0, max(len(slots), 1), PIECE_ROWS):
        yield pa.table(build(slots[first : first + PIECE_ROWS]))


def to_pieces(engine: FeatureEngine) -> tuple[dict[str, Any], Pieces]:
    """(meta, pieces): each table of ``engine``'s state as an iterator of row pieces, built as
    they are read, so a snapshot holds one piece at a time and not a copy of the whole state
    (the merchants' rings alone were 59 MiB of a 107 MiB copy in the catch-up benchmark). The
    engine must not change until every piece has been read."""
    cards, merchants = engine.cards, engine.merchants

    def card_columns(slots: np.ndarray) -> dict[str, Any]:
        columns = {"slot": pa.array(slots, pa.int32()), "id": cards.keys.ids_of(slots)}
        columns |= {name: pa.array(v[slots]) for name, v in cards.scalars.items()}
        columns |= _ring_columns("hours", cards.hours, slots)
        return columns | _ring_columns("days", cards.days, slots)

    def merchant_columns(slots: np.ndarray) -> dict[str, Any]:
        columns = {
            "slot": pa.array(slots, pa.int32()),
            "id": merchants.keys.ids_of(slots),
            "last_seen": pa.array(merchants.last_seen[slots]),
        }
        for prefix in ("fine", "hours", "days"):
            ring = getattr(merchants, prefix)
            if ring is not None:
                columns |= _ring_columns(prefix, ring, slots)
        return columns

    def pairs() -> pa.Table:
        keys, days = cards.pairs.items()
        return pa.table({"key": keys, "day": days})

    pieces: Pieces = {
        "cards": _slot_pieces(cards.keys.live_slots(), card_columns),
        "card_entries": built_when_read(lambda: pa.table(cards.entries.all_entries())),
        "card_pairs": built_when_read(pairs),
        "merchants": _slot_pieces(merchants.keys.live_slots(), merchant_columns),
        "merchant_pending": built_when_read(lambda: pa.table(merchants.pending)),
    }
    meta = {
        "format": FORMAT,
        "config": engine.config.to_dict(),
        "lateness_ms": engine.lateness_ms,
        "newest_ms": engine.newest_ms,
        "oldest_ms": engine.oldest_ms,
        "expired_at": engine._expired_at,
        "categories": sorted(engine.categories, key=engine.categories.__getitem__),
        "card_capacity": cards.keys.capacity,
        "merchant_capacity": merchants.keys.capacity,
    }
    return meta, pieces


def to_tables(engine: FeatureEngine) -> tuple[dict[str, Any], dict[str, pa.Table]]:
    """(meta, tables) describing ``engine`` completely."""
    meta, pieces = to_pieces(engine)
    return meta, joined(pieces)


def from_tables(meta: dict[str, Any], tables: dict[str, pa.Table]) -> FeatureEngine:
    """The engine :func:`to_tables` described."""
    if meta.get("format") != FORMAT:
        raise ValueError(f"unknown feature state format {meta.get('format')!r}")
    engine = FeatureEngine(FeatureConfig.from_dict(meta["config"]), int(meta["lateness_ms"]))
    engine.newest_ms = int(meta["newest_ms"])
    # Snapshots written before the count was kept come from a processor that has been running:
    # their state is taken to cover the longest feature window, so monitoring holds no alarm.
    oldest = meta.get("oldest_ms", engine.newest_ms - LOOKBACK_MS)
    engine.oldest_ms = None if oldest is None or engine.newest_ms <= NEVER else int(oldest)
    engine._expired_at = int(meta["expired_at"])
    engine.categories = {name: code for code, name in enumerate(meta["categories"])}
    cards: CardStore = engine.cards
    table = tables["cards"]
    slots = table.column("slot").to_numpy().astype(np.int64)
    cards.keys = KeyIndex.from_arrow(table.select(["slot", "id"]), int(meta["card_capacity"]))
    cards._grow(cards.keys.capacity)
    for name, (kind, _) in _SCALARS.items():
        cards.scalars[name][slots] = table.column(name).to_numpy().astype(kind)
    _restore_ring("hours", cards.hours, table, slots)
    _restore_ring("days", cards.days, table, slots)
    logged = tables["card_entries"]
    cards.entries = EntryLog.from_entries(
        {name: logged.column(name).to_numpy().astype(kind) for name, kind in E.COLUMNS.items()}
    )
    pairs = tables["card_pairs"]
    cards.pairs = LastSeen.from_items(
        pairs.column("key").to_numpy(), pairs.column("day").to_numpy()
    )
    merchants: MerchantStore = engine.merchants
    table = tables["merchants"]
    slots = table.column("slot").to_numpy().astype(np.int64)
    merchants.keys = KeyIndex.from_arrow(
        table.select(["slot", "id"]), int(meta["merchant_capacity"])
    )
    capacity = max(merchants.keys.capacity, 1024)
    merchants.last_seen = np.full(capacity, np.iinfo(np.int64).min // 4, dtype=np.int64)
    for ring in merchants._rings():
        ring.grow(capacity)
    merchants.last_seen[slots] = table.column("last_seen").to_numpy()
    for prefix in ("fine", "hours", "days"):
        ring = getattr(merchants, prefix)
        if ring is not None:
            _restore_ring(prefix, ring, table, slots)
    pending = tables["merchant_pending"]
    merchants.pending = {
        "slot": pending.column("slot").to_numpy().astype(np.int32),
        "te": pending.column("te").to_numpy().astype(np.int64),
        "label_ms": pending.column("label_ms").to_numpy().astype(np.int64),
    }
    return engine
