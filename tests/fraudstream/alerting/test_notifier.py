"""The notifier against the real emulator (alerts written by the processor's own AlertWriter)
and a real local webhook receiver: each block once, reviews never, retries, restarts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from fraudstream.alerting.ledger import Ledger
from fraudstream.alerting.notifier import Notifier
from fraudstream.alerting.retry import RetryPolicy
from fraudstream.alerting.webhook import Webhook
from fraudstream.settings import Settings
from processor.sinks.alerts import AlertWriter, alert_key
from tests.fraudstream.alerting.receiver import Receiver

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
FAST = RetryPolicy(max_attempts=4, base=0.01, cap=0.02)


def rows(decisions: list[str], start: datetime = T0, prefix: str = "tx") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": [f"{prefix}-{i}" for i in range(len(decisions))],
            "card_id": [f"tok_{i % 3:016x}_4242" for i in range(len(decisions))],
            "merchant_id": [f"terminal-{i}" for i in range(len(decisions))],
            "amount": [100.0 + i for i in range(len(decisions))],
            "currency": ["EUR"] * len(decisions),
            "event_time": [start + timedelta(seconds=i) for i in range(len(decisions))],
            "score": [0.99 if d == "block" else 0.6 for d in decisions],
            "decision": decisions,
            "reasons": [["model:score_above_threshold"] for _ in decisions],
            "model_version": ["xgb-test"] * len(decisions),
        }
    )


def write(settings: Settings, frame: pd.DataFrame) -> None:
    with AlertWriter(settings) as writer:
        writer.write(frame)


def notifier(settings: Settings, receiver: Receiver, **kwargs: object) -> Notifier:
    webhook = Webhook(receiver.url, policy=FAST, timeout=2.0)
    return Notifier(Ledger(settings), webhook, **kwargs)  # type: ignore[arg-type]


def sent_ids(receiver: Receiver) -> list[str]:
    return [p.body["text"].split("(transaction ")[1].split(",")[0] for p in receiver.delivered]


def test_each_block_is_sent_once_and_reviews_never(
    fresh_sinks: Settings, receiver: Receiver
) -> None:
    decisions = ["block", "review", "block", "approve", "review", "block"]
    write(fresh_sinks, rows(decisions))
    first = notifier(fresh_sinks, receiver)
    first.start(since="all")
    result = first.poll()
    assert result.sent == 3 and result.already_claimed == 0
    assert sorted(sent_ids(receiver)) == ["tx-0", "tx-2", "tx-5"]
    body = receiver.delivered[0].body
    assert "tok_" in body["text"] and "EUR" in body["text"] and "blocks" in body
    assert first.poll().sent == 0  # the window is re-read, nothing goes twice
    assert len(receiver.posts) == 3


def test_a_restarted_notifier_sends_nothing_twice_and_picks_up_new_blocks(
    fresh_sinks: Settings, receiver: Receiver
) -> None:
    write(fresh_sinks, rows(["block", "block"]))
    first = notifier(fresh_sinks, receiver)
    first.start(since="all")
    assert first.poll().sent == 2

    # The processor replays its last batch (whole items are re-put) and writes a new one, a
    # little late (event time behind the newest block already sent).
    write(fresh_sinks, rows(["block", "block"]))
    write(fresh_sinks, rows(["block"], start=T0 - timedelta(seconds=30), prefix="late"))
    second = notifier(fresh_sinks, receiver)  # a new process: no memory of the first
    second.start()  # resumes from the stored cursor
    result = second.poll()
    assert result.sent == 1 and result.already_claimed == 2
    third = notifier(fresh_sinks, receiver)
    third.start(since="all")  # even an explicit full rescan
    assert third.poll().sent == 0
    assert sorted(sent_ids(receiver)) == ["late-0", "tx-0", "tx-1"]


def test_the_first_run_starts_after_the_newest_block_already_there(
    fresh_sinks: Settings, receiver: Receiver
) -> None:
    write(fresh_sinks, rows(["block", "block"]))  # the backlog before alerting was turned on
    first = notifier(fresh_sinks, receiver)
    first.start()
    assert first.poll().sent == 0
    write(fresh_sinks, rows(["block"], start=T0 + timedelta(minutes=1), prefix="new"))
    assert first.poll().sent == 1
    assert sent_ids(receiver) == ["new-0"]


def test_500s_are_retried_and_delivered_once(fresh_sinks: Settings, receiver: Receiver) -> None:
    write(fresh_sinks, rows(["block"]))
    receiver.fail_next(2, 500)
    run = notifier(fresh_sinks, receiver)
    run.start(since="all")
    assert run.poll().sent == 1
    assert len(receiver.posts) == 3 and len(receiver.delivered) == 1
    claim = Ledger(fresh_sinks).claim_status("tok_0000000000000000_4242", alert_key(T0, "tx-0"))
    assert claim is not None
    assert claim["status"]["S"] == "sent" and claim["attempts"]["N"] == "3"


def test_a_429_with_retry_after_is_honoured(fresh_sinks: Settings, receiver: Receiver) -> None:
    write(fresh_sinks, rows(["block"]))
    receiver.fail_next(1, 429, retry_after="1")
    run = notifier(fresh_sinks, receiver)
    run.start(since="all")
    started = datetime.now(UTC)
    assert run.poll().sent == 1
    assert datetime.now(UTC) - started >= timedelta(seconds=1)
    assert len(receiver.delivered) == 1


def test_a_permanent_400_is_recorded_and_not_retried(
    fresh_sinks: Settings, receiver: Receiver
) -> None:
    write(fresh_sinks, rows(["block", "block"]))
    receiver.answer_always(400)
    run = notifier(fresh_sinks, receiver)
    run.start(since="all")
    result = run.poll()
    assert result.rejected == 2 and result.sent == 0
    assert len(receiver.posts) == 2  # one attempt each
    for _ in range(3):
        run.poll()
    again = notifier(fresh_sinks, receiver)
    again.start(since="all")
    assert again.poll().already_claimed == 2
    assert len(receiver.posts) == 2
    claim = Ledger(fresh_sinks).claim_status("tok_0000000000000000_4242", alert_key(T0, "tx-0"))
    assert claim is not None
    assert claim["status"]["S"] == "rejected" and claim["http_status"]["N"] == "400"


def test_two_notifiers_at_once_send_each_block_once(
    fresh_sinks: Settings, receiver: Receiver
) -> None:
    write(fresh_sinks, rows(["block"] * 12))
    runs = [notifier(fresh_sinks, receiver, owner=f"n{i}") for i in range(2)]
    for run in runs:
        run.start(since="all")
    threads = [threading.Thread(target=run.poll) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(sent_ids(receiver)) == sorted(f"tx-{i}" for i in range(12))


def test_claims_stay_out_of_the_latest_alerts_index(
    fresh_sinks: Settings, receiver: Receiver
) -> None:
    from fraudstream.live.alerts import AlertReader

    write(fresh_sinks, rows(["block", "review"]))
    run = notifier(fresh_sinks, receiver)
    run.start(since="all")
    run.poll()
    latest = AlertReader(fresh_sinks).latest(10)
    assert sorted(a.decision for a in latest) == ["block", "review"]
    assert all(not a.card_id.startswith("notif") for a in latest)


def test_run_polls_until_stopped(fresh_sinks: Settings, receiver: Receiver) -> None:
    run = notifier(fresh_sinks, receiver)
    run.start(since="all")
    stop = threading.Event()
    polls: list[int] = []

    def on_poll(result: object) -> None:
        polls.append(1)
        if len(polls) == 1:
            write(fresh_sinks, rows(["block"]))
        if receiver.delivered:
            stop.set()

    total = run.run(stop, interval=0.1, on_poll=on_poll)
    assert total.sent == 1 and len(polls) >= 2
