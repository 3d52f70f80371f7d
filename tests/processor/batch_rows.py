"""Build the rows the streaming plan hands the batch sink, without Spark: what the per-card
operator emits (via its pure logic, :func:`processor.card_features.enrich`), plus label and
quarantine rows, in the union's shape."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from fraudstream.events import arrow_schema
from ml_model.features import CardState, FeatureConfig
from processor.card_features import CARD_FEATURES, enrich
from processor.pipeline import KIND, LABEL, QUARANTINE, TX
from producer.generator import GeneratedTransaction

UTC_US = pa.timestamp("us", tz="UTC")
SCHEMA = (
    arrow_schema()
    .append(pa.field("event_ms", pa.int64()))
    .append(pa.field("shard_id", pa.string()))
    .append(pa.field("sequence_number", pa.string()))
    .append(pa.field("arrival_time", UTC_US))
    .append(pa.field(CARD_FEATURES, pa.list_(pa.float64())))
    .append(pa.field(KIND, pa.string()))
    .append(pa.field("is_fraud", pa.bool_()))
    .append(pa.field("scenario", pa.string()))
    .append(pa.field("label_time", UTC_US))
    .append(pa.field("raw", pa.string()))
    .append(pa.field("reason", pa.string()))
    .append(pa.field("detail", pa.string()))
)
SCHEMA = pa.schema([f.with_nullable(True) for f in SCHEMA])


class RowFactory:
    """Keeps the per-card states between batches, as the Spark operator's state store does."""

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        self.cards: dict[str, CardState] = defaultdict(CardState)
        self.sequence = 0

    def _next(self) -> str:
        self.sequence += 1
        return str(self.sequence)

    def batch(
        self,
        transactions: list[GeneratedTransaction],
        *,
        labels: list[GeneratedTransaction] = (),  # type: ignore[assignment]
        label_time: datetime | None = None,
        quarantine: list[tuple[str, str]] = (),  # type: ignore[assignment]
        arrival: datetime | None = None,
    ) -> pa.Table:
        arrival = arrival or datetime.now(UTC)
        by_card: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for generated in transactions:
            event = generated.event
            by_card[event.card_id].append(
                {
                    **{name: getattr(event, name) for name in arrow_schema().names},
                    "event_ms": int(event.event_time.timestamp() * 1000),
                    "shard_id": "shardId-000000000000",
                    "sequence_number": self._next(),
                    "arrival_time": arrival,
                }
            )
        rows: list[dict[str, Any]] = []
        for card_id, card_rows in by_card.items():
            for row in enrich(self.cards[card_id], card_rows, self.config):
                rows.append({**row, KIND: TX})
        for generated in labels:
            label = generated.label(label_time or arrival)
            rows.append(
                {
                    **label.to_dict(),
                    "is_fraud": label.is_fraud,
                    KIND: LABEL,
                    "event_time": label.event_time,
                    "label_time": label.label_time,
                    "shard_id": "shardId-000000000000",
                    "sequence_number": self._next(),
                    "arrival_time": arrival,
                }
            )
        for raw, reason in quarantine:
            rows.append(
                {
                    "raw": raw,
                    "reason": reason,
                    "detail": f"{reason} (test)",
                    KIND: QUARANTINE,
                    "shard_id": "shardId-000000000001",
                    "sequence_number": self._next(),
                    "arrival_time": arrival,
                }
            )
        return pa.Table.from_pylist(rows, SCHEMA)
