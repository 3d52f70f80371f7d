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
import os
import re
from pathlib import Path
from typing import Any

from fraudstream import aws
from fraudstream.settings import Settings

_NAME = re.compile(r"^batch-(\d{12})\.json\.gz$")


def _name(batch_id: int) -> str:
    return f"batch-{batch_id:012d}.json.gz"


class DriverStateStore:
    def __init__(self, location: str, settings: Settings, keep: int = 3) -> None:
        if keep < 2:
            raise ValueError("keep at least two snapshots (the current and the one before)")
        self.keep = keep
        self._settings = settings
        match = re.match(r"^s3a?://([^/]+)/?(.*)$", location)
        if match:
            self._bucket: str | None = match.group(1)
            self._prefix = match.group(2).strip("/") + "/" if match.group(2).strip("/") else ""
            self._s3 = aws.client("s3", settings)
            self._dir: Path | None = None
        else:
            self._bucket = None
            self._dir = Path(location)
            self._dir.mkdir(parents=True, exist_ok=True)

    # -- listing -----------------------------------------------------------------------------
    def _batch_ids(self) -> list[int]:
        if self._dir is not None:
            names = [p.name for p in self._dir.iterdir()]
        else:
            names = []
            paginator = self._s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix):
                names += [obj["Key"][len(self._prefix) :] for obj in page.get("Contents", [])]
        return sorted(int(m.group(1)) for n in names if (m := _NAME.match(n)))

    # -- reading and writing -----------------------------------------------------------------
    def load_before(self, batch_id: int) -> tuple[int, dict[str, Any]] | None:
        """The newest snapshot saved by a batch before ``batch_id``, with that batch's id."""
        older = [b for b in self._batch_ids() if b < batch_id]
        if not older:
            return None
        newest = older[-1]
        if self._dir is not None:
            raw = (self._dir / _name(newest)).read_bytes()
        else:
            raw = self._s3.get_object(Bucket=self._bucket, Key=self._prefix + _name(newest))[
                "Body"
            ].read()
        data: dict[str, Any] = json.loads(gzip.decompress(raw))
        return newest, data

    def save(self, batch_id: int, data: dict[str, Any]) -> None:
        """Write the state after ``batch_id`` atomically, then drop snapshots beyond ``keep``."""
        raw = gzip.compress(json.dumps(data, separators=(",", ":")).encode(), compresslevel=3)
        if self._dir is not None:
            target = self._dir / _name(batch_id)
            temporary = target.with_suffix(".tmp")
            temporary.write_bytes(raw)
            os.replace(temporary, target)
        else:
            self._s3.put_object(Bucket=self._bucket, Key=self._prefix + _name(batch_id), Body=raw)
        for stale in [b for b in self._batch_ids() if b <= batch_id][: -self.keep]:
            self._delete(stale)

    def _delete(self, batch_id: int) -> None:
        if self._dir is not None:
            (self._dir / _name(batch_id)).unlink(missing_ok=True)
        else:
            self._s3.delete_object(Bucket=self._bucket, Key=self._prefix + _name(batch_id))
