"""Hash-range arithmetic of cells: ranges tile the hash-key space, every card has one cell."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from pydantic import ValidationError

from fraudstream.cells import HASH_SPACE, HashRange, cells, hash_of
from fraudstream.kpl import hash_key


def test_a_cell_parses_and_prints_as_index_slash_count() -> None:
    assert HashRange.parse("0/2") == HashRange(0, 2)
    assert HashRange.parse(" 3 / 4 ") == HashRange(3, 4)
    assert str(HashRange(1, 2)) == "1/2" and HashRange(1, 2).label == "1-of-2"
    assert HashRange.parse("0/1").whole and not HashRange(0, 2).whole


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2/2", "not below the count 2"),
        ("0/0", "count must be 1-256"),
        ("0/300", "count must be 1-256"),
        ("half", "must be <index>/<count>"),
        ("-1/2", "must be <index>/<count>"),
        ("", "must be <index>/<count>"),
    ],
)
def test_a_bad_cell_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HashRange.parse(text)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 256])
def test_the_cells_of_a_count_tile_the_whole_hash_space(count: int) -> None:
    ranges = cells(count)
    assert ranges[0].start == 0 and ranges[-1].end == HASH_SPACE
    assert all(a.end == b.start for a, b in itertools.pairwise(ranges))
    assert all(r.start < r.end for r in ranges)


def test_the_first_half_is_where_kinesis_cuts_two_uniform_shards() -> None:
    assert HashRange(0, 2).end == 2**127 == HashRange(1, 2).start
    assert HashRange(1, 4).start == 2**126 and HashRange(1, 4).end == 2**127


@pytest.mark.parametrize("count", [2, 3, 5])
def test_every_card_belongs_to_exactly_one_cell_by_the_hash_of_its_token(count: int) -> None:
    cards = [f"tok_{n:05d}" for n in range(400)]
    owners = {card: [c for c in cells(count) if c.owns(card)] for card in cards}
    assert all(len(found) == 1 for found in owners.values())
    for card, (cell,) in owners.items():
        assert cell.start <= hash_key(card) < cell.end
    per_cell = [sum(1 for found in owners.values() if found[0] == c) for c in cells(count)]
    assert min(per_cell) > 400 / count / 2  # MD5 spreads cards evenly enough


def test_a_cell_split_in_two_hands_each_card_to_one_half() -> None:
    whole, halves = HashRange(1, 2), cells(4)[2:]
    for n in range(200):
        card = f"tok_{n}"
        assert whole.owns(card) == any(h.owns(card) for h in halves)


def test_shards_meeting_and_inside_a_cell() -> None:
    quarter = 2**126
    first = HashRange(0, 2)
    shards = [(k * quarter, (k + 1) * quarter - 1) for k in range(4)]  # Kinesis's uniform 4
    assert [first.overlaps(*s) for s in shards] == [True, True, False, False]
    assert [first.inside(*s) for s in shards] == [True, True, False, False]
    merged = (quarter, 3 * quarter - 1)  # shards 1 and 2 merged: straddles the cut
    assert first.overlaps(*merged) and HashRange(1, 2).overlaps(*merged)
    assert not first.inside(*merged) and not HashRange(1, 2).inside(*merged)
    assert first.overlaps(2**127 - 1, 2**127 - 1) and not first.overlaps(2**127, 2**127)


def test_hashes_are_remembered_but_equal_kinesis_s() -> None:
    assert hash_of("tok_1") == hash_key("tok_1") == hash_of("tok_1")


def test_the_setting_gives_each_cell_its_own_checkpoint_and_source_option(tmp_path: Path) -> None:
    from fraudstream.settings import Settings
    from processor.kinesis.options import options_from_settings

    whole = Settings(state_dir=tmp_path, checkpoint_location="s3a://b/checkpoints/processor/")
    assert whole.cell == HashRange(0, 1)
    assert whole.checkpoint_dir == "s3a://b/checkpoints/processor/"
    assert "hashRange" not in options_from_settings(whole)
    half = whole.model_copy(update={"hash_range": "1/2"})
    assert half.checkpoint_dir == "s3a://b/checkpoints/processor/cells/1-of-2"
    assert options_from_settings(half)["hashRange"] == "1/2"
    local = Settings(state_dir=tmp_path, hash_range=" 0 / 4 ")
    assert local.hash_range == "0/4"
    assert local.checkpoint_dir == str(tmp_path / "checkpoints" / "processor" / "cells" / "0-of-4")
    with pytest.raises(ValidationError, match="cell index 4 is not below the count 4"):
        Settings(hash_range="4/4")
