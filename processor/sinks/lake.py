"""Append a micro-batch's rows to the lake's Delta tables, exactly once.

Each table gets one commit per micro-batch (tables with no rows in the batch get none): the
rows are split by UTC hour of the table's partition time into zstd Parquet files under
``<table>/dt=YYYY-MM-DD/hour=HH/``, uploaded in parallel, and then the commit
(:func:`fraudstream.lake.delta_log.append_commit`) is put at the table's next log version
only if that version is still free. The commit records the streaming query's id and the batch
id as a Delta application transaction, so a replayed batch whose commit is already in a table
is skipped there: every row is in the lake once, and a reader sees a batch's files all at once.

Another writer taking the version first (the compaction job, ``fraudstream lake compact``) is
not a failure: the writer reads the commits it missed and puts its own at the next version.
Transient failures are retried with backoff; one that persists raises :class:`SinkError`, so
the caller fails the batch and Spark replays it. Every ``CHECKPOINT_INTERVAL`` commits a
table's log gets a checkpoint (in the background, through ``deltalake``), so readers replay
at most that many commits. docs/lake.md describes the layout; docs/adr/0009 why Delta.

In the reliability tests only, a table's files stored (``lake-files``) and its commit put
(``lake-commit``) are crash points (:mod:`processor.crash`, ``FRAUDSTREAM_CRASH_AT``).

Pure logic (:func:`conform`, :func:`plan`, :func:`encode`) is separate from the I/O
(:class:`LakeWriter`).
"""

from __future__ import annotations

import functools
import io
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from fraudstream import aws, lake_tables
from fraudstream.lake import delta_log, tables
from fraudstream.lake.delta_log import DataFile
from fraudstream.lake.errors import LegacyLayoutError
from fraudstream.retry import Backoff, GaveUp, is_transient, retry
from fraudstream.settings import Settings
from processor.crash import from_setting
from processor.errors import ProcessorError, SinkError

log = logging.getLogger(__name__)

PARTITION_TIME = {
    "transactions": "event_time",
    "aggregates": "window_start",
    "quarantine": "arrival_time",
    "labels": "label_time",
    "model_monitoring": "computed_at",
    "shadow_scores": "event_time",
}
"""The column each table is partitioned by (dt/hour in UTC)."""
NULL_PARTITION = ("1970-01-01", "00")
"""Where rows whose partition time is null go."""
COMPRESSION = "zstd"
_HOUR_US = 3_600_000_000


class LakeSchemaError(ProcessorError):
    """Rows cannot be shaped into a lake table (a column missing or of the wrong type)."""


class CommitConflict(Exception):
    """Another writer took the log version first (S3 answered 412 to the conditional put)."""


@dataclass(frozen=True)
class LakeObject:
    """One Parquet file to write: its table, path relative to the table root and rows."""

    table: str
    path: str
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
    commits: dict[str, int] = field(default_factory=dict)
    """Table -> the log version this batch committed as."""
    skipped: list[str] = field(default_factory=list)
    """Tables that already held this batch (a replay): nothing was written to them."""
    retries: int = 0
    seconds: float = 0.0
    commit_seconds: float = 0.0
    """The longest of the tables' commit steps (after their files were stored): what the table
    format adds to a batch, since the tables commit in parallel."""

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
    chunked = data.column(name)
    # one chunk (the sink's tables): that array as it is; combining copies even a single
    # chunk, and the ``features`` map's copy cost 35 ms a 20,000-row batch
    column = chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()
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


_MAX_RUNS = 64  # beyond this many runs a row copy (take) is cheaper than so many slices


def _gather(rows: pa.Table, chosen: np.ndarray) -> pa.Table:
    """``rows`` at the ascending indices ``chosen``: zero-copy slices of the runs of
    consecutive rows when there are few (a micro-batch is a few time-ordered shard runs, so an
    hour's rows are a few runs), else one ``take``. Taking copied every row, the ``features``
    map's ~40 keys included: 8 % of the driver's CPU in a catch-up."""
    if len(chosen) == rows.num_rows:
        return rows  # every row, in order (ascending and complete)
    breaks = np.flatnonzero(np.diff(chosen) != 1) + 1
    if len(breaks) >= _MAX_RUNS:
        return rows.take(pa.array(chosen))
    starts = [0, *breaks.tolist()]
    stops = [*breaks.tolist(), len(chosen)]
    pieces = [rows.slice(int(chosen[a]), b - a) for a, b in zip(starts, stops, strict=True)]
    return pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]


