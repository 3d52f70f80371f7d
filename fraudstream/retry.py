"""Retry with capped exponential backoff and full jitter, for the sinks' AWS calls.

Plain Python with an injectable ``sleep`` and random source, so tests can check the schedule
without waiting. Which failures are worth retrying is decided by :func:`is_transient`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

T = TypeVar("T")

TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "TransactionInProgressException",
    }
)


def is_transient(error: BaseException) -> bool:
    """True for throttling, server-side 5xx and connection failures; False for caller errors."""
    if isinstance(
        error,
        BotoConnectionError
        | EndpointConnectionError
        | ConnectionClosedError
        | ReadTimeoutError
        | ConnectTimeoutError,
    ):
        return True
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in TRANSIENT_CODES or int(status or 0) >= 500
    return False


@dataclass
class Backoff:
    """Delay before retry ``n`` (1-based): uniform in [0, min(cap, base * 2**(n-1))]."""

    base: float = 0.05
    cap: float = 2.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0.0, min(self.cap, self.base * 2 ** (attempt - 1)))


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
