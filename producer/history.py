"""Labelled history from the generator, as one Arrow table: training data for the model.

Columns: the event contract's fields (``fraudstream.events.arrow_schema()``) plus ``is_fraud``,
``scenario`` and ``label_time`` (event time + label delay: when the label became known).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from fraudstream.events import EVENT_FIELDS, arrow_schema
from fraudstream.settings import DEV_TOKEN_KEY
from producer.generator import GeneratorConfig, TransactionGenerator

DAILY_TRANSACTIONS_PER_CARD = 3.0
HISTORY_START = datetime(2026, 1, 1, tzinfo=UTC)
"""Where generated history begins unless a caller says otherwise."""


def history_schema() -> pa.Schema:
    return (
        arrow_schema()
        .append(pa.field("is_fraud", pa.bool_(), nullable=False))
        .append(pa.field("scenario", pa.string(), nullable=False))
        .append(pa.field("label_time", pa.timestamp("us", tz="UTC"), nullable=False))
    )


def generate_history(
    *,
    cards: int = 5_000,
    days: float = 30.0,
    seed: int = 7,
    fraud_rate: float = 0.01,
    start: datetime | None = None,
    rate: float | None = None,
    label_delay: timedelta = timedelta(seconds=60),
    token_key: bytes = DEV_TOKEN_KEY.encode(),
) -> pa.Table:
    """Generate ``days`` of labelled transactions.

    Without ``rate``, cards transact about three times a day following the daily rhythm
    (realistic history). With ``rate`` (transactions per second), the stream has the density
    of a live run at that rate, which is what a model serving that live run should see.
    """
    if days <= 0:
        raise ValueError("days must be positive")
    begin = start or HISTORY_START
    realistic = rate is None
    config = GeneratorConfig(
        start=begin,
        seed=seed,
        cards=cards,
        rate=rate or cards * DAILY_TRANSACTIONS_PER_CARD / 86_400,
        fraud_rate=fraud_rate,
        rhythm=realistic,
        token_key=token_key,
    )
    end = begin + timedelta(days=days)
    names = [f.name for f in EVENT_FIELDS]
    columns: dict[str, list[object]] = {
        name: [] for name in [*names, "is_fraud", "scenario", "label_time"]
    }
    for generated in TransactionGenerator(config).until(end):
        event = generated.event
        for name in names:
            columns[name].append(getattr(event, name))
        columns["is_fraud"].append(generated.is_fraud)
        columns["scenario"].append(generated.scenario)
        columns["label_time"].append(event.event_time + label_delay)
    return pa.Table.from_pydict(columns, schema=history_schema())
