"""Build the rows the streaming plan hands the batch sink, without Spark: transaction, label and
quarantine rows in the union's shape (column ``kind``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from fraudstream.events import arrow_schema
from processor.rows import KIND, LABEL, QUARANTINE, TX
from producer.generator import GeneratedTransaction

UTC_US = pa.timestamp("us", tz="UTC")
SCHEMA = (
    arrow_schema()
    .append(pa.field("event_ms", pa.int64()))
    .append(pa.field("shard_id", pa.string()))
    .append(pa.field("sequence_number", pa.string()))
    .append(pa.field("arrival_time", UTC_US))
    .append(pa.field(KIND, pa.string()))
    .append(pa.field("is_fraud", pa.bool_()))
    .append(pa.field("scenario", pa.string()))
    .append(pa.field("label_event_time", UTC_US))
    .append(pa.field("label_time", UTC_US))
    .append(pa.field("raw", pa.string()))
    .append(pa.field("reason", pa.string()))
    .append(pa.field("detail", pa.string()))
)
SCHEMA = pa.schema([f.with_nullable(True) for f in SCHEMA])


class RowFactory:
    """Numbers the rows' Kinesis sequence numbers across batches."""

    def __init__(self) -> None:
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
        rows: list[dict[str, Any]] = []
        for generated in transactions:
            event = generated.event
            rows.append(
                {
                    **{name: getattr(event, name) for name in arrow_schema().names},
                    "event_ms": int(event.event_time.timestamp() * 1000),
                    "shard_id": "shardId-000000000000",
                    "sequence_number": self._next(),
                    "arrival_time": arrival,
                    KIND: TX,
                }
            )
        for generated in labels:
            label = generated.label(label_time or arrival)
            rows.append(
                {
                    **label.to_dict(),
                    "is_fraud": label.is_fraud,
                    KIND: LABEL,
                    "event_time": None,
                    "label_event_time": label.event_time,
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