def plan(
    table_name: str,
    rows: pa.Table,
    batch_id: int,
    app_id: str,
    *,
    max_rows_per_object: int = 1_000_000,
) -> list[LakeObject]:
    """Split conformed ``rows`` by UTC hour of the table's partition time into files."""
    if rows.num_rows == 0:
        return []
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
        part_rows = _gather(rows, order[bounds[index] : bounds[index + 1]])
        for part, start in enumerate(range(0, part_rows.num_rows, max_rows_per_object)):
            path = delta_log.data_file_path(dt, hour, batch_id, app_id, part)
            chunk = part_rows.slice(start, max_rows_per_object)
            objects.append(LakeObject(table_name, path, dt, hour, chunk))
    return objects


# IDs that are unique per row gain nothing from a dictionary; building one costs CPU.
_UNIQUE_TEXT = frozenset({"transaction_id", "sequence_number"})


@functools.lru_cache(maxsize=16)
def encoding_of(schema: pa.Schema) -> tuple[list[str], list[str]]:
    """(dictionary-encoded columns, columns with statistics) for a lake table's schema.

    Dictionaries for repeated text (cards, merchants, categories, decisions, map keys, reason
    codes), not for unique IDs or measured numbers; min/max statistics for every top-level
    column readers filter on, not inside the ``features`` map (its ~40 keys a row are most of
    a file's values). Against dictionaries and statistics everywhere this halves the encoding
    CPU of a transactions batch (7.0 -> 3.7 µs a row, benchmarks/batch_sink) and the files
    come out no larger."""
    dictionary: list[str] = []
    statistics: list[str] = []
    for column in schema:
        if pa.types.is_map(column.type):
            dictionary.append(f"{column.name}.key_value.key")
        elif pa.types.is_list(column.type):
            dictionary.append(f"{column.name}.list.element")
        else:
            statistics.append(column.name)
            if pa.types.is_string(column.type) and column.name not in _UNIQUE_TEXT:
                dictionary.append(column.name)
    return dictionary, statistics


def encode(rows: pa.Table) -> bytes:
    """Parquet bytes (zstd) of ``rows``: the data columns only (Delta keeps dt/hour in the log
    and the path, as Hive-style tables do)."""
    dictionary, statistics = encoding_of(rows.schema)
    buffer = io.BytesIO()
    pq.write_table(
        rows,
        buffer,
        compression=COMPRESSION,
        use_dictionary=dictionary,
        write_statistics=statistics,
    )
    return buffer.getvalue()


@dataclass
class _TableState:
    """What the writer knows of one table: its latest log version and this app's last batch."""

    version: int
    committed: int  # the last batch id of this app in the table; -1 for none
    since_checkpoint: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _delta_transient(error: BaseException) -> bool:
    """Transient for a deltalake call: botocore's transient errors, and the library's own I/O
    failures except those that retrying cannot fix (no table, protocol or schema mismatch)."""
    from deltalake.exceptions import (
        DeltaError,
        DeltaProtocolError,
        SchemaMismatchError,
        TableNotFoundError,
    )

    if isinstance(error, TableNotFoundError | DeltaProtocolError | SchemaMismatchError):
        return False
    return is_transient(error) or isinstance(error, OSError | DeltaError)


def _commit_transient(error: BaseException) -> bool:
    """S3 answers 409 when two conditional puts of one key race; the retry then gets 412."""
    code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
    return code == "ConditionalRequestConflict" or is_transient(error)


