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
    """A local merchant in ``city`` (any city if it has none); with ``categories``, one of
    those categories in the city, else elsewhere in its country, else online."""
    pop = ctx.population
    candidates = pop.by_city.get(city.name) or next(iter(pop.by_city.values()))
    if categories:
        matching = [i for i in candidates if pop.merchants[i].category in categories]
        if not matching:
            matching = [
                i
                for indices in pop.by_city.values()
                for i in indices
                if pop.merchants[i].city.country == city.country
                and pop.merchants[i].category in categories
            ]
        if not matching:
            return _online(ctx, categories)
        candidates = matching
    return pop.merchants[ctx.rng.choice(candidates)]


def _online(ctx: Context, categories: tuple[str, ...] | None = None) -> Merchant:
    """An online merchant, of one of ``categories`` when any exists."""
    pop = ctx.population
    indices = pop.online or list(range(len(pop.merchants)))
    if categories:
        matching = [i for i in indices if pop.merchants[i].category in categories]
        indices = matching or [i for i in indices if pop.merchants[i].category in RISKY] or indices
    return pop.merchants[ctx.rng.choice(indices)]


def _scaled(card: Card, low: float, high: float, rng: random.Random) -> float:
    return round(card.mean_amount * rng.uniform(low, high), 2)


def amount_spike(ctx: Context, card: Card, start: datetime) -> list[Planned]:
    """One purchase 10-30x the holder's typical amount at a risky local merchant."""
    merchant = _merchant_in(ctx, card.home, RISKY)
    return [Planned(start, card, merchant, _scaled(card, 10, 30, ctx.rng), True, "amount_spike")]


def impossible_travel(ctx: Context, card: Card, start: datetime) -> list[Planned]:
    """A genuine use where the holder is, then one in another country sooner than a plane
    could fly there."""
    rng = ctx.rng
    here = card.last_city
    local = _merchant_in(ctx, here)
    far = [
        c
        for c in CITIES
        if c.country != here.country and haversine_km(c.lat, c.lon, here.lat, here.lon) > 1500
    ]
    city = rng.choice(far)
    # 20 s to 2 min later: over 1500 km that is at least 45x faster than a plane.
    gap = timedelta(seconds=rng.uniform(20.0, 120.0))
    abroad = _merchant_in(ctx, city)
    fraud = "impossible_travel"
    return [
        Planned(start, card, local, _scaled(card, 0.5, 1.5, rng), False, GENUINE, here),
        Planned(start + gap, card, abroad, _scaled(card, 1, 4, rng), True, fraud, city),
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


def _new_category_merchant(ctx: Context, card: Card, category: str) -> Merchant | None:
    """A merchant of ``category`` the holder could be charged at: online, or in their country."""
    pop = ctx.population
    channel, _ = CATEGORIES[category]
    if channel == "online":
        pool = [i for i in pop.online if pop.merchants[i].category == category]
    else:
        pool = [
            i
            for indices in pop.by_city.values()
            for i in indices
            if pop.merchants[i].category == category
            and pop.merchants[i].city.country == card.home.country
        ]
    return pop.merchants[ctx.rng.choice(pool)] if pool else None


def account_takeover(ctx: Context, card: Card, start: datetime) -> list[Planned]:
    """Someone else uses the account at an odd hour, in categories the holder never uses
    (risky ones first)."""
    rng = ctx.rng
    unused = [c for c in CATEGORIES if c not in card.categories]
    ranked = [c for c in unused if c in RISKY] + [c for c in unused if c not in RISKY]
    options = [(c, m) for c in ranked if (m := _new_category_merchant(ctx, card, c))][:3]
    if not options:  # the holder has used every category there is: nothing looks new
        return []
    moment = ctx.night_shift(start)
    out = []
    for _ in range(rng.randint(3, 6)):
        _, merchant = rng.choice(options)
        city = None if merchant.online else merchant.city
        out.append(
            Planned(
                moment, card, merchant, _scaled(card, 2, 6, rng), True, "account_takeover", city
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
