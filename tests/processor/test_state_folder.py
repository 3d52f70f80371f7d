"""The state folder's listing, read once and then kept by its own writes and deletes, stays the
folder's real content (local and S3), and a new object finds what an earlier one left."""

from __future__ import annotations

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
