"""The generator: deterministic, valid, ordered, and each fraud scenario looks like itself."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from fraudstream.events import parse_event
from producer.generator import GeneratedTransaction, GeneratorConfig, TransactionGenerator
from producer.geography import MAX_PLAUSIBLE_SPEED_KMH, haversine_km
from producer.population import build_population
from producer.scenarios import SCENARIOS

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = b"test-key"


def take(config: GeneratorConfig, count: int) -> list[GeneratedTransaction]:
    return list(itertools.islice(TransactionGenerator(config), count))


@pytest.fixture(scope="module")
def live() -> list[GeneratedTransaction]:
    """A dense 'live' stream with plenty of fraud."""
    config = GeneratorConfig(
        start=START, seed=11, cards=3_000, rate=500.0, fraud_rate=0.05, token_key=KEY
    )
    return take(config, 60_000)


HISTORY = GeneratorConfig(
    start=START,
    seed=5,
    cards=2_000,
    rate=2_000 * 3 / 86_400,
    fraud_rate=0.03,
    rhythm=True,
    token_key=KEY,
)


@pytest.fixture(scope="module")
def history() -> list[GeneratedTransaction]:
    """Realistic history: ~3 transactions per card per day with the daily rhythm."""
    return take(HISTORY, 40_000)


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    config = GeneratorConfig(start=START, seed=3, cards=500, rate=100.0, token_key=KEY)
    first = [g.event for g in take(config, 2_000)]
    assert first == [g.event for g in take(config, 2_000)]
    other = GeneratorConfig(start=START, seed=4, cards=500, rate=100.0, token_key=KEY)
    assert first[:50] != [g.event for g in take(other, 50)]


def test_population_is_deterministic_and_sane() -> None:
    a = build_population(cards=300, seed=9, token_key=KEY)
    b = build_population(cards=300, seed=9, token_key=KEY)
    assert [c.card_id for c in a.cards] == [c.card_id for c in b.cards]
    assert len({c.card_id for c in a.cards}) == 300
    assert all(c.favourites and c.mean_amount > 0 for c in a.cards)
    assert len(a.merchants) == 200 and a.online and a.by_city


def test_events_are_valid_ordered_and_unique(live: list[GeneratedTransaction]) -> None:
    times = [g.event.event_time for g in live]
    assert times == sorted(times)
    assert len({g.event.transaction_id for g in live}) == len(live)
    now = times[-1]
    for generated in live[:5_000]:
        assert parse_event(generated.event.to_json(), now=now) == generated.event
    online = [g.event for g in live if g.event.channel == "online"]
    assert online and all(e.lat is None and e.lon is None for e in online)


def test_fraud_rate_and_every_scenario_present(live: list[GeneratedTransaction]) -> None:
    share = sum(g.is_fraud for g in live) / len(live)
    assert 0.035 < share < 0.065
    scenarios = Counter(g.scenario for g in live if g.is_fraud)
    assert set(scenarios) == set(SCENARIOS)
    assert all(not g.is_fraud for g in live if g.scenario == "genuine")


def test_uniform_arrivals_hold_the_rate_exactly() -> None:
    config = GeneratorConfig(
        start=START,
        seed=1,
        cards=200,
        rate=250.0,
        fraud_rate=0.2,
        arrivals="uniform",
        token_key=KEY,
    )
    end = START + timedelta(seconds=8)
    assert sum(1 for _ in TransactionGenerator(config).until(end)) == 2_000


def by_card(items: list[GeneratedTransaction]) -> dict[str, list[GeneratedTransaction]]:
    cards: dict[str, list[GeneratedTransaction]] = defaultdict(list)
    for g in items:
        cards[g.event.card_id].append(g)
    return cards


def test_amount_spikes_are_far_above_the_card_norm(live: list[GeneratedTransaction]) -> None:
    cards = by_card(live)
    spikes = [g for g in live if g.scenario == "amount_spike"]
    assert spikes
    for spike in spikes:
        genuine = [g.event.amount for g in cards[spike.event.card_id] if not g.is_fraud]
        if len(genuine) >= 5:
            assert spike.event.amount > 3 * sorted(genuine)[len(genuine) // 2]


def test_impossible_travel_is_faster_than_a_plane(live: list[GeneratedTransaction]) -> None:
    cards = by_card(live)
    checked = 0
    for fraud in (g for g in live if g.scenario == "impossible_travel"):
        earlier = [
            g.event
            for g in cards[fraud.event.card_id]
            if g.event.event_time < fraud.event.event_time and g.event.lat is not None
        ]
        assert earlier, "the scenario puts a located use at home first"
        prev = earlier[-1]
        assert prev.country != fraud.event.country
        km = haversine_km(prev.lat, prev.lon, fraud.event.lat, fraud.event.lon)  # type: ignore[arg-type]
        hours = (fraud.event.event_time - prev.event_time).total_seconds() / 3600
        assert km / hours > MAX_PLAUSIBLE_SPEED_KMH
        checked += 1
    assert checked


def test_genuine_travel_is_always_plausible(history: list[GeneratedTransaction]) -> None:
    for items in by_card(history).values():
        located = [g.event for g in items if g.event.lat is not None and not g.is_fraud]
        for prev, cur in itertools.pairwise(located):
            km = haversine_km(prev.lat, prev.lon, cur.lat, cur.lon)  # type: ignore[arg-type]
            if km > 50:
                hours = (cur.event_time - prev.event_time).total_seconds() / 3600
                assert km / max(hours, 1e-9) <= MAX_PLAUSIBLE_SPEED_KMH


def test_velocity_bursts_and_card_testing_shapes(live: list[GeneratedTransaction]) -> None:
    runs: dict[tuple[str, str], list[GeneratedTransaction]] = defaultdict(list)
    for g in live:
        if g.scenario in ("velocity_burst", "card_testing"):
            runs[(g.scenario, g.event.card_id)].append(g)
    bursts = [r for (s, _), r in runs.items() if s == "velocity_burst"]
    assert any(
        len(r) >= 8 and (r[-1].event.event_time - r[0].event.event_time) < timedelta(seconds=120)
        for r in bursts
    )
    tests = [[g.event.amount for g in r] for (s, _), r in runs.items() if s == "card_testing"]
    complete = [amounts for amounts in tests if amounts[-1] > 3.0]
    assert complete, "some card-testing runs end with their large charge"
    for amounts in tests:  # tiny probes first, at most one large charge, and only at the end
        assert all(a <= 3.0 for a in amounts[:-1])
        assert len(amounts) >= 5 or amounts[-1] <= 3.0


def test_account_takeover_uses_new_categories_at_night(history: list[GeneratedTransaction]) -> None:
    profiles = {c.card_id: c for c in build_population(cards=2_000, seed=5, token_key=KEY).cards}
    takeovers = [g for g in history if g.scenario == "account_takeover"]
    assert takeovers
    for fraud in takeovers:
        assert fraud.event.event_time.hour in (1, 2, 3, 4, 5)
        assert fraud.event.merchant_category not in profiles[fraud.event.card_id].categories


def test_compromised_merchant_labels_every_transaction_in_its_window() -> None:
    config = GeneratorConfig(
        start=START,
        seed=11,
        cards=3_000,
        rate=500.0,
        fraud_rate=0.05,
        scenarios=("compromised_merchant", "amount_spike"),
        token_key=KEY,
    )
    generator = TransactionGenerator(config)
    items = list(itertools.islice(generator, 40_000))
    assert generator.compromised_windows

    def compromised(g: GeneratedTransaction) -> bool:
        return any(
            m == g.event.merchant_id and start <= g.event.event_time <= end
            for m, start, end in generator.compromised_windows
        )

    inside = [g for g in items if compromised(g)]
    assert inside and all(g.is_fraud for g in inside)
    labelled = [g for g in items if g.scenario == "compromised_merchant"]
    assert {g.event.transaction_id for g in labelled} <= {g.event.transaction_id for g in inside}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rate": 0}, "rate"),
        ({"fraud_rate": 0.7}, "fraud_rate"),
        ({"scenarios": ("alien_invasion",)}, "unknown scenario"),
        ({"start": datetime(2026, 1, 1)}, "timezone"),  # noqa: DTZ001
        ({"token_key": b""}, "token_key"),
        ({"arrivals": "uniform", "rhythm": True}, "uniform"),
    ],
)
def test_bad_configuration(change: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"start": START, "token_key": KEY}
    with pytest.raises(ValueError, match=message):
        GeneratorConfig(**{**base, **change})  # type: ignore[arg-type]
