"""Live and replay loops with a replaceable clock, writing to the real emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fraudstream import aws
from fraudstream.events import LabelRecord, parse_event
from fraudstream.settings import Settings
from fraudstream.stream_dump import read_stream
from producer.app import open_session
from producer.blocks import BlockGenerator
from producer.generator import GeneratedTransaction, GeneratorConfig, TransactionGenerator
from producer.labels import BlockLabels, LabelQueue
from producer.runner import run_live, run_live_blocks, run_replay

pytestmark = pytest.mark.integration
START = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """Monotonic time that only moves when the loop sleeps (plus a little per call)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_live_holds_the_rate_and_delays_labels(fresh_streams: Settings) -> None:
    session = open_session(fresh_streams, timedelta(seconds=2))
    generator = TransactionGenerator(
        GeneratorConfig(
            start=START,
            seed=2,
            cards=300,
            rate=200.0,
            fraud_rate=0.05,
            arrivals="uniform",
            token_key=b"k",
        )
    )
    clock = FakeClock()
    ticks = []
    summary = run_live(
        session,
        generator,
        duration=5.0,
        clock=clock,
        sleep=clock.sleep,
        on_tick=lambda s: ticks.append(s.labels_sent),
    )
    assert summary.sent == 1_000 and summary.labels_sent == 1_000 and not summary.interrupted
    assert 0 < max(ticks) < 1_000  # some labels released during the run, the rest at the end
    assert 190 < summary.sent / 5.0 <= 200
    kinesis = aws.client("kinesis", fresh_streams)
    events = [
        parse_event(r.data, now=START + timedelta(days=1))
        for r in read_stream(kinesis, fresh_streams.stream_name)
    ]
    labels = [
        LabelRecord.from_json(r.data)
        for r in read_stream(kinesis, fresh_streams.labels_stream_name)
    ]
    assert {e.transaction_id for e in events} == {lab.transaction_id for lab in labels}
    assert all(lab.label_time - lab.event_time == timedelta(seconds=2) for lab in labels)
    assert sum(lab.is_fraud for lab in labels) == summary.frauds > 0
    assert all(START <= e.event_time < START + timedelta(seconds=5) for e in events)


def test_live_stops_when_asked(fresh_streams: Settings) -> None:
    session = open_session(fresh_streams, timedelta(seconds=60))
    generator = TransactionGenerator(
        GeneratorConfig(start=START, cards=100, rate=100.0, arrivals="uniform", token_key=b"k")
    )
    clock = FakeClock()
    summary = run_live(
        session,
        generator,
        duration=60.0,
        clock=clock,
        sleep=clock.sleep,
        should_stop=lambda: clock.now > 102.0,
    )
    assert summary.interrupted and 150 < summary.sent < 250
    assert summary.labels_sent == summary.sent  # pending labels are flushed, not lost


def _history(count: int) -> list[GeneratedTransaction]:
    generator = TransactionGenerator(
        GeneratorConfig(start=START, cards=50, rate=0.01, fraud_rate=0.1, token_key=b"k")
    )
    return [next(generator) for _ in range(count)]


def test_replay_releases_labels_in_event_time(fresh_streams: Settings) -> None:
    items = _history(400)  # ~11 hours of event time
    session = open_session(fresh_streams, timedelta(hours=1))
    released_during: list[int] = []
    summary = run_replay(
        session, items, on_tick=lambda s: released_during.append(s.labels_sent), tick_every=100
    )
    assert summary.sent == 400 and summary.labels_sent == 400
    assert released_during[-1] > 0  # labels went out as replay passed their label time
    kinesis = aws.client("kinesis", fresh_streams)
    labels = [
        LabelRecord.from_json(r.data)
        for r in read_stream(kinesis, fresh_streams.labels_stream_name)
    ]
    assert all(lab.label_time == lab.event_time + timedelta(hours=1) for lab in labels)


def test_replay_max_rate_paces(fresh_streams: Settings) -> None:
    clock = FakeClock()
    session = open_session(fresh_streams, timedelta(0))
    summary = run_replay(session, _history(300), max_rate=100.0, clock=clock, sleep=clock.sleep)
    assert summary.sent == 300 and clock.now - 100.0 >= 2.9
    with pytest.raises(ValueError, match="positive"):
        run_replay(session, [], max_rate=0)


def test_label_queue() -> None:
    queue = LabelQueue(timedelta(seconds=10))
    item = _history(1)[0]
    queue.add(item, START)
    assert list(queue.due(START + timedelta(seconds=9))) == []
    assert len(queue) == 1
    (label,) = queue.due(START + timedelta(seconds=10))
    assert label.label_time == START + timedelta(seconds=10) and len(queue) == 0
    with pytest.raises(ValueError, match="negative"):
        LabelQueue(timedelta(seconds=-1))


def test_live_blocks_hold_the_rate_and_delay_labels(fresh_streams: Settings) -> None:
    session = open_session(fresh_streams, timedelta(seconds=2))
    generator = BlockGenerator(
        GeneratorConfig(
            start=START, seed=2, cards=300, rate=200.0, fraud_rate=0.05, arrivals="uniform",
            token_key=b"k",
        )
    )  # fmt: skip
    clock = FakeClock()
    ticks: list[int] = []
    summary = run_live_blocks(
        session,
        generator,
        duration=5.0,
        label_delay=timedelta(seconds=2),
        clock=clock,
        sleep=clock.sleep,
        on_tick=lambda s: ticks.append(s.labels_sent),
    )
    assert summary.sent == 1_000 and summary.labels_sent == 1_000 and not summary.interrupted
    assert 0 < max(ticks) < 1_000  # some labels released during the run, the rest at the end
    kinesis = aws.client("kinesis", fresh_streams)
    events = [
        parse_event(r.data, now=START + timedelta(days=1))
        for r in read_stream(kinesis, fresh_streams.stream_name)
    ]
    labels = [
        LabelRecord.from_json(r.data)
        for r in read_stream(kinesis, fresh_streams.labels_stream_name)
    ]
    assert sorted(e.transaction_id for e in events) == sorted(lab.transaction_id for lab in labels)
    assert len(events) == 1_000
    assert all(lab.label_time - lab.event_time == timedelta(seconds=2) for lab in labels)
    assert sum(lab.is_fraud for lab in labels) == summary.frauds > 0


def test_block_labels_are_released_in_time_order() -> None:
    labels = BlockLabels()
    labels.add([10, 20, 30], [b"a", b"b", b"c"], ["k1", "k2", "k3"])
    labels.add([40], [b"d"], ["k4"])
    labels.add([], [], [])
    assert list(labels.due(5)) == [] and len(labels) == 4
    assert list(labels.due(20)) == [([b"a", b"b"], ["k1", "k2"])]
    assert list(labels.due(45)) == [([b"c"], ["k3"]), ([b"d"], ["k4"])]
    labels.add([50, 60], [b"e", b"f"], ["k5", "k6"])
    assert list(labels.due(None)) == [([b"e", b"f"], ["k5", "k6"])] and len(labels) == 0
