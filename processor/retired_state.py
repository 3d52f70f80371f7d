"""Set aside the de-duplication state Spark kept in checkpoints from before ADR 0016.

Until then the plan de-duplicated in Spark (``dropDuplicatesWithinWatermark``), whose state
and its operator metadata live in ``<checkpoint>/query/state``. The plan now has no stateful
operator, and Spark refuses to run a query whose stateful operators differ from the metadata
it finds there (``STREAMING_STATEFUL_OPERATOR_NOT_MATCH_IN_STATE_METADATA``). Nothing in that
folder is needed any more (the offsets and commits are beside it), so an upgraded processor
moves it to ``<checkpoint>/retired-spark-state`` at start, once, and says so; an operator who
goes back to the older version can move it back.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from fraudstream import aws
from fraudstream.lake.tables import SPARK_QUERY_FOLDER
from fraudstream.settings import Settings

log = logging.getLogger(__name__)

RETIRED = "retired-spark-state"


def retire(settings: Settings) -> int:
    """Move ``<checkpoint>/query/state`` aside if it exists; how many files were moved."""
    root = settings.checkpoint_dir.rstrip("/")
    source, target = f"{SPARK_QUERY_FOLDER}/state", RETIRED
    s3 = aws.s3_location(root)
    if s3 is None:
        local = Path(root.removeprefix("file:"))
        moved = _move_local(local / source, local / target)
    else:
        bucket, prefix = s3
        base = f"{prefix}/" if prefix else ""
        moved = _move_s3(settings, bucket, f"{base}{source}/", f"{base}{target}/")
    if moved:
        log.warning(
            "checkpoint %s was written before the sink de-duplicated (ADR 0016): Spark's "
            "de-duplication state (%d files) moved to %s; it is not used any more",
            root,
            moved,
            f"{root}/{target}",
        )
    return moved


def _move_local(source: Path, target: Path) -> int:
    if not source.is_dir():
        return 0
    files = sum(1 for p in source.rglob("*") if p.is_file())
    if target.exists():  # a move interrupted half way, or an earlier retirement
        shutil.rmtree(target)
    source.rename(target)
    return files


def _move_s3(settings: Settings, bucket: str, prefix: str, destination: str) -> int:
    """Copy each object under ``prefix`` to ``destination``, then delete it (S3 has no rename);
    a move interrupted half way is finished by the next start."""
    s3 = aws.client("s3", settings)
    moved = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(prefix) :]
            s3.copy_object(
                Bucket=bucket,
                Key=destination + name,
                CopySource={"Bucket": bucket, "Key": obj["Key"]},
            )
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
            moved += 1
    return moved
