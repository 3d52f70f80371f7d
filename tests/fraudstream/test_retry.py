import random

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from processor.sinks.retry import Backoff, GaveUp, is_transient, retry


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
