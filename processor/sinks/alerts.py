"""Write review and block decisions to the DynamoDB alerts table, idempotently.

Key: ``card_id`` (hash) and ``alert_key`` = ``<event_time RFC 3339>#<transaction_id>``
(range), so a replayed decision overwrites its own item and one card's alerts read back in
time order. Each item carries the decision, score, reasons, amount, merchant, model version,
event time and ``expires_at`` (epoch seconds, event time + ``alert_ttl_days``: derived from the
event so a replay writes the identical item).

Pure logic (:func:`alert_items`, :func:`unique_items`, :func:`chunks`) is separate from the
I/O loop (:class:`AlertWriter`): BatchWriteItem in batches of 25, several in parallel, each
re-queueing its ``UnprocessedItems`` and retrying throttling with backoff.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa

from fraudstream import aws
from fraudstream.events import format_time
from fraudstream.settings import Settings
from fraudstream.stack.resources import ALERTS_HASH_KEY, ALERTS_RANGE_KEY, ALERTS_TTL_ATTRIBUTE
from processor.errors import ProcessorError, SinkError
from processor.sinks.retry import Backoff, is_transient

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


def _utc(value: Any) -> datetime:
    moment = pd.Timestamp(value).to_pydatetime()
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _number(value: Any) -> dict[str, Any]:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return {"NULL": True}
    return {"N": repr(float(value)) if isinstance(value, float) else str(int(value))}


def _text(value: Any) -> dict[str, Any]:
    return (
        {"NULL": True}
        if value is None or (isinstance(value, float) and math.isnan(value))
        else {"S": str(value)}
    )


def _records(rows: pa.Table | pd.DataFrame) -> list[dict[str, Any]]:
    names = list(rows.columns) if isinstance(rows, pd.DataFrame) else rows.column_names
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise AlertSchemaError(f"rows for alerts lack: {', '.join(missing)}")
    wanted = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in names]
    if isinstance(rows, pd.DataFrame):
        table = pa.Table.from_pandas(rows[wanted], preserve_index=False)
    else:
        table = rows.select(wanted)
    decisions = table.column("decision")
    mask = pa.compute.is_in(decisions, value_set=pa.array(ALERT_DECISIONS))
    records: list[dict[str, Any]] = table.filter(mask).to_pylist()
    return records


def alert_items(rows: pa.Table | pd.DataFrame, ttl_days: int) -> list[Item]:
    """DynamoDB items (attribute-value form) for the review/block rows of ``rows``."""
    ttl = timedelta(days=ttl_days)
    items = []
    for row in _records(rows):
        event_time = _utc(row["event_time"])
        item: Item = {
            ALERTS_HASH_KEY: {"S": str(row["card_id"])},
            ALERTS_RANGE_KEY: {"S": alert_key(event_time, str(row["transaction_id"]))},
            "transaction_id": {"S": str(row["transaction_id"])},
            "decision": {"S": str(row["decision"])},
            "score": _number(row["score"]),
            "reasons": {"L": [{"S": str(r)} for r in (row["reasons"] or [])]},
            "amount": _number(row["amount"]),
            "merchant_id": _text(row["merchant_id"]),
            "model_version": _text(row["model_version"]),
            "event_time": {"S": format_time(event_time)},
            ALERTS_TTL_ATTRIBUTE: {"N": str(int((event_time + ttl).timestamp()))},
        }
        for name in OPTIONAL_COLUMNS:
            if name in row:
                item[name] = _text(row[name])
        items.append(item)
    return items


def unique_items(items: Sequence[Item]) -> tuple[list[Item], int]:
    """Items with duplicate keys dropped (the last one wins), and how many were dropped.

    BatchWriteItem refuses a request that names one key twice.
    """
    latest: dict[tuple[str, str], Item] = {}
    for item in items:
        latest[(item[ALERTS_HASH_KEY]["S"], item[ALERTS_RANGE_KEY]["S"])] = item
    return list(latest.values()), len(items) - len(latest)


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
        self._dynamodb = dynamodb or aws.client(
            "dynamodb", settings, max_attempts=1, max_pool_connections=max(10, max_workers)
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
        items, duplicates = unique_items(alert_items(rows, self.ttl_days))
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
        stats = AlertWriteResult()
        pending = [{"PutRequest": {"Item": item}} for item in batch]
        stalled = 0
        while pending:
            stats.requests += 1
            try:
                response = self._dynamodb.batch_write_item(RequestItems={self.table: pending})
            except Exception as error:
                if not is_transient(error):
                    raise SinkError(
                        f"alerts: BatchWriteItem to {self.table} failed: {error}"
                    ) from error
                stats.throttled += 1
                stalled += 1
                if stalled >= self.max_attempts:
                    raise SinkError(
                        f"alerts: BatchWriteItem to {self.table} failed {stalled} times in a row: "
                        f"{error}"
                    ) from error
                self.sleep(self.backoff.delay(stalled))
                continue
            unprocessed = response.get("UnprocessedItems", {}).get(self.table, [])
            if not unprocessed:
                break
            stats.unprocessed += len(unprocessed)
            stalled = stalled + 1 if len(unprocessed) >= len(pending) else 0
            if stalled >= self.max_attempts:
                raise SinkError(
                    f"alerts: {len(unprocessed)} item(s) still unprocessed by {self.table} "
                    f"after {stalled} attempts without progress"
                )
            pending = unprocessed
            self.sleep(self.backoff.delay(max(1, stalled)))
        return stats
