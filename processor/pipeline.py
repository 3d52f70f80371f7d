"""The streaming plan: two Kinesis streams in, one row stream out to the batch sink.

    transactions ──► validate ──► valid ──► watermark ──► dedup on transaction_id ──┐
                         │                  (event_time)  (within the watermark)    │
                         └──► quarantine rows                          per-card state (card
    labels ──► parse ──► label rows (bad ones ──► quarantine)          features) by card_id
                                                                                    │
    union of tx, label and quarantine rows (column ``kind``) ◄──────────────────────┘
        └──► foreachBatch: merchant risk, scoring, decisions, lake, alerts, windows

One query, so each stream is read once per micro-batch and one checkpoint covers both.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fraudstream.settings import Settings
from processor.card_features import CardFeatures, output_schema
from processor.kinesis.options import options_from_settings
from processor.validation import quarantine_rows, valid_events, validate

KIND = "kind"
TX, LABEL, QUARANTINE = "tx", "label", "quarantine"

LABEL_JSON = T.StructType(
    [
        T.StructField("transaction_id", T.StringType()),
        T.StructField("card_id", T.StringType()),
        T.StructField("merchant_id", T.StringType()),
        T.StructField("is_fraud", T.LongType()),
        T.StructField("scenario", T.StringType()),
        T.StructField("event_time", T.StringType()),
        T.StructField("label_time", T.StringType()),
    ]
)
LABEL_REQUIRED = (
    "transaction_id",
    "card_id",
    "merchant_id",
    "is_fraud",
    "event_time",
    "label_time",
)


def read_stream(spark: SparkSession, settings: Settings, stream_name: str) -> DataFrame:
    """A Kinesis stream through the project's source, configured from settings."""
    options = options_from_settings(
        settings, streamName=stream_name, startingPosition=settings.starting_position
    )
    return spark.readStream.format("kinesis").options(**options).load()


def _source(raw: DataFrame) -> list[Column]:
    return [
        F.col("shard_id"),
        F.col("sequence_number"),
        F.col("approximate_arrival_timestamp").alias("arrival_time"),
    ]


def labels(raw: DataFrame) -> DataFrame:
    """Label records parsed; a label missing a field, or unreadable, keeps ``reason``."""
    text = F.col("data").cast("string")
    parsed = raw.select(F.from_json(text, LABEL_JSON).alias("l"), text.alias("raw"), *_source(raw))
    complete = F.lit(True)
    for name in LABEL_REQUIRED:
        complete = complete & F.col(f"l.{name}").isNotNull()
    times_ok = (
        F.to_timestamp("l.event_time").isNotNull() & F.to_timestamp("l.label_time").isNotNull()
    )
    return parsed.select(
        F.col("l.transaction_id").alias("transaction_id"),
        F.col("l.card_id").alias("card_id"),
        F.col("l.merchant_id").alias("merchant_id"),
        (F.col("l.is_fraud") == 1).alias("is_fraud"),
        F.coalesce(F.col("l.scenario"), F.lit("unknown")).alias("scenario"),
        F.to_timestamp("l.event_time").alias("event_time"),
        F.to_timestamp("l.label_time").alias("label_time"),
        "raw",
        F.when(complete & times_ok, F.lit(None)).otherwise(F.lit("bad_label")).alias("reason"),
        F.when(complete & times_ok, F.lit(None))
        .otherwise(F.lit("label record is not valid JSON with every required field"))
        .alias("detail"),
        "shard_id",
        "sequence_number",
        "arrival_time",
    )


def build(spark: SparkSession, settings: Settings, feature_config: dict[str, Any]) -> DataFrame:
    """The union of decided-to-be rows the batch sink receives (see the module diagram)."""
    validated = validate(read_stream(spark, settings, settings.stream_name))
    events = (
        valid_events(validated)
        .withColumn("event_ms", F.unix_millis("event_time"))
        .withWatermark("event_time", settings.watermark)
        .dropDuplicatesWithinWatermark(["transaction_id"])
    )
    ttl_ms = int(settings.card_state_ttl_days * 86_400_000)
    enriched = events.groupBy("card_id").transformWithState(
        CardFeatures(feature_config, ttl_ms), output_schema(), "Append", "ProcessingTime"
    )
    label_rows = labels(read_stream(spark, settings, settings.labels_stream_name))
    good_labels = label_rows.where(F.col("reason").isNull()).drop("raw", "reason", "detail")
    bad_labels = label_rows.where(F.col("reason").isNotNull()).select(
        "raw", "reason", "detail", "shard_id", "sequence_number", "arrival_time"
    )
    parts = [
        enriched.withColumn(KIND, F.lit(TX)),
        good_labels.withColumn(KIND, F.lit(LABEL)),
        quarantine_rows(validated).withColumn(KIND, F.lit(QUARANTINE)),
        bad_labels.withColumn(KIND, F.lit(QUARANTINE)),
    ]
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part, allowMissingColumns=True)
    return out
