"""Write review and block decisions to the DynamoDB alerts table, idempotently.

Key: ``card_id`` (hash) and ``alert_key`` = ``<event_time RFC 3339>#<transaction_id>``
(range), so a replayed decision overwrites its own item and one card's alerts read back in
time order. Each item carries the decision, score, reasons, amount, merchant, model version,
event time and ``expires_at`` (epoch seconds, event time + ``alert_ttl_days``: derived from the
event so a replay writes the identical item).

Pure logic (:func:`alert_items`, built from Arrow columns, and :func:`chunks`) is separate
from the I/O loop (:class:`AlertWriter`): BatchWriteItem in batches of 25, several in parallel,
each re-queueing its ``UnprocessedItems`` and retrying throttling with backoff.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraudstream import aws
from fraudstream.alerts_table import ALERTS_HASH_KEY, ALERTS_RANGE_KEY, ALERTS_TTL_ATTRIBUTE
from fraudstream.events import format_time
from fraudstream.retry import Backoff, Undelivered, deliver
from fraudstream.settings import Settings
from processor.errors import ProcessorError, SinkError

log = logging.getLogger(__name__)

ALERT_DECISIONS = ("review", "block")
BATCH_SIZE = 25  # BatchWriteItem's limit
REQUIRED_COLUMNS = (
    "transaction_id",
    "card_id",
    "merchant_id",
    "amount",
    "event_time",
    "score",
    "decision",
    "reasons",
    "model_version",
)
OPTIONAL_COLUMNS = ("currency", "scored_by")

Item = dict[str, dict[str, Any]]


class AlertSchemaError(ProcessorError):
    """Rows lack a column an alert item needs."""


def alert_key(event_time: datetime, transaction_id: str) -> str:
    return f"{format_time(event_time)}#{transaction_id}"


def _table(rows: pa.Table | pd.DataFrame) -> pa.Table:
    names = list(rows.columns) if isinstance(rows, pd.DataFrame) else rows.column_names
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise AlertSchemaError(f"rows for alerts lack: {', '.join(missing)}")
    wanted = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in names]
    if isinstance(rows, pd.DataFrame):
        table = pa.Table.from_pandas(rows[wanted], preserve_index=False)
    else:
        table = rows.select(wanted)
    mask = pc.is_in(table.column("decision"), value_set=pa.array(ALERT_DECISIONS))
    return table.filter(mask)


def _text_of(column: pa.ChunkedArray) -> pa.Array:
    return pc.cast(column, pa.string()).combine_chunks()


def _attribute(kind: str, values: pa.Array) -> pa.StructArray:
    """``{kind: value}`` per row, or ``{"NULL": true}`` where the value is null, as DynamoDB's
    attribute-value shape (the two forms are separate struct arrays, never both set)."""
    return pa.StructArray.from_arrays([values], [kind])


def _number(column: pa.ChunkedArray) -> pa.Array:
    """Numbers as DynamoDB's number strings; NaN and infinities become null (NULL)."""
    values = pc.cast(column, pa.float64()).combine_chunks()
    text = pc.cast(column, pa.string()).combine_chunks()
    return pc.if_else(pc.is_finite(values), text, pa.scalar(None, pa.string()))


def _utc(column: pa.ChunkedArray) -> pa.Array:
    values = column.combine_chunks()
    if pa.types.is_timestamp(values.type) and values.type.tz is None:
        values = values.cast(pa.timestamp(values.type.unit, tz="UTC"))
    return values.cast(pa.timestamp("us", tz="UTC"))


def _last_per_key(table: pa.Table) -> tuple[pa.Table, int]:
    """Rows with a repeated (card, event time, transaction) key dropped, the last kept:
    BatchWriteItem refuses a request that names one key twice."""
    key = pc.binary_join_element_wise(
        _text_of(table.column("card_id")),
        pc.cast(pc.cast(_utc(table.column("event_time")), pa.int64()), pa.string()),
        _text_of(table.column("transaction_id")),
        "\x1f",
    )
    if pc.count_distinct(key).as_py() == table.num_rows:
        return table, 0
    values = key.to_numpy(zero_copy_only=False)[::-1]
    _, last = np.unique(values, return_index=True)
    keep = np.sort(table.num_rows - 1 - last)
    return table.take(pa.array(keep)), table.num_rows - len(keep)


