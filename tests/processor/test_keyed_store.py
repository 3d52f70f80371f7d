"""A keyed table of the driver (cards, merchants, windows, labels) survives restarts: a re-run
of any batch starts from the state the first attempt started from, whatever mix of full
snapshots and deltas is on disk."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from fraudstream import aws
from fraudstream.settings import Settings, load_settings
from processor.keyed_store import SCHEMA, KeyedStateStore, KeyedTable, apply, encode

DAY_MS = 86_400_000


def touch(table: KeyedTable, batch: int, cards: list[str]) -> set[str]:
    """What a batch does to the table: new states for ``cards`` at event day ``batch``
    (pseudo-random bytes: like real states they barely compress, and a re-run repeats them)."""
    for card in cards:
        table.put(card, random.Random(f"{card}@{batch}").randbytes(200), batch * DAY_MS)
    return set(cards)


def run(store: KeyedStateStore, batches: int) -> KeyedTable:
    """Save ``batches`` batches, checking after each that both the batch itself (a crash
    before Spark committed it) and the next one can start from the right state."""
    table = KeyedTable()
    for batch in range(batches):
        before = table.copy()
        if batch == 5:
            changed: set[str] = set()  # a batch of labels only
        elif batch % 4 == 0:
            changed = touch(table, batch, [f"c{i}" for i in range(40)])  # a busy batch
        else:
            changed = touch(table, batch, [f"c{batch}", f"c{batch + 100}"])
        store.save(batch, table, changed)
        assert store.load_before(batch) == before
        assert store.load_before(batch + 1) == table
    return table


def exercise(store: KeyedStateStore, folder_files: Callable[[], list[str]]) -> None:
    after = run(store, 12)
    kinds = {name.split("-")[0] for name in folder_files()}
    assert kinds == {"full", "delta"}  # busy batches compacted, quiet ones wrote deltas
    # A re-run of batch 11 writes its file again (whatever kind) and the chain still holds.
    replay = store.load_before(11)
    store.save(11, replay, touch(replay, 11, ["c11", "c111"]))
    assert store.load_before(12) == after
    assert len([n for n in folder_files() if n.endswith("000011.arrow")]) == 1


def test_local_folder(tmp_path: Path) -> None:
    folder = tmp_path / "cards"
    store = KeyedStateStore(str(folder), load_settings(), ttl_ms=365 * DAY_MS)
    exercise(store, lambda: sorted(p.name for p in folder.iterdir()))
    # Files older than the previous full snapshot were deleted.
    fulls = sorted(int(p.name[5:17]) for p in folder.glob("full-*"))
    assert len(fulls) <= 2
    assert min(int(p.name.split("-")[1][:12]) for p in folder.iterdir()) == fulls[0]


def test_nothing_saved_is_an_empty_table(tmp_path: Path) -> None:
    store = KeyedStateStore(str(tmp_path), load_settings(), ttl_ms=DAY_MS)
    assert store.load_before(0) == KeyedTable()
    store.save(0, KeyedTable(), set())
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="max_deltas"):
        KeyedStateStore(str(tmp_path), load_settings(), ttl_ms=DAY_MS, max_deltas=0)


def test_a_full_snapshot_forgets_idle_cards_and_max_deltas_forces_one(tmp_path: Path) -> None:
    store = KeyedStateStore(str(tmp_path), load_settings(), ttl_ms=10 * DAY_MS, max_deltas=2)
    table = KeyedTable()
    store.save(0, table, touch(table, 0, [f"old{i}" for i in range(30)]))
    for batch in (1, 2):  # small deltas
        store.save(batch, table, touch(table, batch, ["a"]))
    assert sorted(p.name[:5] for p in tmp_path.iterdir()) == ["delta", "delta", "full-"]
    store.save(30, table, touch(table, 30, ["b"]))  # third delta: over max_deltas, compacts
    restored = store.load_before(31)
    assert sorted(restored.states) == ["b"]  # every other card idle for more than 10 days
    assert restored == table


def test_encoding_round_trips_and_is_deterministic() -> None:
    table = KeyedTable()
    table.put("z", b"\x00\x01", 5)
    table.put("a", b"", 7)
    again = KeyedTable()
    apply(again, encode(table))
    assert again == table
    assert encode(table) == encode(again)
    only = KeyedTable()
    apply(only, encode(table, ["a"]))
    assert only.states == {"a": b""}


@pytest.mark.integration
def test_s3_location(local_stack: Settings) -> None:
    s3 = aws.client("s3", local_stack)
    prefix = "checkpoints/card-state/"

    def names() -> list[str]:
        listed = s3.list_objects_v2(Bucket=local_stack.bucket, Prefix=prefix).get("Contents", [])
        return sorted(o["Key"][len(prefix) :] for o in listed)

    location = f"s3a://{local_stack.bucket}/{prefix}"
    store = KeyedStateStore(location, local_stack, ttl_ms=365 * DAY_MS)
    exercise(store, names)


def test_removed_keys_stay_removed_through_deltas_and_snapshots(tmp_path: Path) -> None:
    """A window that closed, a label forgotten: the delta carries a tombstone, and no TTL
    means nothing else disappears when a full snapshot is written."""
    store = KeyedStateStore(str(tmp_path), load_settings(), max_deltas=1)
    table = KeyedTable()
    store.save(0, table, touch(table, 0, [f"k{i}" for i in range(20)]))
    table.delete("k3")
    table.delete("k4")
    store.save(1, table, {"k3", "k4"})  # a delta of two tombstones
    assert sorted(p.name[:5] for p in tmp_path.iterdir()) == ["delta", "full-"]
    assert store.load_before(2) == table
    assert "k3" not in store.load_before(2).states
    assert "k3" in store.load_before(1).states  # a re-run of batch 1 still sees it
    store.save(400, table, touch(table, 400, ["new"]))  # max_deltas: a full snapshot, no TTL
    restored = store.load_before(401)
    assert restored == table
    assert len(restored) == 19  # 18 from day 0 kept (no TTL), plus the new key


def test_files_written_before_the_key_column_was_renamed_still_load() -> None:
    legacy = pa.schema([pa.field("card_id", pa.string()), *list(SCHEMA)[1:]])
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, legacy) as writer:
        writer.write_table(
            pa.table({"card_id": ["c1"], "state": [b"s"], "last_ms": [9]}, schema=legacy)
        )
    table = KeyedTable()
    apply(table, sink.getvalue().to_pybytes())
    assert table.states == {"c1": b"s"} and table.last_ms == {"c1": 9}
