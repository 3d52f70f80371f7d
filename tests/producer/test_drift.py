"""A drift injected mid-run: parsed strictly, applied only from its start, to the rows it names."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import numpy as np
import pytest

from producer.blocks import BlockGenerator, EventBlock
from producer.drift import Drift, drifted, parse_drift
from producer.generator import GeneratorConfig, TransactionGenerator

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONFIG = GeneratorConfig(
    start=START, seed=5, cards=2_000, rate=200.0, fraud_rate=0.02, token_key=b"test-key"
)


def test_a_spec_names_factors_and_anything_else_is_refused() -> None:
    assert parse_drift("fraud_x5") == Drift(fraud=5.0)
    assert parse_drift("amount_x2, fraud_amount_x0.3") == Drift(amount=2.0, fraud_amount=0.3)
    assert str(parse_drift("fraud_amount_x0.3,fraud_x5")) == "fraud_x5,fraud_amount_x0.3"
    for bad in ("fraud", "fraud_x", "fraud_x-2", "fraud_x0", "speed_x2", "fraud_x2,fraud_x3", ""):
        with pytest.raises(ValueError, match=r"drift|factor|twice"):
            parse_drift(bad)


def test_amounts_change_only_from_the_start_and_only_where_named() -> None:
    block = EventBlock(
        times_us=[10, 20, 30, 40],
        amounts=[10.0, 10.0, 10.0, 10.0],
        frauds=[False, True, False, True],
    )
    Drift(amount=2.0, fraud_amount=0.25).on_block(block, from_us=30)
    assert block.amounts == [10.0, 10.0, 20.0, 5.0]
    untouched = EventBlock(times_us=[1], amounts=[3.0], frauds=[True])
    Drift(fraud=5.0).on_block(untouched, from_us=0)  # the rate is the generator's business
    assert untouched.amounts == [3.0]


def test_the_row_stream_drifts_from_its_nth_transaction() -> None:
    plain = list(itertools.islice(TransactionGenerator(CONFIG), 4_000))
    changed = list(drifted(TransactionGenerator(CONFIG), 4_000, Drift(amount=3.0), 1_000))
    assert len(changed) == 4_000
    assert [g.event for g in changed[:1_000]] == [g.event for g in plain[:1_000]]
    pairs = zip(changed, plain, strict=True)
    ratios = np.array([c.event.amount / p.event.amount for c, p in pairs])
    assert np.allclose(ratios[1_000:], 3.0, rtol=0.01)


def share_of_fraud(items: list[bool]) -> float:
    return sum(items) / len(items)


def test_a_fraud_wave_raises_the_fraud_share_and_keeps_the_rate() -> None:
    """Before the wave the stream is the plain one; after it, about five times the fraud."""
    events = 24_000
    plain = list(itertools.islice(TransactionGenerator(CONFIG), events))
    wave = list(drifted(TransactionGenerator(CONFIG), events, Drift(fraud=5.0), events // 2))
    assert len(wave) == events
    assert [g.event for g in wave[: events // 2]] == [g.event for g in plain[: events // 2]]
    # scenarios already under way finish as planned, so measure the last quarter
    before = share_of_fraud([g.is_fraud for g in plain[-events // 4 :]])
    after = share_of_fraud([g.is_fraud for g in wave[-events // 4 :]])
    assert 3.0 < after / before < 8.0, (before, after)
    # every slot still carries one transaction: the rate holds
    span = [(g[-1].event.event_time - g[0].event.event_time).total_seconds() for g in (plain, wave)]
    assert span[1] == pytest.approx(span[0], rel=0.05)


def test_the_block_generator_surges_too() -> None:
    calm, wave = BlockGenerator(CONFIG), BlockGenerator(CONFIG)
    end = START.timestamp()
    frauds = {}
    for name, generator in (("calm", calm), ("wave", wave)):
        generator.until(datetime.fromtimestamp(end + 60, UTC))
        generator.scale_fraud(5.0)
        if name == "calm":
            generator.scale_fraud(1 / 5.0)
        later = generator.until(datetime.fromtimestamp(end + 180, UTC))
        frauds[name] = share_of_fraud(later.frauds[len(later) // 3 :])
    assert frauds["wave"] > 3.0 * frauds["calm"] > 0
    with pytest.raises(ValueError, match="positive"):
        calm.scale_fraud(0)


def test_the_producer_refuses_a_bad_drift_before_sending_anything() -> None:
    from click.testing import CliRunner

    from fraudstream.cli import cli

    result = CliRunner().invoke(cli, ["produce", "--drift", "speed_x2", "--duration", "1"])
    assert result.exit_code == 1 and "--drift: 'speed_x2' is not a drift" in result.output
    result = CliRunner().invoke(cli, ["demo", "--drift", "fraud_x0"])
    assert result.exit_code == 1 and "the factor must be positive" in result.output
