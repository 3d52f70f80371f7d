"""Open the lake's Delta tables for the query tool: the tool's only I/O.

Each table is read through the ``deltalake`` library at its latest version, or at the version
that was current at ``as_of`` (time travel), with the endpoint, region and credentials
:mod:`fraudstream.aws` gives boto3 (``AWS_ENDPOINT_URL_S3``, then ``AWS_ENDPOINT_URL`` /
``FRAUDSTREAM_ENDPOINT_URL``, then AWS), so the tool reads the emulator, LocalStack or AWS alike.

Which files belong to a table is what its transaction log says at that version, exactly as
Athena reads it: a file a failed attempt left behind, or one compaction replaced, is not part
of the table. The columns come from :func:`fraudstream.lake_tables.arrow_schema` (partition keys
``dt`` and ``hour`` as strings), so a table with nothing written yet is an empty table with
every column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.dataset as ds

from fraudstream import aws, lake_tables
from fraudstream.errors import ResourceMissingError
from fraudstream.lake import tables
from fraudstream.lake.errors import LakeReadError
from fraudstream.settings import Settings

if TYPE_CHECKING:
    from deltalake import DeltaTable


@dataclass(frozen=True)
class LakeObject:
    """One data file of a table version: its path under the table root, size and partition."""

    path: str
    size: int
    rows: int
    partition: tuple[str, ...]


@dataclass(frozen=True)
class TableListing:
    """The files a table's queries read at the version the store opened (None: no table)."""

    name: str
    version: int | None
    objects: tuple[LakeObject, ...]

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.objects)


@dataclass(frozen=True)
class TableStats:
    """What ``fraudstream lake tables`` shows for one table."""

    name: str
    version: int | None
    objects: int
    rows: int
    bytes: int
    partitions: int
    first_partition: str | None
    last_partition: str | None


def _objects(table: DeltaTable) -> tuple[LakeObject, ...]:
    actions = pa.table(table.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return ()
    records = (
        actions.column("num_records").to_pylist() if "num_records" in actions.schema.names else None
    )
    found = []
    for index, row in enumerate(
        actions.select(["path", "size_bytes", "partition.dt", "partition.hour"]).to_pylist()
    ):
        rows = (records[index] if records else None) or 0
        partition = (row["partition.dt"], row["partition.hour"])
        found.append(LakeObject(row["path"], int(row["size_bytes"]), int(rows), partition))
    return tuple(sorted(found, key=lambda o: o.path))


class LakeStore:
    """The lake's tables under ``root`` (``s3://<bucket>`` or, in tests, a local folder) as
    Arrow datasets and statistics, at their latest version or as of a time.

    :meth:`from_settings` builds the S3 one with deltalake's options from the settings.
    """

    def __init__(
        self,
        root: str,
        options: dict[str, str] | None = None,
        *,
        as_of: datetime | int | None = None,
        where: str = "",
        settings: Settings | None = None,
    ) -> None:
        self.root = root.rstrip("/")
        self.options = options or {}
        self.as_of = as_of
        self.where = where or "the configured endpoint"
        self.settings = settings
        self._tables: dict[str, DeltaTable | None] = {}
        self._listings: dict[str, TableListing] = {}
        self._bucket_ok = settings is None

    @classmethod
    def from_settings(cls, settings: Settings, *, as_of: datetime | int | None = None) -> LakeStore:
        where = aws.endpoint_for("s3", settings) or f"AWS ({settings.region})"
        return cls(
            f"s3://{settings.bucket}",
            tables.storage_options(settings),
            as_of=as_of,
            where=where,
            settings=settings,
        )

    @property
    def bucket(self) -> str:
        return self.root.removeprefix("s3://")

    def _check_bucket(self) -> None:
        """Fail clearly on a missing bucket: it would otherwise read as an empty lake."""
        if self._bucket_ok or self.settings is None:
            return
        s3 = aws.client("s3", self.settings)
        try:
            s3.head_bucket(Bucket=self.settings.bucket)
        except Exception as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code")
            if code in ("403", "AccessDenied", "Forbidden"):
                # S3 answers 404 for a bucket that does not exist, so this one does; a role
                # whose s3:ListBucket is held to some prefixes (the IRSA roles) may not
                # HeadBucket it. Reading those prefixes says whether it may read them.
                self._bucket_ok = True
                return
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise ResourceMissingError(
                    f"lake bucket {self.settings.bucket!r} not found at {self.where} "
                    "(run `fraudstream stack up`, or set FRAUDSTREAM_BUCKET)"
                ) from error
            raise LakeReadError(
                f"cannot reach s3://{self.settings.bucket} at {self.where}: {error}"
            ) from error
        self._bucket_ok = True

    def table(self, name: str) -> DeltaTable | None:
        """Table ``name`` at the store's version (None when it does not exist yet)."""
        if name not in self._tables:
            self._check_bucket()
            spec = lake_tables.table(name)
            if self.settings is not None:
                found = tables.open_table(self.settings, name, as_of=self.as_of)
            else:
                uri = f"{self.root}/{spec.prefix.rstrip('/')}"
                found = tables.open_uri(uri, self.options, as_of=self.as_of)
            self._tables[name] = found
        return self._tables[name]

    def listing(self, name: str) -> TableListing:
        """The data files of table ``name`` at the store's version."""
        if name not in self._listings:
            table = self.table(name)
            self._listings[name] = TableListing(
                name=name,
                version=None if table is None else table.version(),
                objects=() if table is None else _objects(table),
            )
        return self._listings[name]

    def dataset(self, name: str) -> ds.Dataset | pa.Table:
        """Table ``name`` as a lazy Arrow dataset (nothing read until a query scans it; DuckDB
        pushes projections and partition filters down), or an empty table with every column."""
        schema = lake_tables.arrow_schema(name, with_partitions=True)
        table = self.table(name)
        if table is None:
            return schema.empty_table()
        try:
            return table.to_pyarrow_dataset(schema=schema)
        except (OSError, pa.ArrowInvalid, ValueError) as error:
            raise LakeReadError(f"cannot open table {name!r}: {error}") from error

    def stats(self, name: str) -> TableStats:
        """Files, rows (from the log's statistics), bytes and partitions of table ``name``."""
        listing = self.listing(name)
        partitions = sorted({"/".join(o.partition) for o in listing.objects})
        return TableStats(
            name=name,
            version=listing.version,
            objects=len(listing.objects),
            rows=sum(o.rows for o in listing.objects),
            bytes=listing.bytes,
            partitions=len(partitions),
            first_partition=partitions[0] if partitions else None,
            last_partition=partitions[-1] if partitions else None,
        )
