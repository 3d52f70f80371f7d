"""The streaming plan: two Kinesis streams in, one row stream out to the batch sink.

    transactions ──► validate ──► watermark ──► dedup on transaction_id ─────────────┐
                    (valid or      (event_time; null    (quarantine rows: on their      │
                     quarantine)    for quarantine)      shard and sequence number)     │
    labels ──► parse ──► label rows (bad ones ──► quarantine)                           │
                                                                                        │
    union of tx, label and quarantine rows (column ``kind``) ◄──────────────────────────┘
        └──► foreachBatch: card state, merchant risk, scoring, decisions, lake, alerts,
             windows

One query, so each stream is read once per micro-batch and one checkpoint covers both.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fraudstream.settings import Settings
from processor.kinesis.options import options_from_settings
from processor.validation import VALID_COLUMNS, validate

KIND = "kind"
DEDUP_KEY = "_dedup_key"
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


def build(spark: SparkSession, settings: Settings) -> DataFrame:
    """The union of decided-to-be rows the batch sink receives (see the module diagram)."""
    validated = validate(read_stream(spark, settings, settings.stream_name))
    transactions = _one_scan(validated, settings)
    label_rows = labels(read_stream(spark, settings, settings.labels_stream_name))
    label_kind = F.when(F.col("reason").isNull(), F.lit(LABEL)).otherwise(F.lit(QUARANTINE))
    return transactions.unionByName(
        label_rows.withColumn(KIND, label_kind), allowMissingColumns=True
    )


def _one_scan(validated: DataFrame, settings: Settings) -> DataFrame:
    """Valid transactions and quarantine rows from one read of the stream: both go through the
    watermark and the de-duplication, rejected records with a null event time (so they neither
    move the watermark nor count as late) and a key of their own (Kinesis shard and sequence
    number), which the state forgets at the next batch. Splitting into two branches instead
    reads and validates the stream twice per micro-batch."""
    valid = F.col("reason").isNull()
    key = F.when(valid, F.concat(F.lit("tx:"), F.col("transaction_id"))).otherwise(
        F.concat_ws(":", F.lit("record"), F.col("shard_id"), F.col("sequence_number"))
    )
    return (
        validated.select(
            *VALID_COLUMNS,
            *(F.when(~valid, F.col(name)).alias(name) for name in ("raw", "reason", "detail")),
            F.unix_millis("event_time").alias("event_ms"),
            key.alias(DEDUP_KEY),
            F.when(valid, F.lit(TX)).otherwise(F.lit(QUARANTINE)).alias(KIND),
        )
        .withWatermark("event_time", settings.watermark)
        .dropDuplicatesWithinWatermark([DEDUP_KEY])
        .drop(DEDUP_KEY)
    )
