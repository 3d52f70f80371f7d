import random
from collections.abc import Sequence

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from fraudstream.retry import (
    Backoff,
    GaveUp,
    Streak,
    Undelivered,
    deliver,
    is_throttling,
    is_transient,
    is_transient_status,
    retry,
)


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Op",
    )


def test_transient_classification() -> None:
    assert is_transient(client_error("ProvisionedThroughputExceededException"))
    assert is_transient(client_error("SlowDown", 503))
    assert is_transient(client_error("Whatever", 500))
    assert is_transient(EndpointConnectionError(endpoint_url="http://x"))
    assert not is_transient(client_error("AccessDenied", 403))
    assert not is_transient(client_error("ValidationException"))
    assert not is_transient(ValueError("bug"))


def test_one_classifier_for_every_service() -> None:
    # Kinesis, DynamoDB, S3, SageMaker and KMS throttles are throttles wherever they come from.
    for code in ("ProvisionedThroughputExceededException", "ThrottlingException", "SlowDown"):
        assert is_throttling(client_error(code)) and is_transient(client_error(code))
    assert is_transient(client_error("KMSThrottlingException"))
    assert is_transient(client_error("InternalFailure"))  # Kinesis' 500, code first
    assert is_transient(client_error("Anything", 429)) and is_transient(client_error("X", 503))
    assert not is_throttling(client_error("InternalFailure", 500))
    assert not is_throttling(client_error("ExpiredIteratorException"))
    assert is_transient(ReadTimeoutError(endpoint_url="http://x"))
    assert is_transient(ConnectTimeoutError(endpoint_url="http://x"))
    assert is_transient(ConnectionClosedError(endpoint_url="http://x"))  # a dropped connection
    assert not is_transient(NoCredentialsError())
    assert [s for s in (200, 301, 400, 404, 429, 500, 503, 599, 600) if is_transient_status(s)] == [
        429,
        500,
        503,
        599,
    ]


def test_backoff_is_capped_exponential_with_jitter() -> None:
    backoff = Backoff(base=0.1, cap=1.0, rng=random.Random(1))
    for attempt, ceiling in ((1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)):
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8


def test_retry_until_success_then_give_up() -> None:
    slept: list[float] = []
    outcomes = [client_error("SlowDown", 503), client_error("SlowDown", 503), "ok"]

    def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    retried: list[int] = []
    assert (
        retry(
            call,
            max_attempts=3,
            backoff=Backoff(),
            sleep=slept.append,
            on_retry=lambda n, e: retried.append(n),
        )
        == "ok"
    )
    assert len(slept) == 2 and retried == [1, 2]

    def always() -> None:
        raise client_error("ThrottlingException")

    with pytest.raises(GaveUp) as gave_up:
        retry(always, max_attempts=4, backoff=Backoff(), sleep=slept.append)
    assert gave_up.value.attempts == 4


def test_permanent_errors_are_not_retried() -> None:
    calls = []

    def denied() -> None:
        calls.append(1)
        raise client_error("AccessDenied", 403)

    with pytest.raises(ClientError):
        retry(denied, max_attempts=5, backoff=Backoff(), sleep=lambda s: None)
    assert len(calls) == 1


def test_equal_jitter_waits_at_least_half_the_ceiling() -> None:
    backoff = Backoff(base=0.5, cap=30.0, rng=random.Random(2), jitter="equal")
    for attempt, ceiling in ((1, 0.5), (3, 2.0), (7, 30.0), (12, 30.0)):
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)


def test_a_streak_counts_failures_until_reset() -> None:
    streak = Streak(Backoff(base=1.0, cap=4.0, rng=random.Random(3), jitter="equal"))
    delays = [streak.next_delay() for _ in range(4)]
    assert streak.attempts == 4
    assert 0.5 <= delays[0] <= 1.0 and 2.0 <= delays[3] <= 4.0
    streak.reset()
    assert streak.attempts == 0 and streak.next_delay() <= 1.0


class Service:
    """A batch API double: each call accepts the items ``accepting`` allows, hands back the rest
    (a partial failure), or raises the next queued error."""

    def __init__(self, accepting: list[int], errors: list[Exception] | None = None) -> None:
        self.accepting = accepting
        self.errors = errors or []
        self.accepted: list[int] = []
        self.calls: list[list[int]] = []

    def send(self, pending: Sequence[int]) -> list[int]:
        items = list(pending)
        self.calls.append(items)
        if self.errors:
            raise self.errors.pop(0)
        take = self.accepting.pop(0) if self.accepting else len(items)
        self.accepted += items[:take]
        return items[take:]


def test_deliver_resends_only_what_failed_until_all_is_accepted() -> None:
    service = Service(accepting=[4, 0, 3], errors=[])
    slept: list[float] = []
    done = deliver(
        service.send, list(range(10)), max_stalls=2, backoff=Backoff(), sleep=slept.append
    )
    assert sorted(service.accepted) == list(range(10))
    assert service.calls[1] == [4, 5, 6, 7, 8, 9]  # the six handed back, nothing else
    assert (done.calls, done.requeued, done.failed_calls) == (4, 6 + 6 + 3, 0)
    assert len(slept) == 3


def test_deliver_gives_up_after_stalls_in_a_row_not_after_progress() -> None:
    # One item a call: ten calls in all, far more than max_stalls, and never a stall.
    service = Service(accepting=[1] * 10)
    done = deliver(
        service.send, list(range(10)), max_stalls=2, backoff=Backoff(), sleep=lambda s: None
    )
    assert done.calls == 10 and sorted(service.accepted) == list(range(10))
    # Nothing accepted, twice in a row: given up, with what is left.
    stuck = Service(accepting=[3, 0, 0, 0])
    with pytest.raises(Undelivered, match="7 item") as caught:
        deliver(stuck.send, list(range(10)), max_stalls=2, backoff=Backoff(), sleep=lambda s: None)
    assert caught.value.pending == [3, 4, 5, 6, 7, 8, 9] and caught.value.stalls == 2
    assert caught.value.last is None and len(stuck.calls) == 3


def test_deliver_counts_refused_calls_as_stalls_and_raises_permanent_errors() -> None:
    throttled = Service(accepting=[], errors=[client_error("ThrottlingException")])
    done = deliver(throttled.send, [1, 2], max_stalls=2, backoff=Backoff(), sleep=lambda s: None)
    assert (done.calls, done.failed_calls) == (2, 1) and throttled.accepted == [1, 2]
    down = Service(accepting=[], errors=[client_error("ServiceUnavailable", 503)] * 3)
    with pytest.raises(Undelivered) as caught:
        deliver(down.send, [1], max_stalls=3, backoff=Backoff(), sleep=lambda s: None)
    assert isinstance(caught.value.last, ClientError) and len(down.calls) == 3
    denied = Service(accepting=[], errors=[client_error("AccessDenied", 403)])
    with pytest.raises(ClientError):
        deliver(denied.send, [1], max_stalls=5, backoff=Backoff(), sleep=lambda s: None)
    assert len(denied.calls) == 1
    with pytest.raises(ValueError, match="at least 1"):
        deliver(denied.send, [1], max_stalls=0, backoff=Backoff())
