"""A seeded population of cards and merchants.

Everything random comes from one ``random.Random(seed)``, so the same seed gives the same
population on any machine. Card numbers are generated here and tokenised immediately; only the
token leaves this module in events.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime

from producer.card_tokens import random_card_number, tokenize
from producer.geography import CITIES, City

# Categories with the channel they trade on and a typical amount multiplier.
CATEGORIES: dict[str, tuple[str, float]] = {
    "grocery": ("pos", 0.8),
    "restaurant": ("pos", 0.9),
    "fuel": ("pos", 1.0),
    "pharmacy": ("pos", 0.6),
    "clothing": ("pos", 1.6),
    "electronics": ("pos", 3.0),
    "travel": ("online", 4.0),
    "streaming": ("online", 0.3),
    "marketplace": ("online", 1.2),
    "gaming": ("online", 0.7),
    "gift_cards": ("online", 1.5),
    "cash_withdrawal": ("atm", 2.0),
}
EVERYDAY = ("grocery", "restaurant", "fuel", "pharmacy", "clothing", "streaming", "marketplace")
RISKY = ("electronics", "gift_cards", "gaming", "travel", "cash_withdrawal")


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    category: str
    channel: str
    city: City
    online: bool

    @property
    def country(self) -> str:
        return self.city.country


@dataclass
class Card:
    """A card holder's profile. ``number`` never leaves the producer; ``card_id`` does."""

    number: str
    card_id: str
    home: City
    mean_amount: float  # typical spend (EUR)
    amount_sigma: float  # log-normal spread of the holder's amounts
    activity: float  # relative transaction rate
    favourites: tuple[int, ...]  # indices into Population.merchants
    categories: tuple[str, ...]  # categories the holder normally uses
    # Where the holder really is: updated by the generator with each genuine located use.
    last_city: City = field(init=False)
    last_time: datetime | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.last_city = self.home


@dataclass
class Population:
    cards: list[Card]
    merchants: list[Merchant]
    by_city: dict[str, list[int]]  # city name -> local (non-online) merchant indices
    online: list[int]  # online merchant indices
    activity_cdf: list[float]  # cumulative card activity, for weighted choice

    def pick_card(self, rng: random.Random) -> Card:
        """A card chosen in proportion to its activity."""
        from bisect import bisect_left

        target = rng.random() * self.activity_cdf[-1]
        return self.cards[min(bisect_left(self.activity_cdf, target), len(self.cards) - 1)]


def _merchants(rng: random.Random, count: int) -> list[Merchant]:
    merchants = []
    names = list(CATEGORIES)
    # Weight cities so Europe (the issuer's home market) has most merchants.
    weights = [3.0 if c.lon > -30 and c.lon < 40 and c.lat > 35 else 1.0 for c in CITIES]
    for index in range(count):
        category = rng.choice(names)
        channel, _ = CATEGORIES[category]
        city = rng.choices(CITIES, weights)[0]
        merchants.append(
            Merchant(f"m-{index:06d}", category, channel, city, online=channel == "online")
        )
    return merchants


def build_population(
    *, cards: int, seed: int, token_key: bytes, merchants: int | None = None
) -> Population:
    """Cards with homes, spending profiles and favourite merchants; merchants by city."""
    if cards < 1:
        raise ValueError("cards must be at least 1")
    rng = random.Random(seed)
    merchant_count = merchants or max(200, cards // 10)
    merchant_list = _merchants(rng, merchant_count)
    by_city: dict[str, list[int]] = {}
    online: list[int] = []
    for index, merchant in enumerate(merchant_list):
        if merchant.online:
            online.append(index)
        else:
            by_city.setdefault(merchant.city.name, []).append(index)
    home_weights = [4.0 if c.lon > -30 and c.lon < 40 and c.lat > 35 else 1.0 for c in CITIES]
    homes = [c for c in CITIES if c.name in by_city]
    home_weights = [w for c, w in zip(CITIES, home_weights, strict=True) if c.name in by_city]

    card_list = []
    cdf = []
    total = 0.0
    for _ in range(cards):
        number = random_card_number(rng)
        home = rng.choices(homes, home_weights)[0]
        local = by_city[home.name]
        picks = rng.sample(local, min(len(local), rng.randint(4, 12)))
        if online:
            picks += rng.sample(online, min(len(online), rng.randint(1, 4)))
        categories = tuple(sorted({merchant_list[i].category for i in picks}))
        activity = math.exp(rng.gauss(0.0, 0.5))
        card_list.append(
            Card(
                number=number,
                card_id=tokenize(number, token_key),
                home=home,
                mean_amount=round(math.exp(rng.gauss(math.log(45.0), 0.5)), 2),
                amount_sigma=rng.uniform(0.3, 0.7),
                activity=activity,
                favourites=tuple(picks),
                categories=categories,
            )
        )
        total += activity
        cdf.append(total)
    return Population(card_list, merchant_list, by_city, online, cdf)
