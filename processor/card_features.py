"""Per-card state in Spark: a ``transformWithState`` processor (Row API) keyed by ``card_id``.

For each card with rows in a micro-batch it reads the card's state once, computes every row's
card features with the shared feature code (:func:`ml_model.features.card_features`) in
(event time, transaction id) order, and writes the state back once: two state-store calls per
card per batch, whatever the number of its rows. One enriched row is emitted per transaction
as it arrives (not at window close). The merchant part of the feature vector is added on the
driver by the batch sink, where the merchant state lives.

State is the card's compact history (epoch milliseconds and integer amounts; no datetimes) in
one binary value (:meth:`~ml_model.features.CardState.to_bytes`), with a processing-time TTL so
idle cards expire.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pyspark.sql import Row
from pyspark.sql import types as T
from pyspark.sql.streaming import StatefulProcessor, StatefulProcessorHandle

from fraudstream.events import spark_schema
from ml_model.features import (
    CardState,
    FeatureConfig,
    TxInput,
    card_features,
)

# What the operator passes through from its input, besides the contract's fields.
PASSTHROUGH = (
    T.StructField("event_ms", T.LongType(), False),
    T.StructField("shard_id", T.StringType(), True),
    T.StructField("sequence_number", T.StringType(), True),
    T.StructField("arrival_time", T.TimestampType(), True),
)
CARD_FEATURES = "card_features"
# The card's state as one binary value (CardState.to_bytes): measured against nine array
# columns, one bytes field is what makes the per-key state round trip cheap.
STATE_SCHEMA = T.StructType([T.StructField("card", T.BinaryType(), False)])


def output_schema() -> T.StructType:
    """The operator's output: contract fields, source metadata, and the card features."""
    fields = list(spark_schema().fields) + list(PASSTHROUGH)
    fields.append(T.StructField(CARD_FEATURES, T.ArrayType(T.DoubleType(), False), False))
    return T.StructType(fields)


OUTPUT_NAMES = tuple(f.name for f in output_schema().fields if f.name != CARD_FEATURES)


def enrich(
    card: CardState, rows: list[dict[str, Any]], config: FeatureConfig
) -> Iterator[dict[str, Any]]:
    """One card's new rows in (event time, transaction id) order, each with its card features
    computed from ``card`` before it; ``card`` is updated in place. Pure: the operator's logic
    without Spark."""
    for values in sorted(rows, key=lambda r: (r["event_ms"], r["transaction_id"])):
        tx = TxInput.from_mapping(values)
        vector = card_features(card, tx)
        card.add(tx, config.card_max_history)
        yield {**{name: values.get(name) for name in OUTPUT_NAMES}, CARD_FEATURES: vector}


class CardFeatures(StatefulProcessor):
    """The per-card operator. Picklable: it holds only plain configuration until ``init``."""

    def __init__(self, config: dict[str, Any], ttl_ms: int) -> None:
        self._config_data = config
        self._ttl_ms = ttl_ms

    def init(self, handle: StatefulProcessorHandle) -> None:
        self._config = FeatureConfig.from_dict(self._config_data)
        self._state = handle.getValueState("card", STATE_SCHEMA, self._ttl_ms)

    def handleInputRows(self, key: Any, rows: Iterator[Row], timerValues: Any) -> Iterator[Row]:
        stored = self._state.get()
        card = CardState.from_bytes(bytes(stored[0])) if stored is not None else CardState()
        ordered = sorted(rows, key=lambda r: (r["event_ms"], r["transaction_id"]))
        history = self._config.card_max_history
        for row in ordered:
            values = row.asDict()
            tx = TxInput.from_mapping(values)
            vector = card_features(card, tx)
            card.add(tx, history)
            yield Row(
                **{name: values.get(name) for name in OUTPUT_NAMES}, **{CARD_FEATURES: vector}
            )
        self._state.update((card.to_bytes(),))

    def close(self) -> None:
        """Nothing to release."""
