"""The retry policy: pure."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from fraudstream.alerting.retry import RetryPolicy, Verdict, parse_retry_after


@pytest.mark.parametrize("status", [200, 201, 204])
def test_2xx_is_delivered(status: int) -> None:
    assert RetryPolicy().decide(1, status).verdict is Verdict.DELIVERED


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 301, 302])
def test_other_4xx_and_3xx_are_permanent_on_the_first_attempt(status: int) -> None:
    assert RetryPolicy(max_attempts=10).decide(1, status).verdict is Verdict.PERMANENT


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, None])
def test_5xx_429_and_no_response_retry_until_the_attempts_run_out(status: int | None) -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.decide(1, status).verdict is Verdict.RETRY
    assert policy.decide(2, status).verdict is Verdict.RETRY
    assert policy.decide(3, status).verdict is Verdict.EXHAUSTED


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(base=1.0, cap=8.0)
    rng = random.Random(1)
    delays = [policy.backoff(n, rng) for n in range(1, 8)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(8.0, 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 8.0


def test_retry_after_is_honoured_but_capped() -> None:
    policy = RetryPolicy(base=0.01, cap=0.01, max_retry_after=60)
    assert policy.decide(1, 429, retry_after=7).delay == 7
    assert policy.decide(1, 503, retry_after=3600).delay == 60
    assert policy.decide(1, 429, retry_after=None).delay <= 0.01


def test_retry_after_parses_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("5") == 5
    assert parse_retry_after("Sun, 22 Nov 2026 10:00:30 GMT", now) == 30
    assert parse_retry_after("Sun, 22 Nov 2026 09:00:00 GMT", now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-3") == 0


def test_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)
