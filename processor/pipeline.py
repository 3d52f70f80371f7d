"""The streaming plan: both Kinesis streams in one validated scan, one row stream to the sink.

    transactions ─┐   format("fraudstream"): read, validate in Arrow     ┌─ tx rows
                  ├──►  (valid transactions typed; labels parsed;       ─┼─ label rows
    labels ───────┘      anything else a quarantine row with a reason)  └─ quarantine rows
        └──► packed as Arrow IPC values ──► foreachBatch, a batch behind Spark (ADR 0017):
             de-duplication and the watermark, features, scoring, decisions, windows, lake,
             alerts

One query, so both streams are read once per micro-batch and one checkpoint covers both.
Spark keeps what it is best at: reading offsets and the checkpoint. The plan has no shuffle
and no Spark state: the transactions already processed are one watermark of ids in the
sink's columnar state (:class:`~processor.seen_ids.SeenIds`, ADR 0016), where the labels'
already were.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from fraudstream.settings import Settings
from processor.event_source import options_from_settings


def read_events(spark: SparkSession, settings: Settings) -> DataFrame:
    """Both streams through the project's validated source, configured from settings."""
    options = options_from_settings(settings, startingPosition=settings.starting_position)
    return spark.readStream.format("fraudstream").options(**options).load()


def build(spark: SparkSession, settings: Settings) -> DataFrame:
    """The rows the batch sink receives (see the module diagram)."""
    return read_events(spark, settings)
