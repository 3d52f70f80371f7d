"""The transaction generator: genuine card use plus injected, labelled fraud, in event-time
order.

Genuine transactions arrive as a Poisson process of ``rate`` per second of event time (shaped
by the daily rhythm when ``rhythm`` is on, as in generated history); fraud scenarios start as a
second Poisson process sized so that about ``fraud_rate`` of all transactions are fraudulent,
each scenario type contributing a similar share. The same seed and start give the same stream.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from fraudstream.events import LabelRecord, TransactionEvent
from producer import rhythm
from producer.geography import MAX_PLAUSIBLE_SPEED_KMH, City, haversine_km
from producer.population import CATEGORIES, Card, Merchant, Population, build_population
from producer.scenarios import (
    CARD_SCENARIOS,
    EXPECTED_FRAUDS,
    GENUINE,
    SCENARIOS,
    Context,
    Planned,
    compromised_merchant_window,
)

CURRENCY = "EUR"  # the simulated issuer bills every card in euros, at home or abroad


@dataclass(frozen=True)
class GeneratedTransaction:
    """An event and its ground truth, which travel separately (events never carry labels)."""

    event: TransactionEvent
    is_fraud: bool
    scenario: str

    def label(self, label_time: datetime) -> LabelRecord:
        return LabelRecord(
            transaction_id=self.event.transaction_id,
            card_id=self.event.card_id,
            merchant_id=self.event.merchant_id,
            is_fraud=self.is_fraud,
            scenario=self.scenario,
            event_time=self.event.event_time,
            label_time=label_time,
        )


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. ``rate`` is transactions per second of event time (daily average)."""

    start: datetime
    seed: int = 7
    cards: int = 10_000
    rate: float = 1000.0
    fraud_rate: float = 0.01
    rhythm: bool = False
    scenarios: tuple[str, ...] = SCENARIOS
    token_key: bytes = field(default=b"", repr=False)
    merchants: int | None = None
    arrivals: Literal["poisson", "uniform"] = "poisson"

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        if not 0.0 <= self.fraud_rate < 0.5:
            raise ValueError("fraud_rate must be in [0, 0.5)")
        unknown = set(self.scenarios) - set(SCENARIOS)
        if unknown:
            raise ValueError(f"unknown scenario(s): {', '.join(sorted(unknown))}")
        if self.arrivals == "uniform" and self.rhythm:
            raise ValueError("uniform arrivals hold a steady rate; the daily rhythm needs poisson")
        if not self.token_key:
            raise ValueError("token_key must not be empty")


