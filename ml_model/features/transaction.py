"""The slice of a transaction the feature code reads, with times as epoch milliseconds.

The feature code never sees ``datetime``: state stores epoch milliseconds and the hour and
weekday come from integer arithmetic, so batch and stream cannot disagree through time zones.
Build one with :meth:`TxInput.from_event` (the contract's event), :meth:`TxInput.from_mapping`
(a Spark ``Row.asDict()`` or a dict of columns) or directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fraudstream.events import TransactionEvent


def epoch_ms(moment: datetime | int | float) -> int:
    """Epoch milliseconds of an aware datetime (or pass an epoch-ms number through).

    A naive datetime is refused: the contract's times are UTC and guessing would shift hours.
    """
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("event times must be timezone-aware (UTC)")
        delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    return int(moment)


def _optional_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value)
    return text or None


def _optional_number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True, slots=True)
class TxInput:
    """One transaction as the feature code sees it.

    ``lat``/``lon`` count only when both are present; absent optional fields give the defined
    ``UNKNOWN`` feature values rather than errors.
    """

    event_ms: int
    amount: float
    merchant_id: str
    merchant_category: str | None = None
    channel: str | None = None
    lat: float | None = None
    lon: float | None = None

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None

    @classmethod
    def from_event(cls, event: TransactionEvent) -> TxInput:
        return cls(
            event_ms=epoch_ms(event.event_time),
            amount=float(event.amount),
            merchant_id=event.merchant_id,
            merchant_category=event.merchant_category,
            channel=event.channel,
            lat=event.lat,
            lon=event.lon,
        )

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> TxInput:
        """From contract-named fields; ``event_time`` may be an aware datetime or epoch ms,
        or ``event_ms`` may be given instead. Missing optional keys and NaNs mean absent."""
        when = row["event_ms"] if "event_ms" in row else row["event_time"]
        return cls(
            event_ms=epoch_ms(when),
            amount=float(row["amount"]),
            merchant_id=str(row["merchant_id"]),
            merchant_category=_optional_text(row.get("merchant_category")),
            channel=_optional_text(row.get("channel")),
            lat=_optional_number(row.get("lat")),
            lon=_optional_number(row.get("lon")),
        )
