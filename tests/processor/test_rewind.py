"""A batch Spark committed before the sink finished it is given back to Spark at the next start;
the rule itself, and its reads and deletes on a local and an S3 checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream import aws
from fraudstream.settings import Settings, load_settings
from ml_model.features import FeatureConfig
from processor.rewind import MARKER, CheckpointMismatchError, Rewind, plan, rewind
from processor.sink_state import LOG_SCHEMA, SinkState, SinkStore
from processor.windows import WindowSpec


def test_the_sink_one_batch_short_rewinds_that_commit_and_what_was_planned_after() -> None:
    assert plan([0, 1, 2], [0, 1, 2, 3], finished=1) == Rewind(2, (3,))
    assert plan([0, 1, 2], [0, 1, 2], finished=1) == Rewind(2, ())
    assert plan([0], [0, 1], finished=None) == Rewind(0, (1,))


def test_nothing_to_rewind_when_the_sink_is_level_or_ahead() -> None:
    assert plan([], [0], finished=None) is None  # Spark committed nothing yet
    assert plan([0, 1, 2], [0, 1, 2, 3], finished=2) is None  # Spark re-runs 3 itself
    assert plan([0, 1], [0, 1, 2], finished=2) is None  # the sink finished 2, Spark did not


def test_a_sink_further_behind_is_another_run_and_refused() -> None:
    with pytest.raises(CheckpointMismatchError, match="committed batch 5 but the sink's state"):
        plan([4, 5], [4, 5], finished=3)
    with pytest.raises(CheckpointMismatchError, match="ends at no batch"):
        plan([4, 5], [4, 5], finished=None)


def store_at(settings: Settings, batches: list[int]) -> SinkStore:
    """The sink's store with ``batches`` finished (empty batches: each leaves a log)."""
    store = SinkStore(f"{settings.checkpoint_dir.rstrip('/')}/sink-state", settings)
    state = SinkState.empty(FeatureConfig(), WindowSpec(delay_ms=60_000))
    for batch_id in batches:
        store.save(batch_id, state, LOG_SCHEMA.empty_table())
    return store


def spark_log(root: Path, folder: str, ids: range) -> None:
    (root / "query" / folder).mkdir(parents=True, exist_ok=True)
    for batch_id in ids:
        (root / "query" / folder / str(batch_id)).write_text("v1\n{}")
        (root / "query" / folder / f".{batch_id}.crc").write_bytes(b"crc")


def listing(root: Path, folder: str) -> list[str]:
    return sorted(p.name for p in (root / "query" / folder).iterdir())


def test_a_local_checkpoint_loses_the_unfinished_commit_and_its_checksum(tmp_path: Path) -> None:
    settings = load_settings(checkpoint_location=str(tmp_path / "cp"))
    root = Path(settings.checkpoint_dir)
    store = store_at(settings, [0, 1])
    assert rewind(settings, store) is None  # first start of this design: marks the folder
    assert MARKER in store.folder.names()
    spark_log(root, "offsets", range(4))
    spark_log(root, "commits", range(3))
    assert rewind(settings, store) == Rewind(2, (3,))
    assert listing(root, "commits") == [".0.crc", ".1.crc", "0", "1"]
    assert listing(root, "offsets") == [".0.crc", ".1.crc", ".2.crc", "0", "1", "2"]
    assert rewind(settings, store) is None  # done once


def test_a_state_folder_from_before_this_design_is_not_compared(tmp_path: Path) -> None:
    # Its empty batches left no log, so its last log may be behind Spark's last commit.
    settings = load_settings(checkpoint_location=str(tmp_path / "cp"))
    root = Path(settings.checkpoint_dir)
    spark_log(root, "offsets", range(6))
    spark_log(root, "commits", range(6))
    store = store_at(settings, [2])
    assert rewind(settings, store) is None
    assert listing(root, "commits")[-1] == "5"


def test_a_checkpoint_spark_has_not_written_is_left_alone(tmp_path: Path) -> None:
    settings = load_settings(checkpoint_location=str(tmp_path / "cp"))
    store = store_at(settings, [])
    rewind(settings, store)
    assert rewind(settings, store) is None
    assert not (Path(settings.checkpoint_dir) / "query").exists()


@pytest.mark.integration
def test_an_s3_checkpoint_is_rewound_the_same_way(local_stack: Settings) -> None:
    prefix = "checkpoints/rewind-test"
    settings = local_stack.model_copy(
        update={"checkpoint_location": f"s3a://{local_stack.bucket}/{prefix}"}
    )
    s3 = aws.client("s3", settings)
    for folder, ids in (("offsets", range(3)), ("commits", range(3))):
        for batch_id in ids:
            s3.put_object(
                Bucket=settings.bucket, Key=f"{prefix}/query/{folder}/{batch_id}", Body=b""
            )
    store = store_at(settings, [0, 1])
    store.folder.write(MARKER, b"")
    assert rewind(settings, store) == Rewind(2, ())
    found = s3.list_objects_v2(Bucket=settings.bucket, Prefix=f"{prefix}/query/")["Contents"]
    keys = sorted(o["Key"].removeprefix(f"{prefix}/query/") for o in found)
    assert keys == ["commits/0", "commits/1", "offsets/0", "offsets/1", "offsets/2"]


@pytest.mark.integration
def test_a_refused_checkpoint_fails_the_start_before_spark_starts(
    local_stack: Settings,
    generator_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An operator pointing the job at another run's checkpoint gets the error at once, not
    after a JVM and a metrics server were started for nothing."""
    from processor import spark_session, streaming_job

    settings = local_stack.model_copy(
        update={"checkpoint_location": str(tmp_path / "cp"), "model_dir": generator_model_dir}
    )
    store = store_at(settings, [0, 1])
    rewind(settings, store)  # the folder is marked: compared from now on
    spark_log(Path(settings.checkpoint_dir), "offsets", range(5))
    spark_log(Path(settings.checkpoint_dir), "commits", range(5))
    started: list[Settings] = []
    monkeypatch.setattr(spark_session, "build_session", started.append)
    with pytest.raises(CheckpointMismatchError, match="committed batch 4"):
        streaming_job.start(settings)
    assert started == []
