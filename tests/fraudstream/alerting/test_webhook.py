"""Posting to a real local HTTP receiver: status handling, retries, Retry-After, no redirects."""

from __future__ import annotations

import logging

import pytest

from fraudstream.alerting.retry import RetryPolicy, Verdict
from fraudstream.alerting.webhook import Webhook
from tests.conftest import free_port
from tests.fraudstream.alerting.receiver import Receiver

pytestmark = pytest.mark.integration

FAST = RetryPolicy(max_attempts=4, base=0.01, cap=0.02)


def test_a_post_arrives_as_json_with_an_idempotency_key(receiver: Receiver) -> None:
    delivery = Webhook(receiver.url, policy=FAST).deliver({"text": "hello"}, key="card#key")
    assert delivery.delivered and delivery.attempts == 1
    (post,) = receiver.posts
    assert post.body == {"text": "hello"}
    assert post.headers["Content-Type"].startswith("application/json")
    assert post.headers["Idempotency-Key"] == "card#key"


def test_500s_are_retried_and_the_message_arrives_once(receiver: Receiver) -> None:
    receiver.fail_next(2, 500)
    delivery = Webhook(receiver.url, policy=FAST).deliver({"text": "x"})
    assert delivery.verdict is Verdict.DELIVERED and delivery.attempts == 3
    assert len(receiver.posts) == 3 and len(receiver.delivered) == 1


def test_429_waits_as_long_as_retry_after_says(receiver: Receiver) -> None:
    receiver.fail_next(1, 429, retry_after="2")
    waits: list[float] = []
    delivery = Webhook(receiver.url, policy=FAST, sleep=waits.append).deliver({"text": "x"})
    assert delivery.delivered
    assert waits == [2.0]


def test_400_is_permanent_and_not_retried(receiver: Receiver) -> None:
    receiver.answer_always(400)
    delivery = Webhook(receiver.url, policy=FAST).deliver({"text": "x"})
    assert delivery.verdict is Verdict.PERMANENT and delivery.attempts == 1
    assert delivery.status == 400 and "invalid_payload" in delivery.detail
    assert len(receiver.posts) == 1


def test_persistent_5xx_gives_up_after_max_attempts(receiver: Receiver) -> None:
    receiver.answer_always(503)
    delivery = Webhook(receiver.url, policy=FAST).deliver({"text": "x"})
    assert delivery.verdict is Verdict.EXHAUSTED and delivery.attempts == 4
    assert len(receiver.posts) == 4


def test_connection_refused_is_retried_then_given_up() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    delivery = Webhook(url, policy=FAST, timeout=1.0).deliver({"text": "x"})
    assert delivery.verdict is Verdict.EXHAUSTED and delivery.attempts == 4
    assert delivery.status is None and "no response" in delivery.detail


def test_the_url_is_not_shown() -> None:
    assert "XYZtoken" not in repr(Webhook("https://hooks.example/services/XYZtoken"))
    with pytest.raises(ValueError, match="http"):
        Webhook("file:///etc/passwd")


def test_a_malformed_url_never_puts_its_secret_path_in_a_log_or_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The defect: http.client's InvalidURL quoted the path, and the retry warning logged it."""
    url = "https://hooks.example/services/T000/B000/XYZtoken with-a-space"
    with caplog.at_level(logging.DEBUG), pytest.raises(ValueError, match="webhook URL") as refused:
        Webhook(url, policy=FAST, sleep=lambda _: None).deliver({"text": "x"})
    assert "XYZtoken" not in str(refused.value) + caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example/services/XYZtoken",  # plain HTTP off loopback
        "https://169.254.169.254/latest/meta-data/XYZtoken",
        "https://[fd00:ec2::254]/XYZtoken",
        "https://user:pass@hooks.example/XYZtoken",
    ],
)
def test_unsafe_urls_are_refused_before_any_request(url: str) -> None:
    with pytest.raises(ValueError, match="webhook URL") as refused:
        Webhook(url)
    assert "XYZtoken" not in str(refused.value)


def test_a_receiver_echoing_the_path_does_not_leak_it(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.echo_path = True
    receiver.answer_always(503)
    with caplog.at_level(logging.DEBUG):
        delivery = Webhook(receiver.url, policy=FAST, sleep=lambda _: None).deliver({"text": "x"})
    assert delivery.verdict is Verdict.EXHAUSTED and "no such hook <secret>" in delivery.detail
    assert "/services/T000" not in delivery.detail + caplog.text
