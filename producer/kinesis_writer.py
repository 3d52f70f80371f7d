"""Batching Kinesis writer that retries only what failed.

Records are buffered into PutRecords calls of at most 500 records and 5 MiB. A call can
succeed partially: the response's ``FailedRecordCount`` and per-record ``ErrorCode`` say which
records to send again, after an exponential backoff with full jitter. A throttled or dropped
call as a whole is retried the same way. Records still failing after ``max_attempts`` raise
:class:`~producer.errors.DeliveryError`: nothing is dropped silently.

The boto3 client should be made with ``max_attempts=1`` so botocore does not retry whole
batches behind our back (see :func:`fraudstream.aws.client`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fraudstream.errors import ResourceMissingError
from producer.errors import DeliveryError

log = logging.getLogger(__name__)

MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024
RETRYABLE_CALL_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "LimitExceededException",
        "InternalFailure",
        "ServiceUnavailable",
        "KMSThrottlingException",
    }
)


@dataclass
class WriterStats:
    """Running totals, safe to read from a progress display."""

    sent: int = 0  # records Kinesis accepted
    retried: int = 0  # record sends that failed and were retried
    requests: int = 0  # PutRecords calls made
    bytes: int = 0  # payload bytes accepted
    undelivered: int = 0  # records given up on (raises DeliveryError)


@dataclass(frozen=True)
class _Entry:
    data: bytes
    partition_key: str

    @property
    def size(self) -> int:
        return len(self.data) + len(self.partition_key.encode())


class KinesisWriter:
    """Buffers records and writes them with PutRecords; call :meth:`flush` before exiting."""

    def __init__(
        self,
        client: Any,
        stream_name: str,
        *,
        max_attempts: int = 20,
        base_backoff: float = 0.05,
        max_backoff: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.client = client
        self.stream_name = stream_name
        self.max_attempts = max_attempts
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.stats = WriterStats()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._buffer: list[_Entry] = []
        self._buffer_bytes = 0

    def put(self, data: bytes, partition_key: str) -> None:
        """Queue one record; sends a batch whenever the buffer reaches a PutRecords limit."""
        entry = _Entry(data, partition_key)
        if entry.size > MAX_RECORD_BYTES:
            raise ValueError(f"record of {entry.size} bytes exceeds Kinesis' 1 MiB limit")
        if not 1 <= len(partition_key) <= 256:
            raise ValueError("partition key must be 1-256 characters")
        if (
            len(self._buffer) >= MAX_BATCH_RECORDS
            or self._buffer_bytes + entry.size > MAX_BATCH_BYTES
        ):
            self.flush()
        self._buffer.append(entry)
        self._buffer_bytes += entry.size

    def flush(self) -> None:
        """Send everything buffered, retrying failed records until delivered or given up."""
        if not self._buffer:
            return
        batch, self._buffer, self._buffer_bytes = self._buffer, [], 0
        self._send(batch)

    def _backoff(self, attempt: int) -> None:
        ceiling = min(self.max_backoff, self.base_backoff * 2**attempt)
        self._sleep(self._rng.uniform(0, ceiling))  # full jitter

    def _send(self, batch: list[_Entry]) -> None:
        pending = batch
        for attempt in range(self.max_attempts):
            if attempt:
                self._backoff(attempt)
            try:
                response = self._call(pending)
            except _RetryableCall as error:
                log.debug("PutRecords call failed (%s); retrying %d records", error, len(pending))
                self.stats.retried += len(pending)
                continue
            failed = [
                entry
                for entry, result in zip(pending, response["Records"], strict=True)
                if result.get("ErrorCode")
            ]
            accepted = len(pending) - len(failed)
            self.stats.sent += accepted
            self.stats.bytes += sum(e.size for e in pending) - sum(e.size for e in failed)
            if not failed:
                return
            self.stats.retried += len(failed)
            pending = failed
        self.stats.undelivered += len(pending)
        raise DeliveryError(
            f"{len(pending)} record(s) not delivered to stream {self.stream_name} after "
            f"{self.max_attempts} attempts",
            undelivered=len(pending),
        )

    def _call(self, entries: list[_Entry]) -> dict[str, Any]:
        self.stats.requests += 1
        try:
            response: dict[str, Any] = self.client.put_records(
                StreamName=self.stream_name,
                Records=[{"Data": e.data, "PartitionKey": e.partition_key} for e in entries],
            )
            return response
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                raise ResourceMissingError(
                    f"Kinesis stream {self.stream_name} does not exist "
                    "(start the local stack with `fraudstream stack up`?)"
                ) from error
            if (
                code in RETRYABLE_CALL_ERRORS
                or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
            ):
                raise _RetryableCall(code) from error
            raise
        except BotoCoreError as error:  # connection reset, timeout: the call may be retried
            raise _RetryableCall(type(error).__name__) from error


class _RetryableCall(Exception):
    """A whole PutRecords call failed in a way worth retrying."""
