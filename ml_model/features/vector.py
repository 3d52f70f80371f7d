"""The feature vector of one transaction, from the card's state and the merchant's snapshot.

:func:`features` is pure: it reads the card state as it was *before* the transaction and does
not change it. The stream and the batch builder both call it and then ``card.add(tx, ...)``.
"""

from __future__ import annotations

import math

from ml_model.features.card import AMOUNT_SCALE, COORD_SCALE, CardState
from ml_model.features.merchant import EMPTY_SNAPSHOT, MerchantSnapshot
from ml_model.features.schema import (
    CARD_WINDOWS,
    CHANNEL_CODES,
    DAY_MS,
    HOUR_MS,
    RATIO_WINDOWS,
    UNKNOWN,
)
from ml_model.features.transaction import TxInput

EARTH_RADIUS_KM = 6371.0088
#: Speeds are computed over at least this long, so two located events a second apart do not
#: imply an absurd speed from GPS noise.
MIN_SPEED_HOURS = 1.0 / 60.0
NIGHT_LAST_HOUR = 6  # 00:00-06:59 is night, as in the handbook

_RATIO_POSITIONS = tuple(
    next(k for k, (suffix, _) in enumerate(CARD_WINDOWS) if suffix == wanted)
    for wanted in RATIO_WINDOWS
)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def hour_of_day(event_ms: int) -> int:
    return (event_ms // HOUR_MS) % 24


def is_weekend(event_ms: int) -> bool:
    """Saturday or Sunday in UTC (1970-01-01 was a Thursday)."""
    return (event_ms // DAY_MS + 3) % 7 >= 5


def features(card: CardState, merchant: MerchantSnapshot | None, tx: TxInput) -> list[float]:
    """The feature vector of ``tx`` in :data:`~ml_model.features.schema.FEATURE_NAMES` order.

    ``card`` holds the card's history before ``tx``; ``merchant`` is the merchant's snapshot at
    ``tx``'s time (``None`` means no history: zeros). Nothing here raises for absent optional
    fields; they give ``UNKNOWN`` (-1). The vector is the card part (:func:`card_features`)
    followed by the merchant snapshot, so a stream may compute the two where their states live.
    """
    return card_features(card, tx) + list(merchant if merchant is not None else EMPTY_SNAPSHOT)


def card_features(card: CardState, tx: TxInput) -> list[float]:
    """The leading ``FEATURE_COUNT - len(EMPTY_SNAPSHOT)`` features: the transaction's own and
    those read from the card's history (before ``tx``)."""
    t = tx.event_ms
    amount = float(tx.amount)
    hour = hour_of_day(t)
    out = [
        amount,
        math.log1p(max(amount, 0.0)),
        float(hour),
        1.0 if hour <= NIGHT_LAST_HOUR else 0.0,
        1.0 if is_weekend(t) else 0.0,
        CHANNEL_CODES.get(tx.channel, UNKNOWN) if tx.channel is not None else UNKNOWN,
    ]
    view = card.view(t)
    hi = view.hi
    out.append((t - card.ts[hi - 1]) / 1000.0 if hi else UNKNOWN)
    means = []
    for count, total in zip(view.counts, view.sums, strict=True):
        money = total / AMOUNT_SCALE
        mean = money / count if count else 0.0
        means.append(mean)
        out += [float(count), money, mean]
    for k in _RATIO_POSITIONS:
        mean = means[k]
        out.append(amount / mean if mean > 0 else UNKNOWN)

    distance = speed = home_distance = UNKNOWN
    if tx.lat is not None and tx.lon is not None:
        previous = card.previous_location(hi)
        if previous is not None:
            when, plat, plon = previous
            distance = haversine_km(plat / COORD_SCALE, plon / COORD_SCALE, tx.lat, tx.lon)
            hours = max((t - when) / HOUR_MS, MIN_SPEED_HOURS)
            speed = distance / hours
        home = card.home(hi)
        if home is not None:
            home_distance = haversine_km(home[0], home[1], tx.lat, tx.lon)
    out += [distance, speed, home_distance]

    out.append(0.0 if card.seen_merchant(tx.merchant_id, hi) else 1.0)
    if tx.merchant_category:
        out.append(0.0 if card.seen_category(tx.merchant_category, hi) else 1.0)
    else:
        out.append(UNKNOWN)
    return out
