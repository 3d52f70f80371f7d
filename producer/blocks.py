"""The live producer's generator: the same transaction process as
:class:`producer.generator.TransactionGenerator`, made a block of event time at a time, with the
random draws of a block taken at once with numpy and the events left as columns.

Why a second implementation: the row-by-row generator costs ~14 µs of CPU per event (datetime
arithmetic, a ``random.Random`` call per choice, three objects per event), most of the
producer's 20 µs budget at 10,000 events/s. Here a block's random numbers come from numpy in
one go, times are integer microseconds, the only per-event Python is the few lines that carry
state from one event to the next (where each card was last seen), and nothing is built per
event but its entries in the columns: ~3 µs per event.

What is shared, so both behave alike: the population (:func:`build_population`), the fraud
scenarios and their weights (:mod:`producer.scenarios`, called as they are, with a
``random.Random`` of their own), the rate process (every arrival slot carries one transaction:
a due scenario transaction, else a genuine one), the genuine behaviour (favourite merchants at
home 85 % of the time, a domestic trip 3 %, online 25 % of the rest, never faster than a plane
from where the card last was, log-normal amounts around the card's mean times the category's
multiplier) and the compromised-merchant windows. What differs: the random streams, so the
same seed gives a different (but again always the same) stream than the row generator. The
daily rhythm is not supported (it shapes history; live runs hold a steady rate).
``tests/producer/test_blocks.py`` holds the two generators to the same statistics.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from producer.generator import GeneratorConfig
from producer.geography import CITIES, MAX_PLAUSIBLE_SPEED_KMH, haversine_km
from producer.population import CATEGORIES, Card, Population, build_population
from producer.scenarios import (
    CARD_SCENARIOS,
    EXPECTED_FRAUDS,
    GENUINE,
    Context,
    Planned,
    compromised_merchant_window,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_TRIP_CHANCE, _FAVOURITE_CHANCE, _ONLINE_CHANCE = 0.03, 0.85, 0.25


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // _US


@dataclass
class EventBlock:
    """Transactions in event-time order, as columns (indices into the generator's tables)."""

    ids: list[int] = field(default_factory=list)  # sequence numbers of the transaction ids
    times_us: list[int] = field(default_factory=list)
    cards: list[int] = field(default_factory=list)
    merchants: list[int] = field(default_factory=list)
    cities: list[int] = field(default_factory=list)  # where the card was used (CITIES index)
    amounts: list[float] = field(default_factory=list)
    lats: list[float | None] = field(default_factory=list)
    lons: list[float | None] = field(default_factory=list)
    frauds: list[bool] = field(default_factory=list)
    scenarios: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


class BlockGenerator:
    """Transactions for live runs, a block at a time: :meth:`until` gives every transaction
    with event time before a moment, in order."""

    def __init__(self, config: GeneratorConfig, population: Population | None = None) -> None:
        if config.rhythm:
            raise ValueError("the block generator holds a steady rate; use TransactionGenerator")
        self.config = config
        self.population = population or build_population(
            cards=config.cards, seed=config.seed, token_key=config.token_key,
            merchants=config.merchants,
        )  # fmt: skip
        pop = self.population
        # Two streams, each drawn in an order independent of where blocks start and end (so
        # the wall-clock ticks of a live run do not change what it sends): arrival gaps in
        # fixed-size chunks, and the same 11 numbers for every slot.
        self._arrivals_np = np.random.default_rng([config.seed, 1])
        self._slots_np = np.random.default_rng([config.seed, 2])
        self._rng = random.Random(config.seed ^ 0x5EED)  # scenarios and their timing
        run = hashlib.sha256(f"{config.seed}|{config.start.isoformat()}".encode()).hexdigest()
        self.id_prefix = f"tx-{run[:10]}-"
        self._next_id = 0
        self._order = itertools.count()
        # Tables: cities, merchants, cards.
        city_index = {city.name: i for i, city in enumerate(CITIES)}
        self.city_country = [city.country for city in CITIES]
        self._city_lat = np.array([city.lat for city in CITIES])
        self._city_lon = np.array([city.lon for city in CITIES])
        self._distance = [
            [haversine_km(a.lat, a.lon, b.lat, b.lon) for b in CITIES] for a in CITIES
        ]
        merchants = pop.merchants
        self.merchant_ids = [m.merchant_id for m in merchants]
        self.merchant_category = [m.category for m in merchants]
        self.merchant_channel = [m.channel for m in merchants]
        self._merchant_online = [m.online for m in merchants]
        self._merchant_city = [city_index[m.city.name] for m in merchants]
        self._merchant_index = {id(m): i for i, m in enumerate(merchants)}
        self._multiplier = np.array([CATEGORIES[m.category][1] for m in merchants])
        self._by_city: list[list[int]] = [pop.by_city.get(city.name, []) for city in CITIES]
        domestic: dict[str, list[int]] = {}
        for merchant in merchants:
            cities = domestic.setdefault(merchant.city.country, [])
            index = city_index[merchant.city.name]
            if not merchant.online and index not in cities:
                cities.append(index)
        self._domestic = domestic
        cards = pop.cards
        self.card_ids = [c.card_id for c in cards]
        self._card_index = {id(c): i for i, c in enumerate(cards)}
        self._home = [city_index[c.home.name] for c in cards]
        self._favourites = [c.favourites for c in cards]
        self._mean = np.array([c.mean_amount for c in cards])
        self._sigma = np.array([c.amount_sigma for c in cards])
        self._cdf = np.array(pop.activity_cdf)
        self._last_city = [city_index[c.last_city.name] for c in cards]
        self._last_us = [-1] * len(cards)
        # Processes.
        self._rate = config.rate
        self._slot_us = 1_000_000 / config.rate
        self._start_us = _us(config.start)
        self._slots = 0  # slots generated so far
        self._next_poisson_us = float(self._start_us)
        weights = {name: 1.0 / EXPECTED_FRAUDS[name] for name in config.scenarios}
        total = sum(weights.values())
        self._scenario_names = list(weights)
        self._scenario_weights = [weights[n] / total for n in self._scenario_names]
        mean_frauds = sum(
            w * EXPECTED_FRAUDS[n]
            for n, w in zip(self._scenario_names, self._scenario_weights, strict=True)
        )
        self._scenario_rate = config.fraud_rate * config.rate / mean_frauds if mean_frauds else 0.0
        self._next_scenario_us: float | None = (
            self._start_us + self._rng.expovariate(self._scenario_rate) * 1e6
            if self._scenario_rate
            else None
        )
        self._context = Context(
            population=pop,
            rng=self._rng,
            seconds_per_merchant_tx=len(merchants) / config.rate,
            night_shift=lambda moment: moment,
        )
        self._pending: list[tuple[int, int, Planned]] = []
        self._compromised: dict[int, int] = {}  # merchant index -> compromised until (us)
        self.compromised_windows: list[tuple[str, datetime, datetime]] = []
        self._carry: list[int] = []  # slot times generated but not yet given out (poisson)

    # -- arrival slots ---------------------------------------------------------------------

    def _slot_times(self, end_us: int) -> list[int]:
        """Arrival slots before ``end_us`` (each carries one transaction)."""
        if self.config.arrivals == "uniform":
            first = self._slots
            count = max(0, math.ceil((end_us - self._start_us) / self._slot_us) - first)
            self._slots += count
            if not count:
                return []
            steps = np.arange(first, first + count, dtype=np.float64)
            times: list[int] = (
                (self._start_us + np.floor(steps * self._slot_us)).astype(np.int64).tolist()
            )
            return times
        out = [t for t in self._carry if t < end_us]
        self._carry = [t for t in self._carry if t >= end_us]
        while not self._carry:
            gaps = self._arrivals_np.exponential(1e6 / self._rate, max(64, int(self._rate)))
            times_f = self._next_poisson_us + np.cumsum(gaps)
            self._next_poisson_us = float(times_f[-1])
            fresh = times_f.astype(np.int64).tolist()
            out += [t for t in fresh if t < end_us]
            self._carry = [t for t in fresh if t >= end_us]
        return out

    def scale_fraud(self, factor: float) -> None:
        """Start fraud scenarios ``factor`` times as often from now on (a drift mid-run,
        :mod:`producer.drift`); every slot still carries one transaction."""
        if factor <= 0:
            raise ValueError("the fraud factor must be positive")
        self._scenario_rate *= factor

    # -- scenarios -------------------------------------------------------------------------

    def _start_scenarios(self, before_us: int) -> None:
        while self._next_scenario_us is not None and self._next_scenario_us <= before_us:
            at_us = int(self._next_scenario_us)
            self._start_scenario(at_us)
            self._next_scenario_us += self._rng.expovariate(self._scenario_rate) * 1e6

    def _start_scenario(self, at_us: int) -> None:
        moment = _EPOCH + timedelta(microseconds=at_us)
        name = self._rng.choices(self._scenario_names, self._scenario_weights)[0]
        if name == "compromised_merchant":
            merchant, duration = compromised_merchant_window(self._context)
            index = self._merchant_index[id(merchant)]
            if self._compromised.get(index, at_us) > at_us:
                return  # already compromised: the scenario is under way there
            until = at_us + duration // _US
            self._compromised[index] = until
            self.compromised_windows.append(
                (merchant.merchant_id, moment, _EPOCH + timedelta(microseconds=until))
            )
            return
        card = self.population.pick_card(self._rng)
        self._sync_card(card)
        for planned in CARD_SCENARIOS[name](self._context, card, moment):
            heapq.heappush(self._pending, (_us(planned.time), next(self._order), planned))

    def _sync_card(self, card: Card) -> None:
        """Tell the card object where the holder is (scenarios read ``card.last_city``)."""
        index = self._card_index[id(card)]
        card.last_city = CITIES[self._last_city[index]]
        last = self._last_us[index]
        card.last_time = None if last < 0 else _EPOCH + timedelta(microseconds=last)

    # -- the block -------------------------------------------------------------------------

    def until(self, end: datetime) -> EventBlock:
        """Every transaction with event time before ``end`` not given out yet."""
        slots = self._slot_times(_us(end))
        block = EventBlock()
        if not slots:
            return block
        n = len(slots)
        draws = self._slots_np.random((n, 11)).T
        u_trip, u_trip_city, u_favourite, u_pick, u_online, u_lat, u_lon = draws[:7].tolist()
        picked = np.searchsorted(self._cdf, draws[7] * self._cdf[-1])
        picked_cards: list[int] = np.minimum(picked, len(self.card_ids) - 1).tolist()
        # A standard normal per slot from two uniforms (Box-Muller), for the amounts.
        z = np.sqrt(-2.0 * np.log1p(-draws[8])) * np.cos(2.0 * np.pi * draws[9])
        home, favourites, last_city, last_us = (
            self._home, self._favourites, self._last_city, self._last_us,
        )  # fmt: skip
        by_city, online, distance = self._by_city, self.population.online, self._distance
        merchant_online, merchant_city = self._merchant_online, self._merchant_city
        country = self.city_country
        compromised = self._compromised
        amounts: list[float | None] = []
        genuine_rows: list[int] = []
        pending = self._pending
        for i, t in enumerate(slots):
            self._start_scenarios(t)
            if pending and pending[0][0] <= t:
                planned = heapq.heappop(pending)[2]
                card = self._card_index[id(planned.card)]
                merchant = self._merchant_index[id(planned.merchant)]
                if merchant_online[merchant] or planned.city is None:
                    city = merchant_city[merchant]
                else:
                    city = CITIES.index(planned.city)
                amounts.append(planned.amount)
                is_fraud, scenario = planned.is_fraud, planned.scenario
            else:
                card = picked_cards[i]
                target = home[card]
                if u_trip[i] < _TRIP_CHANCE:
                    trips = self._domestic.get(country[target], ())
                    if trips:
                        target = trips[int(u_trip_city[i] * len(trips))]
                city = target
                seen = last_us[card]
                if seen >= 0 and target != last_city[card]:
                    hours = (t - seen) / 3.6e9
                    if distance[last_city[card]][target] > hours * MAX_PLAUSIBLE_SPEED_KMH * 0.8:
                        city = last_city[card]
                choices: Sequence[int]
                if city == home[card] and u_favourite[i] < _FAVOURITE_CHANCE:
                    choices = favourites[card]
                elif u_online[i] < _ONLINE_CHANCE and online:
                    choices = online
                else:
                    choices = by_city[city]
                merchant = choices[int(u_pick[i] * len(choices))]
                if merchant_online[merchant]:
                    city = merchant_city[merchant]
                amounts.append(None)
                genuine_rows.append(i)
                is_fraud, scenario = False, GENUINE
            moment_ms = t // 1000
            if not merchant_online[merchant] and not is_fraud:
                last_city[card], last_us[card] = city, moment_ms * 1000
            until = compromised.get(merchant)
            if not is_fraud and until is not None and moment_ms * 1000 <= until:
                is_fraud, scenario = True, "compromised_merchant"
            block.times_us.append(moment_ms * 1000)
            block.cards.append(card)
            block.merchants.append(merchant)
            block.cities.append(city)
            block.frauds.append(is_fraud)
            block.scenarios.append(scenario)
        block.ids = list(range(self._next_id, self._next_id + n))
        self._next_id += n
        self._amounts(block, amounts, genuine_rows, z)
        self._locations(block, u_lat, u_lon)
        return block

    def _amounts(
        self, block: EventBlock, amounts: list[float | None], rows: list[int], z: np.ndarray
    ) -> None:
        """Genuine amounts, log-normal around the card's mean times the category's factor."""
        if rows:
            index = np.array(rows)
            cards = np.array(block.cards)[index]
            sigma = self._sigma[cards]
            mean = self._mean[cards] * self._multiplier[np.array(block.merchants)[index]]
            drawn = np.exp(np.log(mean) - sigma**2 / 2 + sigma * z[index])
            values = np.maximum(0.5, np.round(drawn, 2)).tolist()
            for row, value in zip(rows, values, strict=True):
                amounts[row] = value
        block.amounts = [float(a) for a in amounts]  # type: ignore[arg-type]

    def _locations(self, block: EventBlock, u_lat: list[float], u_lon: list[float]) -> None:
        """Merchant coordinates a little around the city; none online."""
        cities = np.array(block.cities)
        lat = np.round(self._city_lat[cities] + np.array(u_lat) * 0.1 - 0.05, 5).tolist()
        lon = np.round(self._city_lon[cities] + np.array(u_lon) * 0.1 - 0.05, 5).tolist()
        online = self._merchant_online
        block.lats = [None if online[m] else a for m, a in zip(block.merchants, lat, strict=True)]
        block.lons = [None if online[m] else o for m, o in zip(block.merchants, lon, strict=True)]
