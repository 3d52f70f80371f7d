"""Fixtures for the processor's tests: one real SparkSession (``local[2]``) per test session.

Spark's Python workers must run this interpreter (they import pyarrow and our packages), and
the session clock is UTC so timestamps print and bucket the way the lake stores them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

RAW_SCHEMA = (
    "data binary, partition_key string, shard_id string, sequence_number string, "
    "approximate_arrival_timestamp timestamp, stream_name string"
)
"""The Kinesis source's row shape, for tests that build raw input by hand."""


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """A real local SparkSession shared by every test that asks for it."""
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("fraudstream-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.memory", "1g")
        .config("spark.sql.streaming.forceDeleteTempCheckpointLocation", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def raw_frame(spark: SparkSession) -> Callable[[list[tuple[Any, ...]]], DataFrame]:
    """Build a DataFrame shaped like the Kinesis source's rows from (data, shard, seq, arrival)."""

    def build(rows: list[tuple[Any, ...]]) -> DataFrame:
        full = [
            (data, "pk", shard, seq, arrival, "transactions") for data, shard, seq, arrival in rows
        ]
        return spark.createDataFrame(full, RAW_SCHEMA)

    return build
