"""Fraud scenarios: each turns a start moment and a victim into labelled transactions.

A scenario returns :class:`Planned` transactions (times at or after the start); the generator
merges them into the genuine stream in event-time order. Timescales are in seconds of event
time and independent of how busy a card normally is, so a scenario is as recognisable in a
dense live stream as in sparse history.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from producer.geography import CITIES, City, haversine_km
from producer.population import CATEGORIES, RISKY, Card, Merchant, Population

GENUINE = "genuine"


@dataclass(frozen=True)
class Planned:
    """A transaction a scenario wants at ``time``; ``city`` overrides the merchant's for
    located (pos/atm) merchants."""

    time: datetime
    card: Card
    merchant: Merchant
    amount: float
    is_fraud: bool
    scenario: str
    city: City | None = None


@dataclass(frozen=True)
class Context:
    """What a scenario may use: the population, the random source and the regime."""

    population: Population
    rng: random.Random
    seconds_per_merchant_tx: float  # mean gap between two transactions at one merchant
    night_shift: Callable[[datetime], datetime]  # moves a start to an odd hour when realistic


def _merchant_in(ctx: Context, city: City, categories: tuple[str, ...] | None = None) -> Merchant:
    """A local merchant in ``city`` (any city if it has none), optionally of given categories."""
    pop = ctx.population
    candidates = pop.by_city.get(city.name) or next(iter(pop.by_city.values()))
    if categories:
        matching = [i for i in candidates if pop.merchants[i].category in categories]
        candidates = matching or candidates
    return pop.merchants[ctx.rng.choice(candidates)]


def _online(ctx: Context, categories: tuple[str, ...] | None = None) -> Merchant:
    pop = ctx.population
    indices = pop.online or list(range(len(pop.merchants)))
    if categories:
        matching = [i for i in indices if pop.merchants[i].category in categories]
        indices = matching or indices
    return pop.merchants[ctx.rng.choice(indices)]


def _scaled(card: Card, low: float, high: float, rng: random.Random) -> float:
    return round(card.mean_amount * rng.uniform(low, high), 2)


def amount_spike(ctx: Context, card: Card, start: datetime) -> list[Planned]:
    """One purchase 10-30x the holder's typical amount at a risky local merchant."""
    merchant = _merchant_in(ctx, card.home, RISKY)
    return [Planned(start, card, merchant, _scaled(card, 10, 30, ctx.rng), True, "amount_spike")]


def impossible_travel(ctx: Context, card: Card, start: datetime) -> list[Planned]:
    """A genuine use at home, then one in another country sooner than a plane could fly."""
    rng = ctx.rng
    home = _merchant_in(ctx, card.home)
    far = [
        c
        for c in CITIES
        if c.country != card.home.country
        and haversine_km(c.lat, c.lon, card.home.lat, card.home.lon) > 1500
    ]
    city = rng.choice(far)
    # 20 s to 2 min later: over 1500 km that is at least 45x faster than a plane.
    gap = rng.uniform(20.0, 120.0)
    abroad = _merchant_in(ctx, city)
    return [
        Planned(start, card, home, _scaled(card, 0.5, 1.5, rng), False, GENUINE, card.home),
        Planned(
            start + timedelta(seconds=gap),
            card,
            abroad,
            _scaled(card, 1, 4, rng),
            True,
            "impossible_travel",
            city,
        ),
    ]


def velocity_burst(ctx: Context, card: Card, start: datetime) -> list[Planned]:
    """8-15 purchases a few seconds apart at assorted merchants."""
    rng = ctx.rng
    out, moment = [], start
    for _ in range(rng.randint(8, 15)):
        merchant = _online(ctx) if rng.random() < 0.5 else _merchant_in(ctx, card.home)
        out.append(
            Planned(
                moment,
                card,
                merchant,
                _scaled(card, 0.5, 2, rng),
                True,
                "velocity_burst",
                card.home,
            )
        )
        moment += timedelta(seconds=rng.uniform(1.0, 6.0))
    return out


def card_testing(ctx: Context, card: Card, start: datetime) -> list[Planned]:
    """5-10 tiny online charges to test the card, then a large one."""
    rng = ctx.rng
    out, moment = [], start
    for _ in range(rng.randint(5, 10)):
        amount = round(rng.uniform(0.5, 3.0), 2)
        out.append(Planned(moment, card, _online(ctx), amount, True, "card_testing"))
        moment += timedelta(seconds=rng.uniform(2.0, 15.0))
    moment += timedelta(seconds=rng.uniform(20.0, 90.0))
    out.append(
        Planned(moment, card, _online(ctx, RISKY), _scaled(card, 8, 20, rng), True, "card_testing")
    )
    return out


def account_takeover(ctx: Context, card: Card, start: datetime) -> list[Planned]:
    """Someone else uses the account at an odd hour, in categories the holder never uses."""
    rng = ctx.rng
    new = tuple(c for c in RISKY if c not in card.categories) or RISKY
    moment = ctx.night_shift(start)
    out = []
    for _ in range(rng.randint(3, 6)):
        category = rng.choice(new)
        channel, _ = CATEGORIES[category]
        merchant = (
            _online(ctx, (category,))
            if channel == "online"
            else _merchant_in(ctx, card.home, (category,))
        )
        out.append(
            Planned(
                moment,
                card,
                merchant,
                _scaled(card, 2, 6, rng),
                True,
                "account_takeover",
                card.home,
            )
        )
        moment += timedelta(seconds=rng.uniform(10.0, 90.0))
    return out


def compromised_merchant_window(ctx: Context) -> tuple[Merchant, timedelta]:
    """A local merchant whose every transaction is fraudulent for a while (~10-30 of them)."""
    pop = ctx.population
    local = [i for indices in pop.by_city.values() for i in indices]
    merchant = pop.merchants[ctx.rng.choice(local)]
    expected = ctx.rng.uniform(10, 30)
    return merchant, timedelta(seconds=expected * ctx.seconds_per_merchant_tx)


CARD_SCENARIOS: dict[str, Callable[[Context, Card, datetime], list[Planned]]] = {
    "amount_spike": amount_spike,
    "impossible_travel": impossible_travel,
    "velocity_burst": velocity_burst,
    "card_testing": card_testing,
    "account_takeover": account_takeover,
}
# Mean fraudulent transactions per start, used to hit the requested fraud rate.
EXPECTED_FRAUDS = {
    "amount_spike": 1.0,
    "impossible_travel": 1.0,
    "velocity_burst": 11.5,
    "card_testing": 8.5,
    "account_takeover": 4.5,
    "compromised_merchant": 20.0,
}
SCENARIOS = tuple(EXPECTED_FRAUDS)
