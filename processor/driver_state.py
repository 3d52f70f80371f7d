"""Snapshots of the state the batch sink keeps on the driver (merchant risk, open windows,
labels already applied), one per micro-batch, next to Spark's checkpoint.

Why per batch: Spark re-runs the last uncommitted micro-batch after a crash with exactly the
same input. The sink then loads the newest snapshot *older* than that batch, so the re-run
starts from the state the first attempt started from and produces the same output. A few
older snapshots are kept; anything from a batch id at or above the one being run is ignored.

Locations: a local folder, or ``s3://`` / ``s3a://`` (written with boto3, since the driver's
Python has no Hadoop filesystem).
"""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

from fraudstream.settings import Settings
from processor.state_folder import StateFolder

_NAME = re.compile(r"^batch-(\d{12})\.json\.gz$")


def _name(batch_id: int) -> str:
    return f"batch-{batch_id:012d}.json.gz"


class DriverStateStore:
    def __init__(self, location: str, settings: Settings, keep: int = 3) -> None:
        if keep < 2:
            raise ValueError("keep at least two snapshots (the current and the one before)")
        self.keep = keep
        self._folder = StateFolder(location, settings)

    def _batch_ids(self) -> list[int]:
        return sorted(int(m.group(1)) for n in self._folder.names() if (m := _NAME.match(n)))

    def load_before(self, batch_id: int) -> tuple[int, dict[str, Any]] | None:
        """The newest snapshot saved by a batch before ``batch_id``, with that batch's id."""
        older = [b for b in self._batch_ids() if b < batch_id]
        if not older:
            return None
        newest = older[-1]
        data: dict[str, Any] = json.loads(gzip.decompress(self._folder.read(_name(newest))))
        return newest, data

    def save(self, batch_id: int, data: dict[str, Any]) -> None:
        """Write the state after ``batch_id`` atomically, then drop snapshots beyond ``keep``."""
        raw = gzip.compress(json.dumps(data, separators=(",", ":")).encode(), compresslevel=3)
        self._folder.write(_name(batch_id), raw)
        for stale in [b for b in self._batch_ids() if b <= batch_id][: -self.keep]:
            self._folder.delete(_name(stale))
