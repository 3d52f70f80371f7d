"""The one retry policy for the platform's calls: what is worth another try, how long to wait.

- :func:`is_transient`: throttling, server-side errors (HTTP 429 and 5xx) and dropped or timed
  out connections are worth retrying; a caller's error (403, validation, a missing resource)
  is not. :func:`is_throttling` picks out the throttles, which the Kinesis source handles per
  shard rather than inside the call.
- :class:`Backoff`: capped exponential backoff with jitter.
- :func:`retry`: a whole call, again until it succeeds or the attempts run out.
- :func:`deliver`: a batch whose calls can succeed in part (Kinesis ``PutRecords``'
  ``FailedRecordCount``, DynamoDB ``BatchWriteItem``'s ``UnprocessedItems``): only what failed
  is sent again, and the batch is given up only after attempts in a row that made no progress.

Clients that use these are made with botocore's retries off (``aws.client(...,
max_attempts=1)``), so each call is one attempt and the schedule here is the only one.
Plain Python with an injectable ``sleep`` and random source, so tests check the schedule
without waiting.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "KMSThrottlingException",
        "SlowDown",
    }
)
SERVER_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalFailureException",
        "InternalServerError",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "TransactionInProgressException",
    }
)
# Refused, reset, closed and timed-out connections, as botocore's standard retry mode counts
# them: its ConnectionError (refused, connect timeout, proxy, TLS) and HTTPClientError (closed
# connection, read timeout, a response cut off mid-stream).
CONNECTION_ERRORS = (BotoConnectionError, HTTPClientError)


def is_transient_status(status: int) -> bool:
    """HTTP statuses worth another try: 429 (too many requests) and any 5xx."""
    return status == 429 or 500 <= status <= 599


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def http_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_throttling(error: BaseException) -> bool:
    """True for an AWS error that says "too fast": the caller should slow down and try again."""
    return isinstance(error, ClientError) and error_code(error) in THROTTLING_CODES


def is_transient(error: BaseException) -> bool:
    """True for throttling, server-side 5xx and connection failures; False for caller errors."""
    if isinstance(error, CONNECTION_ERRORS):
        return True
    if isinstance(error, ClientError):
        code = error_code(error)
        return (
            code in THROTTLING_CODES
            or code in SERVER_CODES
            or is_transient_status(http_status(error))
        )
    return False


@dataclass
class Backoff:
    """Delay before retry ``n`` (1-based), from ``ceiling = min(cap, base * 2**(n-1))``: uniform
    in [0, ceiling] (full jitter, the default) or in [ceiling/2, ceiling] (equal jitter, for a
    receiver that should not be hit again at once)."""

    base: float = 0.05
    cap: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    jitter: Literal["full", "equal"] = "full"

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        if self.jitter == "equal":
            return ceiling / 2 + self.rng.uniform(0.0, ceiling / 2)
        return self.rng.uniform(0.0, ceiling)


@dataclass
class Streak:
    """Consecutive failures of one thing (a throttled Kinesis shard) and the delay before its
    next try: :meth:`next_delay` counts a failure, :meth:`reset` a success."""

    backoff: Backoff = field(default_factory=Backoff)
    attempts: int = 0

    def next_delay(self) -> float:
        self.attempts += 1
        return self.backoff.delay(self.attempts)

    def reset(self) -> None:
        self.attempts = 0


class GaveUp(Exception):
    """The last transient error after every attempt was used (``attempts`` says how many)."""

    def __init__(self, attempts: int, last: BaseException) -> None:
        super().__init__(f"gave up after {attempts} attempt(s): {last}")
        self.attempts = attempts
        self.last = last


def retry(
    call: Callable[[], T],
    *,
    max_attempts: int,
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
    transient: Callable[[BaseException], bool] = is_transient,
    on_retry: Callable[[int, BaseException], None] | None = None,
) -> T:
    """``call()`` until it succeeds; a non-transient error is raised at once, and after
    ``max_attempts`` transient failures :class:`GaveUp` is raised from the last one."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except Exception as error:
            if not transient(error):
                raise
            if attempt >= max_attempts:
                raise GaveUp(attempt, error) from error
            if on_retry is not None:
                on_retry(attempt, error)
            sleep(backoff.delay(attempt))


class Undelivered(Exception):
    """Part of a batch still failed after ``stalls`` attempts in a row without progress.

    ``pending`` is what was not delivered; ``last`` the transient error of the last attempt, or
    None when the last call answered but handed items back."""

    def __init__(self, pending: Sequence[Any], stalls: int, last: BaseException | None) -> None:
        why = f": {last}" if last is not None else ""
        super().__init__(
            f"{len(pending)} item(s) not delivered after {stalls} attempt(s) without progress{why}"
        )
        self.pending = pending
        self.stalls = stalls
        self.last = last


@dataclass
class Delivery:
    """What :func:`deliver` did: calls made, calls refused whole, items handed back."""

    calls: int = 0
    failed_calls: int = 0
    requeued: int = 0


def deliver(
    send: Callable[[Sequence[T]], Sequence[T]],
    items: Sequence[T],
    *,
    max_stalls: int,
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
    transient: Callable[[BaseException], bool] = is_transient,
) -> Delivery:
    """Send ``items`` until every one is accepted, the partial-failure loop of batch APIs.

    ``send(pending)`` makes one call and returns the items the service handed back (failed
    records, unprocessed items); an exception is a call refused whole. A transient refusal, or
    an answer that accepted nothing, is a stall; after ``max_stalls`` stalls in a row
    :class:`Undelivered` is raised, and any progress starts the count again. A non-transient
    error is raised at once. Between attempts: ``backoff.delay(stalls)`` (at least delay 1)."""
    if max_stalls < 1:
        raise ValueError("max_stalls counts attempts, so it must be at least 1")
    done = Delivery()
    pending = items
    stalls = 0
    while pending:
        done.calls += 1
        try:
            failed = send(pending)
        except Exception as error:
            if not transient(error):
                raise
            done.failed_calls += 1
            stalls += 1
            if stalls >= max_stalls:
                raise Undelivered(pending, stalls, error) from error
            sleep(backoff.delay(stalls))
            continue
        if not failed:
            return done
        done.requeued += len(failed)
        stalls = stalls + 1 if len(failed) >= len(pending) else 0
        if stalls >= max_stalls:
            raise Undelivered(failed, stalls, None)
        pending = failed
        sleep(backoff.delay(max(1, stalls)))
    return done