class TransactionGenerator:
    """An endless, event-time-ordered iterator of :class:`GeneratedTransaction`."""

    def __init__(self, config: GeneratorConfig, population: Population | None = None) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.population = population or build_population(
            cards=config.cards,
            seed=config.seed,
            token_key=config.token_key,
            merchants=config.merchants,
        )
        run = hashlib.sha256(f"{config.seed}|{config.start.isoformat()}".encode()).hexdigest()
        self._id_prefix = f"tx-{run[:10]}-"
        self._counter = itertools.count()
        self._order = itertools.count()
        self._pending: list[tuple[datetime, int, Planned]] = []
        self._compromised: dict[str, datetime] = {}  # merchant id -> compromised until
        # Every compromise as (merchant id, from, until): ground truth for reports and tests.
        self.compromised_windows: list[tuple[str, datetime, datetime]] = []
        self._domestic: dict[str, list[City]] = {}
        for merchant in self.population.merchants:
            cities = self._domestic.setdefault(merchant.city.country, [])
            if not merchant.online and merchant.city not in cities:
                cities.append(merchant.city)
        merchants = len(self.population.merchants)
        self._context = Context(
            population=self.population,
            rng=self.rng,
            seconds_per_merchant_tx=merchants / config.rate,
            night_shift=self._night_shift,
        )
        weights = {name: 1.0 / EXPECTED_FRAUDS[name] for name in config.scenarios}
        total = sum(weights.values())
        self._scenario_names = list(weights)
        self._scenario_weights = [weights[n] / total for n in self._scenario_names]
        mean_frauds = sum(
            w * EXPECTED_FRAUDS[n]
            for n, w in zip(self._scenario_names, self._scenario_weights, strict=True)
        )
        self._scenario_rate = config.fraud_rate * config.rate / mean_frauds if mean_frauds else 0.0
        self._peak = rhythm.peak_intensity() if config.rhythm else 1.0
        self._next_slot = self._first_slot(config)
        self._next_scenario = (
            self._arrival(config.start, self._scenario_rate) if self._scenario_rate else None
        )

    # -- time ------------------------------------------------------------------------------
    def _first_slot(self, config: GeneratorConfig) -> datetime:
        return (
            config.start
            if config.arrivals == "uniform"
            else self._arrival(config.start, config.rate)
        )

    def _arrival(self, after: datetime, rate: float) -> datetime:
        """Next arrival of the rate process: evenly spaced (``uniform``) or Poisson, thinned by
        the daily rhythm when it is on."""
        if rate == self.config.rate and self.config.arrivals == "uniform":
            return after + timedelta(seconds=1.0 / rate)
        moment = after
        while True:
            moment += timedelta(seconds=self.rng.expovariate(rate * self._peak))
            if not self.config.rhythm or self.rng.random() < rhythm.intensity(moment) / self._peak:
                return moment

    def _night_shift(self, start: datetime) -> datetime:
        """Move an account takeover to the next odd hour (1-4 am) when simulating history."""
        if not self.config.rhythm or start.hour in (1, 2, 3, 4):
            return start
        days = 0 if start.hour < 1 else 1
        night = start.replace(hour=1, minute=0, second=0, microsecond=0) + timedelta(days=days)
        return night + timedelta(seconds=self.rng.uniform(0, 3 * 3600))

    # -- building transactions --------------------------------------------------------------
    def _genuine(self, moment: datetime) -> Planned:
        """A holder's own use: mostly favourite merchants at home, sometimes a domestic trip,
        never a move faster than a plane from where the card last was."""
        pop, rng = self.population, self.rng
        card = pop.pick_card(rng)
        target = card.home
        if rng.random() < 0.03:
            trips = self._domestic.get(card.home.country, ())
            target = rng.choice(trips) if trips else card.home
        city = target if self._plausible(card, moment, target) else card.last_city
        if city is card.home and rng.random() < 0.85:
            merchant = pop.merchants[rng.choice(card.favourites)]
        elif rng.random() < 0.25 and pop.online:
            merchant = pop.merchants[rng.choice(pop.online)]
        else:
            merchant = pop.merchants[rng.choice(pop.by_city[city.name])]
        _, multiplier = CATEGORIES[merchant.category]
        mu = math.log(card.mean_amount * multiplier) - card.amount_sigma**2 / 2
        amount = max(0.5, round(math.exp(rng.gauss(mu, card.amount_sigma)), 2))
        return Planned(moment, card, merchant, amount, False, GENUINE, city)

    @staticmethod
    def _plausible(card: Card, moment: datetime, city: City) -> bool:
        if card.last_time is None or city is card.last_city:
            return True
        hours = (moment - card.last_time).total_seconds() / 3600
        distance = haversine_km(card.last_city.lat, card.last_city.lon, city.lat, city.lon)
        return distance <= hours * MAX_PLAUSIBLE_SPEED_KMH * 0.8

    def _start_scenario(self, moment: datetime) -> None:
        name = self.rng.choices(self._scenario_names, self._scenario_weights)[0]
        if name == "compromised_merchant":
            merchant, duration = compromised_merchant_window(self._context)
            if self._compromised.get(merchant.merchant_id, moment) > moment:
                return  # already compromised: the scenario is under way there
            self._compromised[merchant.merchant_id] = moment + duration
            self.compromised_windows.append((merchant.merchant_id, moment, moment + duration))
            return
        card = self.population.pick_card(self.rng)
        for planned in CARD_SCENARIOS[name](self._context, card, moment):
            heapq.heappush(self._pending, (planned.time, next(self._order), planned))

    def _event(self, planned: Planned) -> GeneratedTransaction:
        merchant: Merchant = planned.merchant
        city = merchant.city if merchant.online else (planned.city or merchant.city)
        moment = planned.time.replace(microsecond=planned.time.microsecond // 1000 * 1000)
        lat = lon = None
        if not merchant.online:
            lat = round(city.lat + self.rng.uniform(-0.05, 0.05), 5)
            lon = round(city.lon + self.rng.uniform(-0.05, 0.05), 5)
            if not planned.is_fraud:  # where the holder really is; fraud does not move them
                planned.card.last_city, planned.card.last_time = city, moment
        is_fraud, scenario = planned.is_fraud, planned.scenario
        until = self._compromised.get(merchant.merchant_id)
        if not is_fraud and until is not None and moment <= until:
            is_fraud, scenario = True, "compromised_merchant"
        event = TransactionEvent(
            transaction_id=f"{self._id_prefix}{next(self._counter):010d}",
            card_id=planned.card.card_id,
            merchant_id=merchant.merchant_id,
            amount=planned.amount,
            currency=CURRENCY,
            event_time=moment,
            merchant_category=merchant.category,
            channel=merchant.channel,
            country=city.country,
            lat=lat,
            lon=lon,
        )
        return GeneratedTransaction(event, is_fraud, scenario)

    def scale_fraud(self, factor: float) -> None:
        """Start fraud scenarios ``factor`` times as often from now on (a drift mid-run,
        :mod:`producer.drift`); every slot still carries one transaction."""
        if factor <= 0:
            raise ValueError("the fraud factor must be positive")
        self._scenario_rate *= factor

    # -- iteration --------------------------------------------------------------------------
    def __iter__(self) -> Iterator[GeneratedTransaction]:
        return self

    def __next__(self) -> GeneratedTransaction:
        """The next transaction. Every arrival slot of the rate process carries exactly one
        transaction: a due scenario transaction if there is one, else a genuine one; so a run
        of ``rate`` for ``d`` seconds holds ``rate * d`` transactions however much fraud it
        carries."""
        slot = self._next_slot
        self._next_slot = self._arrival(slot, self.config.rate)
        while self._next_scenario is not None and self._next_scenario <= slot:
            self._start_scenario(self._next_scenario)
            self._next_scenario = self._arrival(self._next_scenario, self._scenario_rate)
        if self._pending and self._pending[0][0] <= slot:
            planned = heapq.heappop(self._pending)[2]
            return self._event(replace(planned, time=slot))
        return self._event(self._genuine(slot))

    def until(self, end: datetime) -> Iterator[GeneratedTransaction]:
        """Transactions with event time before ``end``."""
        for generated in self:
            if generated.event.event_time >= end:
                return
            yield generated


def default_start(now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)).replace(microsecond=0)
