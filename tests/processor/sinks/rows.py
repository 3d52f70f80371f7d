"""Decided transaction rows for sink tests, shaped like the processor's scored batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

START = datetime(2026, 11, 22, 9, 58, tzinfo=UTC)


def transactions(
    count: int, *, start: datetime = START, step: timedelta = timedelta(seconds=30)
) -> pd.DataFrame:
    """``count`` decided transactions, every third one review and every fifth one block."""
    rows = []
    for i in range(count):
        decision = "block" if i % 5 == 4 else ("review" if i % 3 == 2 else "approve")
        event_time = start + i * step
        rows.append(
            {
                "transaction_id": f"tx-{i:06d}",
                "card_id": f"tok_{i % 7:016x}_{i % 10000:04d}",
                "merchant_id": f"m-{i % 4}",
                "amount": 10.0 + i,
                "currency": "EUR",
                "event_time": event_time,
                "merchant_category": "grocery" if i % 2 else None,
                "channel": "pos",
                "country": "FR",
                "lat": 48.85,
                "lon": 2.35,
                "schema_version": 1,
                "features": {"card_count_10m": float(i % 4), "speed_kmh_from_prev": 3.0},
                "score": 0.95 if decision == "block" else (0.6 if decision == "review" else 0.05),
                "anomaly_score": 0.4 + 0.01 * (i % 5),
                "model_version": "xgb-2026-11-01",
                "scored_by": "endpoint",
                "decision": decision,
                "reasons": [] if decision == "approve" else ["high_model_score", "model:amount"],
                "shard_id": "shardId-000000000000",
                "sequence_number": f"{49000000000000000000000 + i}",
                "arrival_time": event_time + timedelta(milliseconds=300),
                "processed_at": event_time + timedelta(milliseconds=800),
                "extra_column": "dropped by the sink",
            }
        )
    return pd.DataFrame(rows)
