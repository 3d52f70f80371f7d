"""Sliding event-time windows per card and per merchant: the lake's ``aggregates`` view.

One stateful aggregation: every decided transaction counts once for its card and once for its
merchant (an ``explode`` to ``entity_type``/``entity_id``), grouped by 10-minute windows
sliding every 5 minutes. In append mode a window's row is emitted once, when the watermark
passes its end, with the columns of the ``aggregates`` lake table (the sink adds
``batch_id``). Rows later than the watermark are dropped by Spark and show up in the query's
``numRowsDroppedByWatermark`` (see :mod:`processor.metrics`).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

WINDOW = "10 minutes"
SLIDE = "5 minutes"
FRAUD_DECISIONS = ("review", "block")
INPUT_COLUMNS = ("event_time", "card_id", "merchant_id", "amount", "decision")
OUTPUT_COLUMNS = (
    "entity_type",
    "entity_id",
    "window_start",
    "window_end",
    "tx_count",
    "amount_sum",
    "amount_max",
    "fraud_decisions",
)


def windowed_aggregates(
    decided: DataFrame,
    *,
    watermark: str | None,
    window: str = WINDOW,
    slide: str = SLIDE,
) -> DataFrame:
    """Per-card and per-merchant window aggregates of a (streaming) DataFrame of decisions.

    ``decided`` needs :data:`INPUT_COLUMNS`. ``watermark`` is the delay for
    ``withWatermark("event_time", ...)`` (``settings.watermark``); pass None when the input
    already carries a watermark on ``event_time``. Write the result in append mode.
    """
    missing = [c for c in INPUT_COLUMNS if c not in decided.columns]
    if missing:
        raise ValueError(f"decided transactions lack column(s): {', '.join(missing)}")
    source = decided if watermark is None else decided.withWatermark("event_time", watermark)
    entity = F.explode(
        F.array(
            F.struct(F.lit("card").alias("type"), F.col("card_id").alias("id")),
            F.struct(F.lit("merchant").alias("type"), F.col("merchant_id").alias("id")),
        )
    )
    rows = source.select(
        "event_time",
        F.col("amount").cast("double").alias("amount"),
        F.col("decision").isin(*FRAUD_DECISIONS).cast("long").alias("fraud"),
        entity.alias("entity"),
    )
    grouped = rows.groupBy(
        F.window("event_time", window, slide).alias("window"),
        F.col("entity.type").alias("entity_type"),
        F.col("entity.id").alias("entity_id"),
    ).agg(
        F.count(F.lit(1)).alias("tx_count"),
        F.sum("amount").alias("amount_sum"),
        F.max("amount").alias("amount_max"),
        F.sum("fraud").alias("fraud_decisions"),
    )
    return grouped.select(
        "entity_type",
        "entity_id",
        F.col("window.start").alias("window_start"),
        F.col("window.end").alias("window_end"),
        F.col("tx_count").cast("long").alias("tx_count"),
        "amount_sum",
        "amount_max",
        F.coalesce(F.col("fraud_decisions"), F.lit(0)).cast("long").alias("fraud_decisions"),
    )
