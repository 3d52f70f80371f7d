"""The Delta Lake transaction-log entries the processor writes itself: pure functions, no I/O.

A micro-batch appends to a lake table with one commit: its Parquet files are uploaded first,
then ``_delta_log/<version>.json`` is put *only if absent* (S3's ``If-None-Match: *``), so two
writers can never both take a version, and a reader sees all of a batch's files or none. The
commit holds a ``commitInfo``, an application transaction (``txn``: the streaming query's id
as ``appId`` and the micro-batch id as ``version``, as Spark's own Delta sink records them) and
one ``add`` per file. A replayed batch finds its ``txn`` already in the table and is skipped.

Everything else (creating tables, checkpoints, compaction, vacuum, reading any version) goes
through the ``deltalake`` library; see docs/adr/0009-lake-table-format.md for why appends do not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

LOG_FOLDER = "_delta_log"
ENGINE = "fraudstream-lake-writer"
PARTITION_COLUMNS = ("dt", "hour")


@dataclass(frozen=True)
class DataFile:
    """One Parquet file a commit adds: its path relative to the table's root and its partition."""

    path: str
    dt: str
    hour: str
    size: int
    rows: int


def log_key(table_prefix: str, version: int) -> str:
    """The S3 key of commit ``version`` of the table under ``table_prefix`` (ends with ``/``)."""
    return f"{table_prefix}{LOG_FOLDER}/{version:020d}.json"


def version_of(key: str) -> int | None:
    """The version of a commit file's key or name (``.../00000000000000000042.json`` -> 42);
    None for anything else in the log (checkpoints, ``_last_checkpoint``, temporary files)."""
    name = key.rsplit("/", 1)[-1]
    stem, dot, extension = name.partition(".")
    if extension != "json" or not dot or len(stem) != 20 or not stem.isdigit():
        return None
    return int(stem)


def app_tag(app_id: str) -> str:
    """Eight hex digits naming an application in file names (the full id is in the log)."""
    return hashlib.sha256(app_id.encode()).hexdigest()[:8]


def data_file_path(dt: str, hour: str, batch_id: int, app_id: str, part: int) -> str:
    """Where a batch's file goes, relative to the table root. The name derives from the batch,
    so an attempt that died before its commit is overwritten by the replay, not left behind."""
    name = f"part-{batch_id:012d}-{app_tag(app_id)}-{part:04d}.zstd.parquet"
    return f"dt={dt}/hour={hour}/{name}"


def append_commit(files: Iterable[DataFile], *, app_id: str, batch_id: int, now_ms: int) -> bytes:
    """The JSON lines of a blind append of ``files`` recording ``(app_id, batch_id)``."""
    added = list(files)
    actions: list[dict[str, Any]] = [
        {
            "commitInfo": {
                "timestamp": now_ms,
                "operation": "STREAMING UPDATE",
                "operationParameters": {
                    "outputMode": "Append",
                    "queryId": app_id,
                    "epochId": str(batch_id),
                },
                "isBlindAppend": True,
                "engineInfo": ENGINE,
                "operationMetrics": {
                    "numFiles": str(len(added)),
                    "numOutputRows": str(sum(f.rows for f in added)),
                    "numOutputBytes": str(sum(f.size for f in added)),
                },
            }
        },
        {"txn": {"appId": app_id, "version": batch_id, "lastUpdated": now_ms}},
    ]
    for f in added:
        actions.append(
            {
                "add": {
                    "path": f.path,
                    "partitionValues": {"dt": f.dt, "hour": f.hour},
                    "size": f.size,
                    "modificationTime": now_ms,
                    "dataChange": True,
                    "stats": json.dumps({"numRecords": f.rows}),
                }
            }
        )
    return "\n".join(json.dumps(a, separators=(",", ":")) for a in actions).encode() + b"\n"


@dataclass(frozen=True)
class CommitSummary:
    """What a commit written by anyone means to an appending writer."""

    txns: Mapping[str, int]
    changes_table: bool  # a protocol or metadata action: the writer must reload the table


def read_commit(text: bytes) -> CommitSummary:
    """The application transactions in one commit and whether it changes the table's schema or
    protocol (which a blind append must not race past)."""
    txns: dict[str, int] = {}
    changes = False
    for line in text.splitlines():
        if not line.strip():
            continue
        action = json.loads(line)
        if "txn" in action:
            txns[action["txn"]["appId"]] = int(action["txn"]["version"])
        if "metaData" in action or "protocol" in action:
            changes = True
    return CommitSummary(txns=txns, changes_table=changes)
