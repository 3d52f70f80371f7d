"""Write a micro-batch's rows to the S3 Parquet lake, idempotently.

Layout: ``s3://<bucket>/<table>/dt=YYYY-MM-DD/hour=HH/<name>.parquet`` (zstd), one object per
partition and batch (split past ``max_rows_per_object``), named from the micro-batch id:
``batch-000000000042-0000.parquet`` (prefixed ``<query>-`` when several queries write one
table). A replayed batch therefore rewrites the same keys, and any part a previous attempt
wrote beyond the new count is deleted, so the lake holds each row once.

Pure logic (:func:`conform`, :func:`plan`, :func:`encode`) is separate from the I/O
(:class:`LakeWriter`, which uploads with ``put_object`` through :func:`fraudstream.aws.client`,
in parallel, retrying transient failures with backoff).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fraudstream import aws, lake_tables
from fraudstream.settings import Settings
from processor.errors import ProcessorError, SinkError
from processor.sinks.retry import Backoff, GaveUp, retry

log = logging.getLogger(__name__)

PARTITION_TIME = {
    "transactions": "event_time",
    "aggregates": "window_start",
    "quarantine": "arrival_time",
    "labels": "label_time",
}
"""The column each table is partitioned by (dt/hour in UTC)."""
NULL_PARTITION = ("1970-01-01", "00")
"""Where rows whose partition time is null go (deterministic, so replays still overwrite)."""
COMPRESSION = "zstd"
_HOUR_US = 3_600_000_000


class LakeSchemaError(ProcessorError):
    """Rows cannot be shaped into a lake table (a column missing or of the wrong type)."""


@dataclass(frozen=True)
class LakeObject:
    """One Parquet object to write."""

    table: str
    key: str
    dt: str
    hour: str
    rows: pa.Table


@dataclass(frozen=True)
class WrittenObject:
    key: str
    rows: int
    bytes: int


@dataclass
class LakeWriteResult:
    """What one :meth:`LakeWriter.write_tables` call put in the lake."""

    batch_id: int
    written: list[WrittenObject] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    retries: int = 0
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(o.rows for o in self.written)


def _column(data: pa.Table | pd.DataFrame, name: str, target: pa.DataType) -> pa.Array:
    if isinstance(data, pd.DataFrame):
        series = data[name]
        if pa.types.is_timestamp(target) and pd.api.types.is_datetime64_any_dtype(series):
            if getattr(series.dt, "tz", None) is None:
                series = series.dt.tz_localize("UTC")
            return pa.array(series, type=target, from_pandas=True, safe=False)
        try:
            return pa.array(series, type=target, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return pa.array(list(series), type=target, from_pandas=True)
    column = data.column(name).combine_chunks()
    if column.type == target:
        return column
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(column.type):
        if column.type.tz is None:  # naive timestamps are UTC wall time
            column = column.cast(pa.timestamp(column.type.unit, tz="UTC"))
        return pc.cast(column, target, safe=False)
    try:
        return pc.cast(column, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return pa.array(column.to_pylist(), type=target)


def conform(table_name: str, data: pa.Table | pd.DataFrame, batch_id: int) -> pa.Table:
    """``data`` as exactly the lake table's columns and types, with ``batch_id`` filled in.

    Extra columns are dropped; a missing column (other than ``batch_id``) or a value that
    cannot be converted raises :class:`LakeSchemaError`.
    """
    schema = lake_tables.arrow_schema(table_name)
    names = list(data.columns) if isinstance(data, pd.DataFrame) else data.column_names
    rows = len(data)
    missing = [f.name for f in schema if f.name not in names and f.name != "batch_id"]
    if missing:
        raise LakeSchemaError(f"rows for lake table {table_name!r} lack: {', '.join(missing)}")
    arrays = []
    for target in schema:
        if target.name == "batch_id" and "batch_id" not in names:
            arrays.append(pa.array(np.full(rows, batch_id, dtype=np.int64)))
            continue
        try:
            arrays.append(_column(data, target.name, target.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError) as e:
            raise LakeSchemaError(
                f"column {target.name!r} of lake table {table_name!r} cannot be {target.type}: {e}"
            ) from e
    return pa.Table.from_arrays(arrays, schema=schema)


def partition_of(hour_bucket: int | None) -> tuple[str, str]:
    """(dt, hour) strings of an hour index since the epoch (None -> :data:`NULL_PARTITION`)."""
    if hour_bucket is None:
        return NULL_PARTITION
    moment = datetime.fromtimestamp(hour_bucket * 3600, UTC)
    return moment.strftime("%Y-%m-%d"), moment.strftime("%H")


def object_name(batch_id: int, part: int, query: str | None = None) -> str:
    prefix = f"{query}-" if query else ""
    return f"{prefix}batch-{batch_id:012d}-{part:04d}.parquet"


def batch_prefix(batch_id: int, query: str | None = None) -> str:
    """The start every object name of this batch shares (used to find stale parts)."""
    return object_name(batch_id, 0, query).rsplit("-", 1)[0] + "-"


def plan(
    table_name: str,
    rows: pa.Table,
    batch_id: int,
    *,
    query: str | None = None,
    max_rows_per_object: int = 1_000_000,
) -> list[LakeObject]:
    """Split conformed ``rows`` by UTC hour of the table's partition time into objects."""
    if rows.num_rows == 0:
        return []
    spec = lake_tables.table(table_name)
    times = rows.column(PARTITION_TIME[table_name]).combine_chunks()
    micros = pc.cast(times, pa.int64()).to_numpy(zero_copy_only=False)
    valid = times.is_valid().to_numpy(zero_copy_only=False)
    buckets = np.where(
        valid, np.floor_divide(np.nan_to_num(micros), _HOUR_US), np.iinfo(np.int64).min
    )
    order = np.argsort(buckets, kind="stable")
    unique, starts = np.unique(buckets[order], return_index=True)
    bounds = [*starts.tolist(), len(order)]
    objects = []
    for index, bucket in enumerate(unique.tolist()):
        dt, hour = partition_of(None if bucket == np.iinfo(np.int64).min else int(bucket))
        chosen = order[bounds[index] : bounds[index + 1]]
        part_rows = rows.take(pa.array(chosen))
        for part, start in enumerate(range(0, part_rows.num_rows, max_rows_per_object)):
            key = f"{spec.prefix}dt={dt}/hour={hour}/{object_name(batch_id, part, query)}"
            chunk = part_rows.slice(start, max_rows_per_object)
            objects.append(LakeObject(table_name, key, dt, hour, chunk))
    return objects