class LakeWriter:
    """Commits micro-batches to the lake's Delta tables; one instance per process is enough.

    ``query`` is the application id recorded with every commit; by default
    :func:`fraudstream.lake.tables.default_app_id`, read at the first write: the Spark
    streaming query's id. ``s3`` defaults to ``aws.client("s3", settings, max_attempts=1)``:
    this class does the retrying (``max_attempts`` attempts per call, backoff between) so the
    policy is in one place.
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
        checkpoint_interval: int = tables.CHECKPOINT_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.query = query
        self.max_attempts = max_attempts or settings.sink_max_attempts
        self.backoff = backoff or Backoff()
        self.sleep = sleep
        self.max_rows_per_object = max_rows_per_object
        self.checkpoint_interval = checkpoint_interval
        self.clock = clock
        self._s3 = s3 or aws.client(
            "s3", settings, max_attempts=1, max_pool_connections=max(10, max_workers + 4)
        )
        names = lake_tables.table_names()
        self._uploads = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lake")
        self._tables = ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="lake-table")
        self._checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake-ckpt")
        self._checkpoints: list[Future[None]] = []
        self._state: dict[str, _TableState] = {}
        self._state_locks = {name: threading.Lock() for name in names}
        self._app_id: str | None = None
        self._retries = 0
        self._retries_lock = threading.Lock()
        self.crash = from_setting(settings.crash_at)  # test only; None in production

    @property
    def app_id(self) -> str:
        """The id this writer's commits record (resolved once, at the first write)."""
        if self._app_id is None:
            self._app_id = self._resolve_app_id()
        return self._app_id

    def _resolve_app_id(self) -> str:
        return self._app_id or self.query or tables.default_app_id(self.settings)

    def close(self) -> None:
        """Wait for background checkpoints, then stop the threads."""
        for future in self._checkpoints:
            future.exception()
        self._checkpointer.shutdown(wait=True)
        self._tables.shutdown(wait=True)
        self._uploads.shutdown(wait=True)

    def __enter__(self) -> LakeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open_tables(self, app_id: str, names: Iterable[str]) -> list[Future[_TableState]]:
        """Open tables ``names`` now, in the background: create any that is missing, read its
        version and ``app_id``'s last batch, as the first write to it would. Started beside the
        query's first scan, so its first batch does not wait for it. Nothing is opened when this
        writer records another id than ``app_id``; a failure is logged, and the first write
        tries again."""
        # resolved as the first write will, but not kept: that write resolves it again
        if app_id != self._resolve_app_id():
            return []
        return [self._tables.submit(self._open_ahead, name, app_id) for name in names]

    def _open_ahead(self, name: str, app_id: str) -> _TableState:
        try:
            return self._table_state(name, app_id)
        except Exception as error:  # said before the future holds it, so callers see both
            log.info("lake: opening table %s ahead of the first batch failed (%s)", name, error)
            raise

    def write(
        self, table_name: str, batch_id: int, data: pa.Table | pd.DataFrame
    ) -> LakeWriteResult:
        """Write one table's rows of micro-batch ``batch_id``."""
        return self.write_tables(batch_id, {table_name: data})

    def write_tables(
        self, batch_id: int, tables_rows: Mapping[str, pa.Table | pd.DataFrame]
    ) -> LakeWriteResult:
        """Commit several tables' rows of one micro-batch, the tables in parallel.

        Returns when every table holds the batch (committed now, or found committed by an
        earlier attempt); raises :class:`SinkError` if a table could not be written after
        retries, once every other table's attempt has finished.
        """
        started = time.monotonic()
        conformed = {name: conform(name, data, batch_id) for name, data in tables_rows.items()}
        app_id = self.app_id
        with self._retries_lock:
            retries_before = self._retries
        futures = {
            name: self._tables.submit(self._write_table, name, rows, batch_id, app_id)
            for name, rows in conformed.items()
            if rows.num_rows
        }
        result = LakeWriteResult(batch_id)
        failure: Exception | None = None
        for name, future in futures.items():
            try:
                written, version, commit_seconds = future.result()
            except Exception as error:  # noqa: BLE001 - raised once the other tables finish
                failure = failure or error
                continue
            result.commit_seconds = max(result.commit_seconds, commit_seconds)
            if version is None:
                result.skipped.append(name)
            else:
                result.commits[name] = version
                result.written.extend(written)
        if failure is not None:
            if isinstance(failure, SinkError | LakeSchemaError | LegacyLayoutError):
                raise failure
            raise SinkError(f"lake: batch {batch_id} failed: {failure}") from failure
        with self._retries_lock:
            result.retries = self._retries - retries_before
        result.seconds = time.monotonic() - started
        if result.skipped:
            log.info("lake: batch %d already in %s; skipped", batch_id, ", ".join(result.skipped))
        return result

    # -- one table ------------------------------------------------------------------------------
    def _write_table(
        self, name: str, rows: pa.Table, batch_id: int, app_id: str
    ) -> tuple[list[WrittenObject], int | None, float]:
        """Upload and commit one table's rows; (written, version, seconds the commit took), or
        ([], None, 0) when the table already holds this batch."""
        state = self._table_state(name, app_id)
        with state.lock:
            if batch_id <= state.committed:
                return [], None, 0.0
            objects = plan(
                name, rows, batch_id, app_id, max_rows_per_object=self.max_rows_per_object
            )
            uploads = [self._uploads.submit(self._put, obj) for obj in objects]
            done = [u.result() for u in uploads]
            files = [f for _, f in done]
            if self.crash is not None:
                self.crash.reached("lake-files", batch_id)
            committing = time.monotonic()
            version = self._commit(name, state, files, batch_id, app_id)
            commit_seconds = time.monotonic() - committing
            if version is None:
                return [], None, commit_seconds
            if self.crash is not None:
                self.crash.reached("lake-commit", batch_id)
            state.since_checkpoint += 1
            if state.since_checkpoint >= self.checkpoint_interval:
                state.since_checkpoint = 0
                self._checkpoints = [f for f in self._checkpoints if not f.done()]
                self._checkpoints.append(self._checkpointer.submit(self._checkpoint, name))
            return [w for w, _ in done], version, commit_seconds

    def _table_state(self, name: str, app_id: str) -> _TableState:
        with self._state_locks[name]:
            if name not in self._state:
                self._state[name] = self._load_state(name, app_id)
            return self._state[name]

    def _load_state(self, name: str, app_id: str) -> _TableState:
        """Create the table if needed; read its version and this app's last batch."""
        from deltalake import DeltaTable

        def load() -> _TableState:
            tables.ensure_table(self.settings, name, s3=self._s3)
            table = DeltaTable(
                tables.table_uri(self.bucket, name),
                storage_options=tables.storage_options(self.settings),
            )
            version = table.version()
            committed = table.transaction_version(app_id)
            return _TableState(
                version=version,
                committed=-1 if committed is None else committed,
                since_checkpoint=version % self.checkpoint_interval,
            )

        return self._call(f"open table {name}", load, transient=_delta_transient)

    def _commit(
        self, name: str, state: _TableState, files: list[DataFile], batch_id: int, app_id: str
    ) -> int | None:
        """Put the commit at the next free version; None when the batch turns out committed
        already (an earlier attempt's put succeeded though its answer was lost)."""
        prefix = tables.table_prefix(name)
        while True:
            version = state.version + 1
            body = delta_log.append_commit(
                files, app_id=app_id, batch_id=batch_id, now_ms=int(self.clock() * 1000)
            )
            key = delta_log.log_key(prefix, version)
            try:
                self._call(
                    f"commit s3://{self.bucket}/{key}",
                    lambda key=key, body=body: self._put_if_absent(key, body),  # type: ignore[misc]
                    transient=_commit_transient,
                )
            except CommitConflict:
                if self._catch_up(name, state, batch_id, app_id):
                    return None
                continue
            state.version, state.committed = version, batch_id
            return version

    def _put_if_absent(self, key: str, body: bytes) -> None:
        try:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if error.response.get("Error", {}).get("Code") == "PreconditionFailed" or status == 412:
                raise CommitConflict(key) from error
            raise

    def _catch_up(self, name: str, state: _TableState, batch_id: int, app_id: str) -> bool:
        """Read the commits other writers added since ``state.version``; True when one of
        them holds this app's ``batch_id`` (or a later one)."""
        prefix = tables.table_prefix(name)
        while True:
            key = delta_log.log_key(prefix, state.version + 1)
            try:
                body = self._call(
                    f"read s3://{self.bucket}/{key}",
                    lambda key=key: self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read(),  # type: ignore[misc]
                )
            except SinkError as error:
                if _no_such_key(error.__cause__):
                    break
                raise
            summary = delta_log.read_commit(body)
            if summary.changes_table:
                raise SinkError(
                    f"lake: table {name} changed its schema or protocol at version "
                    f"{state.version + 1}; restart the processor to pick it up"
                )
            state.version += 1
            mine = summary.txns.get(app_id)
            if mine is not None:
                state.committed = max(state.committed, mine)
        log.info("lake: %s moved on to version %d under a concurrent writer", name, state.version)
        return batch_id <= state.committed

    def _checkpoint(self, name: str) -> None:
        """Write a checkpoint of the table's latest version (background; failures only logged:
        readers then replay more commits, nothing is lost)."""
        from deltalake import DeltaTable

        try:
            DeltaTable(
                tables.table_uri(self.bucket, name),
                storage_options=tables.storage_options(self.settings),
            ).create_checkpoint()
        except Exception as error:  # noqa: BLE001 - logged, the next interval tries again
            log.warning("lake: checkpoint of %s failed: %s", name, error)

    # -- I/O with retries ---------------------------------------------------------------------
    def _count(self, attempt: int, error: BaseException) -> None:
        with self._retries_lock:
            self._retries += 1
        log.warning("lake write retry %d: %s", attempt, error)

    def _call(
        self,
        what: str,
        call: Callable[[], Any],
        *,
        transient: Callable[[BaseException], bool] = is_transient,
    ) -> Any:
        try:
            return retry(
                call,
                max_attempts=self.max_attempts,
                backoff=self.backoff,
                sleep=self.sleep,
                transient=transient,
                on_retry=self._count,
            )
        except (CommitConflict, LegacyLayoutError):
            raise
        except GaveUp as error:
            raise SinkError(
                f"lake: {what} failed after {error.attempts} attempts: {error.last}"
            ) from error.last
        except Exception as error:
            raise SinkError(f"lake: {what} failed: {error}") from error

    def _put(self, obj: LakeObject) -> tuple[WrittenObject, DataFile]:
        body = encode(obj.rows)
        key = tables.table_prefix(obj.table) + obj.path
        self._call(
            f"put s3://{self.bucket}/{key}",
            lambda: self._s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/vnd.apache.parquet",
            ),
        )
        rows = obj.rows.num_rows
        return WrittenObject(key, rows, len(body)), DataFile(
            obj.path, obj.dt, obj.hour, len(body), rows
        )


def _no_such_key(error: BaseException | None) -> bool:
    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in (
        "NoSuchKey",
        "404",
    )
