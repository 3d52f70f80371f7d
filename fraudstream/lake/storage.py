"""Find and open the lake's Parquet objects in S3: the tool's only I/O.

Objects are read with pyarrow's S3 filesystem, pointed at the endpoint and credentials
:mod:`fraudstream.aws` gives boto3 (``AWS_ENDPOINT_URL_S3``, then ``AWS_ENDPOINT_URL`` /
``FRAUDSTREAM_ENDPOINT_URL``, then AWS), so the tool reads the emulator, LocalStack or AWS alike.

Which objects belong to a table follows Athena's rules for the Glue tables: files under the
table's prefix laid out as its partition keys (``dt=.../hour=.../name``), skipping hidden files
(names starting with ``_`` or ``.``). The schema never comes from the files: it is
:func:`fraudstream.lake_tables.arrow_schema`, with the partition keys as string columns, so an
empty table still has every column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from fraudstream import aws, lake_tables
from fraudstream.errors import ResourceMissingError
from fraudstream.lake.errors import LakeReadError
from fraudstream.settings import Settings


@dataclass(frozen=True)
class LakeObject:
    """One Parquet object of a table: its filesystem path (``bucket/key``) and partition."""

    path: str
    size: int
    partition: tuple[str, ...]


@dataclass(frozen=True)
class TableListing:
    """The objects a table's queries read, and how many files under its prefix were skipped."""

    name: str
    base: str
    objects: tuple[LakeObject, ...]
    skipped: int

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.objects)


@dataclass(frozen=True)
class TableStats:
    """What ``fraudstream lake tables`` shows for one table."""

    name: str
    objects: int
    rows: int
    bytes: int
    partitions: int
    first_partition: str | None
    last_partition: str | None


def partition_of(relative_path: str, keys: Sequence[str]) -> tuple[str, ...] | None:
    """Partition values of a path relative to the table's prefix, or None if Athena skips it.

    ``dt=2026-01-01/hour=05/batch-1.parquet`` with keys ``(dt, hour)`` gives
    ``("2026-01-01", "05")``; a file outside that layout or with a hidden name gives None.
    """
    parts = relative_path.split("/")
    if len(parts) != len(keys) + 1 or parts[-1].startswith(("_", ".")) or not parts[-1]:
        return None
    values = []
    for key, part in zip(keys, parts[:-1], strict=True):
        name, sep, value = part.partition("=")
        if not sep or name != key or not value:
            return None
        values.append(value)
    return tuple(values)


def filesystem(settings: Settings) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem with the endpoint, region and credentials boto3 would use."""
    credentials = aws.session(settings).get_credentials()
    kwargs: dict[str, object] = {"region": settings.region, "connect_timeout": 5.0}
    kwargs["request_timeout"] = 30.0
    endpoint = aws.endpoint_for("s3", settings)
    if endpoint:
        kwargs["endpoint_override"] = endpoint
    if credentials is not None:  # else pyarrow's own default chain
        frozen = credentials.get_frozen_credentials()
        kwargs.update(
            access_key=frozen.access_key,
            secret_key=frozen.secret_key,
            session_token=frozen.token,
        )
    return pafs.S3FileSystem(**kwargs)


class LakeStore:
    """The lake bucket as tables: listings, Arrow datasets and statistics.

    Takes the filesystem as an argument (tests and other callers can pass any pyarrow
    filesystem); :meth:`from_settings` builds the S3 one.
    """

    def __init__(self, fs: pafs.FileSystem, bucket: str, *, where: str = "") -> None:
        self.fs = fs
        self.bucket = bucket
        self.where = where or "the configured endpoint"
        self._listings: dict[str, TableListing] = {}
        self._bucket_ok = False

    @classmethod
    def from_settings(cls, settings: Settings) -> LakeStore:
        where = aws.endpoint_for("s3", settings) or f"AWS ({settings.region})"
        return cls(filesystem(settings), settings.bucket, where=where)

    def _check_bucket(self) -> None:
        """Fail clearly on a missing bucket: listing one would just find no objects."""
        if self._bucket_ok:
            return
        try:
            info = self.fs.get_file_info(self.bucket)
        except OSError as error:
            raise LakeReadError(
                f"cannot reach s3://{self.bucket} at {self.where}: {error}"
            ) from error
        if info.type == pafs.FileType.NotFound:
            raise ResourceMissingError(
                f"lake bucket {self.bucket!r} not found at {self.where} "
                "(run `fraudstream stack up`, or set FRAUDSTREAM_BUCKET)"
            )
        self._bucket_ok = True

    def listing(self, name: str) -> TableListing:
        """The objects of table ``name`` (cached for this store's life)."""
        if name not in self._listings:
            self._listings[name] = self._list(name)
        return self._listings[name]

    def _list(self, name: str) -> TableListing:
        self._check_bucket()
        spec = lake_tables.table(name)
        base = f"{self.bucket}/{spec.prefix.rstrip('/')}"
        keys = [c.name for c in spec.partition_keys]
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        try:
            infos = self.fs.get_file_info(selector)
        except OSError as error:
            raise LakeReadError(f"cannot list s3://{base}/ at {self.where}: {error}") from error
        objects, skipped = [], 0
        for info in infos:
            if info.type != pafs.FileType.File:
                continue
            partition = partition_of(info.path[len(base) + 1 :], keys)
            if partition is None:
                skipped += 1
            else:
                objects.append(LakeObject(info.path, info.size or 0, partition))
        objects.sort(key=lambda o: o.path)
        return TableListing(name=name, base=base, objects=tuple(objects), skipped=skipped)

    def dataset(self, name: str) -> ds.Dataset:
        """Table ``name`` as a lazy Arrow dataset: its schema from lake_tables, hive partitions
        as columns, and nothing read until a query scans it (DuckDB pushes projections and
        partition filters down)."""
        listing = self.listing(name)
        spec = lake_tables.table(name)
        partitioning = ds.partitioning(
            pa.schema([pa.field(c.name, pa.string()) for c in spec.partition_keys]),
            flavor="hive",
        )
        try:
            return ds.dataset(
                [o.path for o in listing.objects],
                schema=lake_tables.arrow_schema(name, with_partitions=True),
                format="parquet",
                filesystem=self.fs,
                partitioning=partitioning,
                partition_base_dir=listing.base,
            )
        except (OSError, pa.ArrowInvalid) as error:
            raise LakeReadError(f"cannot open table {name!r}: {error}") from error

    def stats(self, name: str) -> TableStats:
        """Objects, rows (from the Parquet footers), bytes and partitions of table ``name``."""
        listing = self.listing(name)
        try:
            rows = self.dataset(name).count_rows()
        except (OSError, pa.ArrowInvalid) as error:
            raise LakeReadError(f"cannot read table {name!r}: {error}") from error
        partitions = sorted({"/".join(o.partition) for o in listing.objects})
        return TableStats(
            name=name,
            objects=len(listing.objects),
            rows=rows,
            bytes=listing.bytes,
            partitions=len(partitions),
            first_partition=partitions[0] if partitions else None,
            last_partition=partitions[-1] if partitions else None,
        )
