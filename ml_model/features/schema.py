"""The feature vector: names, order, plain-word meanings and the knobs that shape it.

The order of :data:`FEATURE_NAMES` is the column order of the training matrix, of the CSV rows
the model server accepts and of the vector :func:`ml_model.features.features` returns. A model's
manifest records the names and the :class:`FeatureConfig` it was trained with; the stream must
compute features with that same config.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

#: Per-card windows (suffix, length in ms). The longest one is also the card state's retention.
CARD_WINDOWS: tuple[tuple[str, int], ...] = (
    ("10m", 10 * MINUTE_MS),
    ("1h", HOUR_MS),
    ("1d", DAY_MS),
    ("7d", 7 * DAY_MS),
    ("30d", 30 * DAY_MS),
)
LOOKBACK_MS = CARD_WINDOWS[-1][1]
"""Nothing of a card's history older than this (30 days) reaches a feature."""

#: Per-merchant windows in days, each shifted back by the label delay.
MERCHANT_WINDOW_DAYS: tuple[int, ...] = (1, 7, 30)

#: Windows whose mean the current amount is compared with.
RATIO_WINDOWS: tuple[str, ...] = ("1d", "7d", "30d")

#: The value of a numeric feature that cannot be computed (no previous transaction, no location).
UNKNOWN = -1.0

#: Channel codes; an absent or unexpected channel is ``UNKNOWN``.
CHANNEL_CODES: dict[str, float] = {"pos": 0.0, "online": 1.0, "atm": 2.0}


def _names() -> tuple[str, ...]:
    names = [
        "amount",
        "log_amount",
        "hour_of_day",
        "is_night",
        "is_weekend",
        "channel_code",
        "seconds_since_previous",
    ]
    for suffix, _ in CARD_WINDOWS:
        names += [f"card_count_{suffix}", f"card_sum_{suffix}", f"card_mean_{suffix}"]
    names += [f"amount_to_mean_{suffix}" for suffix in RATIO_WINDOWS]
    names += [
        "distance_from_previous_km",
        "speed_from_previous_kmh",
        "distance_from_home_km",
        "first_time_merchant",
        "first_time_category",
    ]
    names += [f"merchant_count_{d}d" for d in MERCHANT_WINDOW_DAYS]
    names += [f"merchant_fraud_share_{d}d" for d in MERCHANT_WINDOW_DAYS]
    names += ["merchant_days_since_last_fraud", "merchant_days_since_first_fraud"]
    return tuple(names)


FEATURE_NAMES: tuple[str, ...] = _names()
FEATURE_COUNT = len(FEATURE_NAMES)
FEATURE_INDEX: dict[str, int] = {name: i for i, name in enumerate(FEATURE_NAMES)}

_WINDOW_WORDS = {
    "10m": "10 minutes",
    "1h": "hour",
    "1d": "day",
    "7d": "7 days",
    "30d": "30 days",
}


def _descriptions() -> dict[str, str]:
    words = {
        "amount": "transaction amount",
        "log_amount": "transaction amount",
        "hour_of_day": "time of day",
        "is_night": "used at night",
        "is_weekend": "used at the weekend",
        "channel_code": "payment channel",
        "seconds_since_previous": "time since the card's previous transaction",
        "distance_from_previous_km": "distance from the card's previous location",
        "speed_from_previous_kmh": "travel speed implied since the previous transaction",
        "distance_from_home_km": "distance from the card's usual location",
        "first_time_merchant": "first purchase at this merchant",
        "first_time_category": "first purchase in this merchant category",
    }
    for suffix, _ in CARD_WINDOWS:
        span = _WINDOW_WORDS[suffix]
        words[f"card_count_{suffix}"] = f"number of card transactions in the last {span}"
        words[f"card_sum_{suffix}"] = f"card spending in the last {span}"
        words[f"card_mean_{suffix}"] = f"card's average amount over the last {span}"
    for suffix in RATIO_WINDOWS:
        span = _WINDOW_WORDS[suffix]
        words[f"amount_to_mean_{suffix}"] = f"amount compared with the card's {span} average"
    for days in MERCHANT_WINDOW_DAYS:
        span = _WINDOW_WORDS[f"{days}d"]
        words[f"merchant_count_{days}d"] = f"merchant's transaction volume ({span}, labelled)"
        words[f"merchant_fraud_share_{days}d"] = f"merchant's confirmed fraud rate ({span})"
    words["merchant_days_since_last_fraud"] = "days since the merchant's latest confirmed fraud"
    words["merchant_days_since_first_fraud"] = "how long the merchant has had confirmed fraud"
    return words


#: Plain-word meaning of each feature, used for reason codes.
FEATURE_DESCRIPTIONS: dict[str, str] = _descriptions()


@dataclass(frozen=True)
class FeatureConfig:
    """Knobs of the feature code that a model is trained with and the stream must reuse.

    ``label_delay_ms``: merchant windows end this long before the transaction, so they only
    count transactions whose labels are known (7 days for the handbook backtest, about a minute
    for the live demo). ``merchant_bucket_ms``: the end of a merchant window is aligned down to
    a multiple of this; it must divide an hour (an hour when labels take that long or more, a
    minute for the demo's minute-old labels).
    """

    label_delay_ms: int = 7 * DAY_MS
    merchant_bucket_ms: int = HOUR_MS

    def __post_init__(self) -> None:
        if self.label_delay_ms < 0:
            raise ValueError("label_delay_ms must be >= 0")
        if self.merchant_bucket_ms <= 0 or HOUR_MS % self.merchant_bucket_ms:
            raise ValueError("merchant_bucket_ms must be a positive divisor of one hour")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        known = {k: int(v) for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)
