from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream import aws
from fraudstream.settings import Settings, load_settings
from processor.driver_state import DriverStateStore


def exercise(store: DriverStateStore) -> None:
    assert store.load_before(0) is None
    for batch in range(5):
        store.save(batch, {"batch": batch, "merchants": {"m1": [batch]}})
    assert store.load_before(5) == (4, {"batch": 4, "merchants": {"m1": [4]}})
    assert store.load_before(4) == (3, {"batch": 3, "merchants": {"m1": [3]}})  # a re-run of 4
    assert store.load_before(2) is None  # older than what is kept (3 snapshots)
    store.save(4, {"batch": 4, "again": True})  # the re-run overwrites its own snapshot
    assert store.load_before(5) == (4, {"batch": 4, "again": True})


def test_local_folder(tmp_path: Path) -> None:
    exercise(DriverStateStore(str(tmp_path / "state"), load_settings()))
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == [
        "batch-000000000002.json.gz",
        "batch-000000000003.json.gz",
        "batch-000000000004.json.gz",
    ]
    with pytest.raises(ValueError, match="two"):
        DriverStateStore(str(tmp_path), load_settings(), keep=1)


@pytest.mark.integration
def test_s3_location(local_stack: Settings) -> None:
    exercise(DriverStateStore(f"s3a://{local_stack.bucket}/checkpoints/driver", local_stack))
    keys = aws.client("s3", local_stack).list_objects_v2(
        Bucket=local_stack.bucket, Prefix="checkpoints/driver/"
    )["Contents"]
    assert len(keys) == 3
