"""A folder of state files next to the checkpoint: a local directory, or an ``s3://`` /
``s3a://`` prefix written with boto3 (the driver's Python has no Hadoop filesystem).

The driver-side stores (:mod:`processor.driver_state`, :mod:`processor.keyed_store`) keep one
file per micro-batch here and find them again by name after a restart.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fraudstream import aws
from fraudstream.settings import Settings


class StateFolder:
    """Whole-file reads and writes; a local write is atomic (temporary file, then rename),
    an S3 put is atomic by nature.

    The folder is listed once, on first use, and the listing then kept up to date by
    :meth:`write` and :meth:`delete`: the stores list it on every micro-batch, which on S3 is a
    request per store and batch. This holds because one processor runs per checkpoint (two
    would corrupt Spark's own checkpoint as well), so nothing else writes here meanwhile.
    """

    def __init__(self, location: str, settings: Settings) -> None:
        self.location = location
        s3 = aws.s3_location(location)
        if s3 is not None:
            self._bucket: str | None = s3[0]
            self._prefix = s3[1] + "/" if s3[1] else ""
            self._s3 = aws.client("s3", settings)
            self._dir: Path | None = None
        else:
            self._bucket = None
            self._dir = Path(location)
            self._dir.mkdir(parents=True, exist_ok=True)
        self._listing: dict[str, int] | None = None

    def listing(self) -> dict[str, int]:
        """Name and size in bytes of each file in the folder (not recursive)."""
        if self._listing is None:
            self._listing = self._list()
        return dict(self._listing)

    def _list(self) -> dict[str, int]:
        if self._dir is not None:
            return {p.name: p.stat().st_size for p in self._dir.iterdir() if p.is_file()}
        found: dict[str, int] = {}
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix):
            for obj in page.get("Contents", []):
                name = obj["Key"][len(self._prefix) :]
                if "/" not in name:
                    found[name] = int(obj["Size"])
        return found

    def names(self) -> list[str]:
        """Names of the files in the folder (not recursive), unordered."""
        return list(self.listing())

    def read(self, name: str) -> bytes:
        if self._dir is not None:
            return (self._dir / name).read_bytes()
        body = self._s3.get_object(Bucket=self._bucket, Key=self._prefix + name)["Body"]
        data: bytes = body.read()
        return data

    def write(self, name: str, data: bytes) -> None:
        if self._dir is not None:
            # A temporary name of its own per write: the cells of one count all record their
            # count in the shared location at start, at the same moment.
            handle, temporary = tempfile.mkstemp(dir=self._dir, prefix=f".{name}.", suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, self._dir / name)
        else:
            self._s3.put_object(Bucket=self._bucket, Key=self._prefix + name, Body=data)
        if self._listing is not None:
            self._listing[name] = len(data)

    def delete(self, name: str) -> None:
        if self._dir is not None:
            (self._dir / name).unlink(missing_ok=True)
        else:
            self._s3.delete_object(Bucket=self._bucket, Key=self._prefix + name)
        if self._listing is not None:
            self._listing.pop(name, None)