def encode(rows: pa.Table) -> bytes:
    """Parquet bytes (zstd) of ``rows``."""
    buffer = io.BytesIO()
    pq.write_table(rows, buffer, compression=COMPRESSION, use_dictionary=True)
    return buffer.getvalue()


class LakeWriter:
    """Uploads micro-batches to the lake bucket; one instance per process is enough.

    ``s3`` defaults to ``aws.client("s3", settings, max_attempts=1)`` (a single attempt per
    call): this class does the retrying (``max_attempts``
    attempts per call, backoff between) so the policy is in one place.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        s3: Any | None = None,
        query: str | None = None,
        max_attempts: int | None = None,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_workers: int = 8,
        max_rows_per_object: int = 1_000_000,
    ) -> None:
        self.bucket = settings.bucket
        self.query = query
        self.max_attempts = max_attempts or settings.sink_max_attempts
        self.backoff = backoff or Backoff()
        self.sleep = sleep
        self.max_rows_per_object = max_rows_per_object
        self._s3 = s3 or aws.client(
            "s3", settings, max_attempts=1, max_pool_connections=max(10, max_workers)
        )
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lake")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> LakeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(
        self, table_name: str, batch_id: int, data: pa.Table | pd.DataFrame
    ) -> LakeWriteResult:
        """Write one table's rows of micro-batch ``batch_id``."""
        return self.write_tables(batch_id, {table_name: data})

    def write_tables(
        self, batch_id: int, tables: Mapping[str, pa.Table | pd.DataFrame]
    ) -> LakeWriteResult:
        """Write several tables' rows of one micro-batch, all objects in parallel.

        Returns when every object is stored; raises :class:`SinkError` if one could not be
        (after retries), so the caller fails the batch and Spark replays it.
        """
        started = time.monotonic()
        objects: list[LakeObject] = []
        for name, data in tables.items():
            rows = conform(name, data, batch_id)
            objects.extend(
                plan(
                    name,
                    rows,
                    batch_id,
                    query=self.query,
                    max_rows_per_object=self.max_rows_per_object,
                )
            )
        result = LakeWriteResult(batch_id)
        retries = [0]

        def count(attempt: int, error: BaseException) -> None:
            retries[0] += 1
            log.warning("lake write retry %d: %s", attempt, error)

        futures = [self._pool.submit(self._put, obj, count) for obj in objects]
        result.written = [f.result() for f in futures]
        partitions = {(o.key.rsplit("/", 1)[0] + "/") for o in objects}
        removals = [
            self._pool.submit(self._remove_stale, p, batch_id, {o.key for o in objects}, count)
            for p in sorted(partitions)
        ]
        for future in removals:
            result.removed.extend(future.result())
        result.retries = retries[0]
        result.seconds = time.monotonic() - started
        return result

    def _call(
        self, what: str, call: Callable[[], Any], on_retry: Callable[[int, BaseException], None]
    ) -> Any:
        try:
            return retry(
                call,
                max_attempts=self.max_attempts,
                backoff=self.backoff,
                sleep=self.sleep,
                on_retry=on_retry,
            )
        except GaveUp as error:
            raise SinkError(
                f"lake: {what} failed after {error.attempts} attempts: {error.last}"
            ) from error
        except Exception as error:
            raise SinkError(f"lake: {what} failed: {error}") from error

    def _put(
        self, obj: LakeObject, on_retry: Callable[[int, BaseException], None]
    ) -> WrittenObject:
        body = encode(obj.rows)
        self._call(
            f"put s3://{self.bucket}/{obj.key}",
            lambda: self._s3.put_object(
                Bucket=self.bucket,
                Key=obj.key,
                Body=body,
                ContentType="application/vnd.apache.parquet",
            ),
            on_retry,
        )
        return WrittenObject(obj.key, obj.rows.num_rows, len(body))

    def _remove_stale(
        self,
        partition: str,
        batch_id: int,
        keep: set[str],
        on_retry: Callable[[int, BaseException], None],
    ) -> list[str]:
        prefix = partition + batch_prefix(batch_id, self.query)
        listing = self._call(
            f"list s3://{self.bucket}/{prefix}",
            lambda: self._s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix),
            on_retry,
        )
        stale = [o["Key"] for o in listing.get("Contents", []) if o["Key"] not in keep]
        for key in stale:
            self._call(
                f"delete s3://{self.bucket}/{key}",
                partial(self._s3.delete_object, Bucket=self.bucket, Key=key),
                on_retry,
            )
        return stale


def read_objects(s3: Any, bucket: str, keys: Iterable[str]) -> pa.Table:
    """Read lake objects back into one table (for tests and tools)."""
    tables = [
        pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=k)["Body"].read())) for k in keys
    ]
    return pa.concat_tables(tables)
