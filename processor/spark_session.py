"""The processor's SparkSession: the same configuration for `fraudstream process` (local) and
`spark-submit processor/streaming_job.py` (EKS), where spark-submit's own settings win."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from fraudstream.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

APP_NAME = "fraudstream-processor"


def session_config(settings: Settings) -> dict[str, str]:
    """Spark configuration the job needs, whatever the master."""
    return {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        # The only state Spark keeps is the de-duplication keys of one watermark: small, so the
        # in-memory (HDFS-backed) store, measured at about half RocksDB's JVM CPU per row
        # (docs/benchmarks.md).
        "spark.sql.streaming.stateStore.providerClass": (
            "org.apache.spark.sql.execution.streaming.state.HDFSBackedStateStoreProvider"
        ),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # No empty batches: nothing here needs one (the sink's windows close on the next rows).
        "spark.sql.streaming.noDataMicroBatches.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }


def build_session(settings: Settings, app_name: str = APP_NAME) -> SparkSession:
    """Get or create the session. Under spark-submit the master and resources come from there;
    run directly, the master is ``settings.spark_master`` and Python workers use this very
    interpreter (so they import this project's packages)."""
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    from processor import event_source
    from processor.kinesis import register

    submitted = SparkConf().contains("spark.master")
    builder = SparkSession.builder.appName(app_name)
    if not submitted:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        builder = builder.master(settings.spark_master).config("spark.ui.enabled", "false")
        builder = builder.config("spark.driver.memory", settings.spark_driver_memory)
    for key, value in session_config(settings).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    register(spark)
    event_source.register(spark)
    return spark
