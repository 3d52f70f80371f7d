"""A new checkpoint of another cell count must not re-read the streams into the same lake."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream.settings import Settings
from processor.cell_checkpoint import CellCountError, check, problem


def test_only_a_new_checkpoint_of_another_count_from_trim_horizon_is_refused() -> None:
    assert problem(None, 2, True, "TRIM_HORIZON") is None  # nothing ran here
    assert problem(2, 2, True, "TRIM_HORIZON") is None  # another cell of the same count
    assert problem(1, 2, False, "TRIM_HORIZON") is None  # this cell's own checkpoint resumes
    assert problem(1, 2, True, "LATEST") is None  # reads only what comes next
    reason = problem(1, 2, True, "TRIM_HORIZON")
    assert reason is not None and "FRAUDSTREAM_STARTING_POSITION=LATEST" in reason


def started(settings: Settings) -> None:
    """What Spark leaves of a query that ran: its metadata file."""
    query = Path(settings.checkpoint_dir) / "query"
    query.mkdir(parents=True, exist_ok=True)
    (query / "metadata").write_text('{"id":"q"}')


def test_changing_the_cell_count_is_caught_both_ways(tmp_path: Path) -> None:
    one = Settings(state_dir=tmp_path, starting_position="TRIM_HORIZON")
    check(one)
    started(one)
    halves = [one.model_copy(update={"hash_range": f"{i}/2"}) for i in range(2)]
    with pytest.raises(CellCountError, match="used by 1 cell"):
        check(halves[0])
    later = [h.model_copy(update={"starting_position": "LATEST"}) for h in halves]
    check(later[0])  # records the count: 2
    started(later[0])
    check(halves[1])  # a cell of the same count may start from the beginning
    check(one)  # the old processor resumes its own checkpoint
    quarters = one.model_copy(update={"hash_range": "3/4"})
    with pytest.raises(CellCountError, match="used by 2 cell"):
        check(quarters)
    # back to one processor, on a location only cells used
    elsewhere = Settings(state_dir=tmp_path / "b", hash_range="1/2", starting_position="LATEST")
    check(elsewhere)
    with pytest.raises(CellCountError, match="used by 2 cell"):
        check(
            elsewhere.model_copy(update={"hash_range": "0/1", "starting_position": "TRIM_HORIZON"})
        )
    check(Settings(state_dir=tmp_path / "c", starting_position="TRIM_HORIZON"))  # nothing ran
