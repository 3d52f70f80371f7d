"""A checkpoint from before the sink de-duplicated has Spark's state folder moved aside once,
the offsets and commits left where they are (local and S3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream import aws
from fraudstream.settings import Settings, load_settings
from processor.retired_state import RETIRED, retire

OLD_CHECKPOINT = {  # what Spark wrote for dropDuplicatesWithinWatermark, and beside it
    "query/state/0/0/1.delta": b"d",
    "query/state/0/1/1.delta": b"d",
    "query/state/0/_metadata/metadata": b"m",
    "query/offsets/0": b"o",
    "query/commits/0": b"c",
}


def test_a_local_checkpoint_keeps_its_offsets_and_loses_the_state_folder(tmp_path: Path) -> None:
    settings = load_settings(checkpoint_location=str(tmp_path / "cp"))
    root = Path(settings.checkpoint_dir)
    for name, data in OLD_CHECKPOINT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    assert retire(settings) == 3
    assert not (root / "query/state").exists()
    assert (root / RETIRED / "0/_metadata/metadata").read_bytes() == b"m"
    assert (root / "query/offsets/0").exists() and (root / "query/commits/0").exists()
    assert retire(settings) == 0  # once


def test_a_new_checkpoint_has_nothing_to_move(tmp_path: Path) -> None:
    assert retire(load_settings(checkpoint_location=str(tmp_path / "none"))) == 0


@pytest.mark.integration
def test_an_s3_checkpoint_has_its_state_objects_moved(local_stack: Settings) -> None:
    settings = local_stack.model_copy(
        update={"checkpoint_location": f"s3a://{local_stack.bucket}/checkpoints/retire-test"}
    )
    s3 = aws.client("s3", settings)
    for name, data in OLD_CHECKPOINT.items():
        s3.put_object(Bucket=settings.bucket, Key=f"checkpoints/retire-test/{name}", Body=data)
    assert retire(settings) == 3
    listing = s3.list_objects_v2(Bucket=settings.bucket, Prefix="checkpoints/retire-test/")
    keys = sorted(o["Key"].removeprefix("checkpoints/retire-test/") for o in listing["Contents"])
    moved = [f"{RETIRED}/0/0/1.delta", f"{RETIRED}/0/1/1.delta", f"{RETIRED}/0/_metadata/metadata"]
    assert keys == sorted(["query/offsets/0", "query/commits/0", *moved])
    assert retire(settings) == 0