def alert_items(rows: pa.Table | pd.DataFrame, ttl_days: int) -> tuple[list[Item], int]:
    """DynamoDB items (attribute-value form) for the review/block rows of ``rows``, one per
    key, and how many repeats were dropped.

    Built as Arrow columns (times formatted, keys joined, numbers rendered by Arrow) and turned
    into dicts in one conversion: no Python step per alert beyond the list the API takes."""
    table, repeats = _last_per_key(_table(rows))
    if table.num_rows == 0:
        return [], repeats
    event_time = _utc(table.column("event_time"))
    millis = pc.cast(
        pc.floor_temporal(event_time, unit="millisecond"), pa.timestamp("ms", tz="UTC")
    )
    stamp = pc.binary_join_element_wise(
        pc.strftime(millis, format="%Y-%m-%dT%H:%M:%S"), pa.scalar("Z"), ""
    )
    transaction_id = _text_of(table.column("transaction_id"))
    seconds = pc.divide(pc.cast(event_time, pa.int64()), 1_000_000)
    expires = pc.add(seconds, int(timedelta(days=ttl_days).total_seconds()))
    reasons = table.column("reasons").combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(reasons), 0).to_numpy(zero_copy_only=False)
    offsets = pa.array(np.r_[0, np.cumsum(lengths)].astype(np.int32))
    reason_values = pc.fill_null(pc.list_flatten(reasons), "")
    reason_list = pa.ListArray.from_arrays(
        offsets, pa.StructArray.from_arrays([reason_values], ["S"])
    )
    columns: dict[str, pa.Array] = {
        ALERTS_HASH_KEY: _attribute("S", _text_of(table.column("card_id"))),
        ALERTS_RANGE_KEY: _attribute("S", pc.binary_join_element_wise(stamp, transaction_id, "#")),
        "transaction_id": _attribute("S", transaction_id),
        "decision": _attribute("S", _text_of(table.column("decision"))),
        "score": _attribute("N", _number(table.column("score"))),
        "reasons": pa.StructArray.from_arrays([reason_list], ["L"]),
        "amount": _attribute("N", _number(table.column("amount"))),
        "merchant_id": _attribute("S", _text_of(table.column("merchant_id"))),
        "model_version": _attribute("S", _text_of(table.column("model_version"))),
        "event_time": _attribute("S", stamp),
        ALERTS_TTL_ATTRIBUTE: _attribute("N", pc.cast(expires, pa.string())),
    }
    for name in OPTIONAL_COLUMNS:
        if name in table.column_names:
            columns[name] = _attribute("S", _text_of(table.column(name)))
    items: list[Item] = pa.StructArray.from_arrays(
        list(columns.values()), list(columns)
    ).to_pylist()
    for name, column in columns.items():  # nulls become DynamoDB's NULL (rare: optional fields)
        values = column.field(0)
        if name != "reasons" and values.null_count:
            for row in np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False)):
                items[row][name] = {"NULL": True}
    return items, repeats


def chunks(items: Sequence[Item], size: int = BATCH_SIZE) -> Iterator[list[Item]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


@dataclass
class AlertWriteResult:
    """What one :meth:`AlertWriter.write` call did."""

    items: int = 0
    duplicates: int = 0
    requests: int = 0
    unprocessed: int = 0  # items the table handed back and that were re-queued
    throttled: int = 0  # whole requests refused with a transient error and retried
    seconds: float = 0.0


class AlertWriter:
    """Writes alert items with parallel BatchWriteItem calls; one instance per process.

    ``dynamodb`` defaults to ``aws.client("dynamodb", settings, max_attempts=1)`` (a single
    attempt per call): this class retries, giving up on a batch after ``max_attempts``
    consecutive calls that made no progress.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        dynamodb: Any | None = None,
        max_workers: int = 8,
        max_attempts: int | None = None,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table = settings.alerts_table
        self.ttl_days = settings.alert_ttl_days
        self.max_attempts = max_attempts or settings.sink_max_attempts
        self.backoff = backoff or Backoff()
        self.sleep = sleep
        # the items are built by alert_items, never by hand: botocore's parameter check
        # (5.0 -> 3.2 ms of CPU per 25-item call) would only re-check that code
        self._dynamodb = dynamodb or aws.client(
            "dynamodb",
            settings,
            max_attempts=1,
            max_pool_connections=max(10, max_workers),
            validate=False,
        )
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="alerts")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> AlertWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, rows: pa.Table | pd.DataFrame) -> AlertWriteResult:
        """Write the review/block rows of a decided batch; raise :class:`SinkError` on failure."""
        started = time.monotonic()
        items, duplicates = alert_items(rows, self.ttl_days)
        result = AlertWriteResult(items=len(items), duplicates=duplicates)
        futures = [self._pool.submit(self._write_batch, batch) for batch in chunks(items)]
        errors = []
        for future in futures:
            try:
                stats = future.result()
            except SinkError as error:
                errors.append(error)
                continue
            result.requests += stats.requests
            result.unprocessed += stats.unprocessed
            result.throttled += stats.throttled
        if errors:
            raise SinkError(
                f"alerts: {len(errors)} batch(es) failed; first: {errors[0]}"
            ) from errors[0]
        result.seconds = time.monotonic() - started
        return result

    def _write_batch(self, batch: list[Item]) -> AlertWriteResult:
        def send(pending: Sequence[Item]) -> list[Item]:
            response = self._dynamodb.batch_write_item(RequestItems={self.table: list(pending)})
            unprocessed: list[Item] = response.get("UnprocessedItems", {}).get(self.table, [])
            return unprocessed

        try:
            done = deliver(
                send,
                [{"PutRequest": {"Item": item}} for item in batch],
                max_stalls=self.max_attempts,
                backoff=self.backoff,
                sleep=self.sleep,
            )
        except Undelivered as error:
            if error.last is not None:
                raise SinkError(
                    f"alerts: BatchWriteItem to {self.table} failed {error.stalls} times in a "
                    f"row: {error.last}"
                ) from error.last
            raise SinkError(
                f"alerts: {len(error.pending)} item(s) still unprocessed by {self.table} "
                f"after {error.stalls} attempts without progress"
            ) from error
        except Exception as error:
            raise SinkError(f"alerts: BatchWriteItem to {self.table} failed: {error}") from error
        return AlertWriteResult(
            requests=done.calls, unprocessed=done.requeued, throttled=done.failed_calls
        )
