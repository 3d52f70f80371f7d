"""The streaming plan: both Kinesis streams in one validated scan, one row stream to the sink.

    transactions ─┐   format("fraudstream"): read, validate in Arrow     ┌─ tx rows
                  ├──►  (valid transactions typed; labels parsed;       ─┼─ label rows
    labels ───────┘      anything else a quarantine row with a reason)  └─ quarantine rows
        └──► watermark (event_time; null for labels and quarantine rows)
        └──► dedup on dedup_key (the transaction id; a record's own shard and sequence number
             for labels and quarantine rows, which the state forgets at the next batch)
        └──► foreachBatch: features, scoring, decisions, windows, lake, alerts

One query, so both streams are read once per micro-batch and one checkpoint covers both.
Spark keeps what it is best at: reading offsets, the de-duplication state and the checkpoint.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from fraudstream.settings import Settings
from processor.event_source import options_from_settings
from processor.rows import DEDUP_KEY


def read_events(spark: SparkSession, settings: Settings) -> DataFrame:
    """Both streams through the project's validated source, configured from settings."""
    options = options_from_settings(settings, startingPosition=settings.starting_position)
    return spark.readStream.format("fraudstream").options(**options).load()


def build(spark: SparkSession, settings: Settings) -> DataFrame:
    """The rows the batch sink receives (see the module diagram)."""
    return (
        read_events(spark, settings)
        .withWatermark("event_time", settings.watermark)
        .dropDuplicatesWithinWatermark([DEDUP_KEY])
        .drop(DEDUP_KEY)
    )
