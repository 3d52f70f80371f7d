"""When to post a webhook message again, and after how long: pure, so it is tested directly.

The statuses worth another try and the backoff are the platform's own
(:mod:`fraudstream.retry`); what is particular to a webhook is ``Retry-After`` and the
verdicts. The rules (docs/adr/0005-block-alert-webhook.md):

- 2xx: delivered.
- 429 and 5xx: the receiver is overloaded or broken and did not take the message; try again
  with capped exponential backoff, waiting at least what ``Retry-After`` asks for.
- Any other status (4xx such as 400 invalid_payload, 403, 404, 410 channel archived; and 3xx,
  which is not followed because a redirected POST would arrive as a GET): permanent, since
  sending the same body again cannot succeed.
- No response at all (refused, reset, timed out): try again, like a 5xx.

Attempts count the first post, so ``max_attempts=1`` means no retries.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum

from fraudstream.retry import Backoff, is_transient_status


class Verdict(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    PERMANENT = "permanent"  # the receiver refused the message: do not send it again
    EXHAUSTED = "exhausted"  # transient failures until the attempts ran out


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    delay: float = 0.0  # seconds to wait before the next attempt (RETRY only)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), else None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with equal jitter; ``Retry-After`` is honoured up to a cap.

    ``max_retry_after`` bounds how long one ``Retry-After`` can hold the notifier: a receiver
    asking for an hour would otherwise stall every block alert behind it.
    """

    max_attempts: int = 6
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts counts the first attempt, so it must be at least 1")
        if self.base < 0 or self.cap < 0 or self.max_retry_after < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay after failed attempt number ``attempt`` (1-based): half fixed, half random
        (the shared :class:`fraudstream.retry.Backoff` with equal jitter)."""
        delays = Backoff(self.base, self.cap, rng=rng or random.Random(), jitter="equal")
        return delays.delay(attempt)

    def decide(
        self,
        attempt: int,
        status: int | None,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> Decision:
        """What to do after attempt ``attempt`` ended with ``status`` (None: no response)."""
        if status is not None and 200 <= status <= 299:
            return Decision(Verdict.DELIVERED)
        if status is not None and not is_transient_status(status):
            return Decision(Verdict.PERMANENT)
        if attempt >= self.max_attempts:
            return Decision(Verdict.EXHAUSTED)
        delay = self.backoff(attempt, rng)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return Decision(Verdict.RETRY, delay)
