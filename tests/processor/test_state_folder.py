"""The state folder's listing, read once and then kept by its own writes and deletes, stays the
folder's real content (local and S3), and a new object finds what an earlier one left."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fraudstream.settings import Settings, load_settings
from processor.state_folder import StateFolder


def churn(folder: StateFolder) -> dict[str, int]:
    """Writes, an overwrite with a different size and deletes (one of a missing file), as the
    stores do over a few batches; returns what the folder should then hold."""
    assert folder.listing() == {}
    for batch in range(4):
        folder.write(f"delta-{batch}.arrow", b"x" * (10 + batch))
    folder.write("delta-2.arrow", b"y" * 50)  # a re-run of batch 2
    folder.delete("delta-0.arrow")
    folder.delete("never-written.arrow")
    expected = {"delta-1.arrow": 11, "delta-2.arrow": 50, "delta-3.arrow": 13}
    assert folder.listing() == expected
    assert folder.read("delta-2.arrow") == b"y" * 50
    return expected


def test_local_listing_follows_writes_and_deletes(tmp_path: Path) -> None:
    location = str(tmp_path / "state")
    expected = churn(StateFolder(location, load_settings()))
    assert StateFolder(location, load_settings()).listing() == expected
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == sorted(expected)


@pytest.mark.integration
def test_s3_listing_follows_writes_and_deletes(local_stack: Settings) -> None:
    location = f"s3a://{local_stack.bucket}/checkpoints/folder-test/"
    expected = churn(StateFolder(location, local_stack))
    assert StateFolder(location, local_stack).listing() == expected


def test_local_writers_of_one_name_at_once_do_not_collide(tmp_path: Path) -> None:
    """Cells starting together all record their count in the shared location: concurrent
    writes of one name must each land whole, none fail on another's temporary file."""
    location = str(tmp_path / "shared")
    folders = [StateFolder(location, load_settings()) for _ in range(6)]

    def write_many(folder: StateFolder, marker: bytes) -> None:
        for _ in range(150):
            folder.write("cells.json", marker)

    with ThreadPoolExecutor(len(folders)) as pool:
        jobs = [pool.submit(write_many, f, b"%d" % i) for i, f in enumerate(folders)]
        for job in jobs:
            job.result()
    assert (tmp_path / "shared" / "cells.json").read_bytes() in {b"%d" % i for i in range(6)}
    assert [p.name for p in (tmp_path / "shared").iterdir()] == ["cells.json"]
