"""Compaction and retention of the lake's Delta tables (``fraudstream lake compact``).

The processor commits one small file per table, partition-hour and micro-batch: ~3,600 an hour
at one batch a second. Once an hour is *closed* (its end plus the watermark delay has passed,
so no more rows arrive for it), compaction rewrites its files into few files of about the target
size, one commit per partition (``deltalake``'s optimize: the old files are removed and the new
ones added atomically, with ``dataChange = false`` so streaming readers skip it). Then:

- ``vacuum`` deletes files no version younger than the retention references any more, and files
  the log never referenced (an attempt that died before its commit) once they are that old;
- a checkpoint is written and log entries older than the retention are removed.

It is safe while the processor writes: compaction only touches closed hours, and every commit
is a conditional put of the next log version, so the processor's appends and compaction's
rewrites each land whole, in some order, and neither loses the other's files
(tests/fraudstream/lake/test_maintenance.py runs them together). Time travel reaches back as far
as the retention: older versions' files are gone.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from fraudstream.lake import tables
from fraudstream.settings import Settings

if TYPE_CHECKING:
    from deltalake import DeltaTable, WriterProperties

log = logging.getLogger(__name__)

TARGET_FILE_MB = 128
"""Athena's guidance: files of 128 MB and up."""


@dataclass(frozen=True)
class CompactionResult:
    """What compaction did to one table."""

    table: str
    partitions: int  # partition-hours rewritten (a closed hour lost to late rows waits)
    files_removed: int
    files_added: int
    files_vacuumed: int
    version: int | None  # the table's version afterwards (None: no table)
    seconds: float


def hour_end(dt: str, hour: str) -> datetime:
    """The end of partition ``dt``/``hour`` (UTC)."""
    start = datetime.strptime(f"{dt} {hour}", "%Y-%m-%d %H").replace(tzinfo=UTC)
    return start + timedelta(hours=1)


def closed_partitions(
    partitions: Iterable[tuple[str, str]], *, now: datetime, settle: timedelta
) -> list[tuple[str, str]]:
    """Partition-hours holding more than one file whose hour ended at least ``settle`` before
    ``now``, oldest first. ``partitions`` has one entry per data file."""
    counts = Counter(partitions)
    return sorted(p for p, files in counts.items() if files > 1 and hour_end(*p) + settle <= now)


def _compact_partition(
    table: DeltaTable,
    dt: str,
    hour: str,
    target_bytes: int,
    properties: WriterProperties,
    attempts: int,
) -> dict[str, Any] | None:
    """Rewrite one partition-hour; None when every attempt lost to a concurrent commit.

    A late row the processor appends to the same hour while the rewrite runs makes the rewrite's
    commit fail (it read a partition that changed); it is retried on the newer version, and
    after ``attempts`` the hour is left for the next run. Nothing is lost either way: a failed
    rewrite commits nothing, and its files are unreferenced until vacuum deletes them.
    """
    from deltalake import CommitProperties
    from deltalake.exceptions import CommitFailedError

    for attempt in range(1, attempts + 1):
        try:
            metrics: dict[str, Any] = table.optimize.compact(
                partition_filters=[("dt", "=", dt), ("hour", "=", hour)],
                target_size=target_bytes,
                writer_properties=properties,
                # The processor commits every table each batch: let the rewrite re-check and
                # retry past many of its commits before starting over.
                commit_properties=CommitProperties(max_commit_retries=100),
            )
            return metrics
        except CommitFailedError as error:
            log.warning(
                "compaction of dt=%s/hour=%s lost to a concurrent commit (attempt %d): %s",
                dt,
                hour,
                attempt,
                error,
            )
            table.update_incremental()
    return None


def compact_table(
    settings: Settings,
    name: str,
    *,
    now: datetime,
    settle: timedelta,
    target_bytes: int = TARGET_FILE_MB * 1024 * 1024,
    retain: timedelta = timedelta(hours=tables.HISTORY_HOURS),
    attempts: int = 5,
) -> CompactionResult:
    """Compact the closed hours of table ``name``, vacuum, checkpoint and trim the log."""
    from deltalake import WriterProperties

    started = time.monotonic()
    table = tables.open_table(settings, name)
    if table is None:
        return CompactionResult(name, 0, 0, 0, 0, None, 0.0)
    actions = pa.table(table.get_add_actions(flatten=True))
    pairs = zip(
        actions.column("partition.dt").to_pylist(),
        actions.column("partition.hour").to_pylist(),
        strict=True,
    )
    chosen = closed_partitions(pairs, now=now, settle=settle)
    removed = added = done = 0
    properties = WriterProperties(compression="ZSTD")
    for dt, hour in chosen:
        metrics = _compact_partition(table, dt, hour, target_bytes, properties, attempts)
        if metrics is None:
            continue
        done += 1
        removed += int(metrics.get("numFilesRemoved", 0))
        added += int(metrics.get("numFilesAdded", 0))
        log.info("compacted %s dt=%s/hour=%s: %s", name, dt, hour, metrics)
    vacuumed = table.vacuum(
        retention_hours=max(0, int(retain.total_seconds() // 3600)),
        dry_run=False,
        enforce_retention_duration=False,
        full=True,
    )
    table.create_checkpoint()
    table.cleanup_metadata()
    return CompactionResult(
        table=name,
        partitions=done,
        files_removed=removed,
        files_added=added,
        files_vacuumed=len(vacuumed),
        version=table.version(),
        seconds=time.monotonic() - started,
    )
