"""The block generator of live runs: deterministic, valid, the contract's exact bytes, and the
same transaction process as the row generator (held to the same statistics)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from statistics import median

import pytest

from fraudstream.events import LabelRecord, TransactionEvent, parse_event
from producer.blocks import BlockGenerator, EventBlock
from producer.encoding import BlockEncoder
from producer.generator import GeneratedTransaction, GeneratorConfig, TransactionGenerator
from producer.geography import MAX_PLAUSIBLE_SPEED_KMH, haversine_km
from producer.scenarios import SCENARIOS

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = b"test-key"
LIVE = GeneratorConfig(
    start=START, seed=11, cards=3_000, rate=500.0, fraud_rate=0.05, token_key=KEY
)


def blocks(
    config: GeneratorConfig, seconds: int, step: float = 1.0
) -> tuple[BlockGenerator, EventBlock]:
    generator = BlockGenerator(config)
    whole = EventBlock()
    for k in range(1, int(seconds / step) + 1):
        part = generator.until(config.start + timedelta(seconds=k * step))
        for name in whole.__dataclass_fields__:
            getattr(whole, name).extend(getattr(part, name))
    return generator, whole


def events(generator: BlockGenerator, block: EventBlock) -> list[TransactionEvent]:
    """The block's rows as contract events (what the encoder writes, through the parser)."""
    encoded, _, _ = BlockEncoder(generator).encode(block, 0)
    return [parse_event(data, now=START + timedelta(days=2)) for data in encoded]


@pytest.fixture(scope="module")
def live() -> tuple[BlockGenerator, EventBlock, list[TransactionEvent]]:
    generator, block = blocks(LIVE, 120)
    return generator, block, events(generator, block)


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    config = GeneratorConfig(start=START, seed=3, cards=500, rate=100.0, token_key=KEY)
    _, first = blocks(config, 20)
    _, again = blocks(config, 20, step=0.05)  # block boundaries do not change the stream
    assert first == again
    _, other = blocks(GeneratorConfig(start=START, seed=4, cards=500, rate=100.0, token_key=KEY), 2)
    assert first.cards[:50] != other.cards[:50]


def test_uniform_arrivals_hold_the_rate_exactly_and_in_order() -> None:
    config = GeneratorConfig(
        start=START, seed=1, cards=200, rate=250.0, fraud_rate=0.2, arrivals="uniform",
        token_key=KEY,
    )  # fmt: skip
    _, block = blocks(config, 8, step=0.05)
    assert len(block) == 2_000
    assert block.times_us == sorted(block.times_us)
    assert block.ids == list(range(2_000))
    assert (
        START.timestamp() * 1e6 <= block.times_us[0]
        and block.times_us[-1] < (START + timedelta(seconds=8)).timestamp() * 1e6
    )


def test_events_and_labels_are_the_contracts_exact_bytes(
    live: tuple[BlockGenerator, EventBlock, list[TransactionEvent]],
) -> None:
    generator, block, parsed = live
    encoded, labels, due = BlockEncoder(generator).encode(block, 61_000)
    assert len({e.transaction_id for e in parsed}) == len(parsed)
    for data, label, label_ms, event, fraud, scenario in itertools.islice(
        zip(encoded, labels, due, parsed, block.frauds, block.scenarios, strict=True), 5_000
    ):
        assert data == event.to_json().encode()
        label_time = event.event_time + timedelta(seconds=61)
        expected = GeneratedTransaction(event, fraud, scenario).label(label_time)
        assert label == expected.to_json().encode()
        assert LabelRecord.from_json(label) == expected
        assert label_ms == int(label_time.timestamp() * 1000)


def test_the_same_process_as_the_row_generator(
    live: tuple[BlockGenerator, EventBlock, list[TransactionEvent]],
) -> None:
    _, block, parsed = live
    rows = list(itertools.islice(TransactionGenerator(LIVE), len(block)))

    def stats(frauds: list[bool], scenarios: list[str], evs: list[TransactionEvent]) -> dict:
        genuine = [e.amount for e, f in zip(evs, frauds, strict=True) if not f]
        return {
            "fraud": sum(frauds) / len(frauds),
            "scenarios": {s for s, f in zip(scenarios, frauds, strict=True) if f},
            "online": sum(e.channel == "online" for e in evs) / len(evs),
            "median": median(genuine),
            "cards": len({e.card_id for e in evs}) / len(evs),
            "abroad": sum(e.country != "FR" for e in evs) / len(evs),
        }

    mine = stats(block.frauds, block.scenarios, parsed)
    theirs = stats([r.is_fraud for r in rows], [r.scenario for r in rows], [r.event for r in rows])
    assert 0.035 < mine["fraud"] < 0.065 and abs(mine["fraud"] - theirs["fraud"]) < 0.015
    assert mine["scenarios"] == theirs["scenarios"] == set(SCENARIOS)
    for name in ("online", "cards", "abroad"):
        assert abs(mine[name] - theirs[name]) < 0.03, name
    assert abs(mine["median"] / theirs["median"] - 1) < 0.1


def test_genuine_travel_is_plausible_and_impossible_travel_is_not(
    live: tuple[BlockGenerator, EventBlock, list[TransactionEvent]],
) -> None:
    _, block, parsed = live
    last: dict[str, TransactionEvent] = {}
    impossible = 0
    for event, fraud, scenario in zip(parsed, block.frauds, block.scenarios, strict=True):
        if event.lat is None:
            continue
        before = last.get(event.card_id)
        if before is not None:
            km = haversine_km(before.lat, before.lon, event.lat, event.lon)  # type: ignore[arg-type]
            hours = max((event.event_time - before.event_time).total_seconds() / 3600, 1e-9)
            if scenario == "impossible_travel":
                assert km / hours > MAX_PLAUSIBLE_SPEED_KMH
                impossible += 1
            elif not fraud and km > 50:
                assert km / hours <= MAX_PLAUSIBLE_SPEED_KMH
        if not fraud:
            last[event.card_id] = event
    assert impossible


def test_compromised_merchants_label_every_transaction_in_their_window(
    live: tuple[BlockGenerator, EventBlock, list[TransactionEvent]],
) -> None:
    generator, block, parsed = live
    assert generator.compromised_windows
    for event, fraud in zip(parsed, block.frauds, strict=True):
        for merchant, start, end in generator.compromised_windows:
            if event.merchant_id == merchant and start <= event.event_time <= end:
                assert fraud


def test_poisson_arrivals_and_what_is_refused() -> None:
    config = GeneratorConfig(start=START, seed=2, cards=300, rate=200.0, token_key=KEY)
    _, block = blocks(config, 30, step=0.5)
    assert 5_400 < len(block) < 6_600 and block.times_us == sorted(block.times_us)
    with pytest.raises(ValueError, match="steady rate"):
        BlockGenerator(GeneratorConfig(start=START, rhythm=True, rate=1.0, token_key=KEY))
    generator = BlockGenerator(config)
    assert len(events(generator, generator.until(START + timedelta(seconds=5)))) > 800
