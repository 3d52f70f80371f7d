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
RETAINED_HISTORY = 100
"""Queries, jobs and stages Spark's status store keeps (20 times as many tasks)."""


# Writes each checkpoint file with FileSystem.rename instead of FileContext's, which on the local
# filesystem (without Hadoop's native library: always, from PyPI's pyspark) forks a `readlink`
# for both ends of every rename, plus a `chmod` per file: ~80 processes a micro-batch.
LOCAL_CHECKPOINT_MANAGER = (
    "org.apache.spark.sql.execution.streaming.checkpointing.FileSystemBasedCheckpointFileManager"
)


DRIVER_JAVA_OPTIONS = "-XX:+ExplicitGCInvokesConcurrent -XX:TieredStopAtLevel=1"
"""The cleaner's periodic ``System.gc()`` as a concurrent cycle: it frees dead batches' task
binaries without pausing the batch in flight. And the client compiler only: the driver JVM
moves a batch as a few packed values (:mod:`processor.event_source`), so its Java code is a
small share of its CPU, and the optimising compiler spent 9.7 CPU seconds of a 500,000-event
catch-up compiling Spark (the JVM's CPU 58.9 -> 43.0 µs a transaction without it; the
executing threads' own CPU unchanged, docs/reliability.md)."""


def driver_java_options(heap: str) -> str:
    """The driver JVM's options for a heap of ``heap`` (Spark's ``spark.driver.memory``): the
    heap fixed at that size and touched from the start (``-Xms``, ``-XX:+AlwaysPreTouch``), so
    the JVM's footprint is the same after one batch as after a thousand. With the heap free to
    grow, G1 kept growing it through a catch-up: peaks of 769 MiB after 150,000 transactions
    and 1,213 after 1,500,000 (a 2 GiB maximum). Fixed but not touched, G1 still reached into
    regions it had not used before late in a long catch-up: 955 MiB after 150,000 and 1,335
    after 1,500,000, the whole heap (docs/reliability.md)."""
    return f"{DRIVER_JAVA_OPTIONS} -Xms{heap} -XX:+AlwaysPreTouch"


def is_local_path(location: str) -> bool:
    """A path on this machine's filesystem (no scheme, or ``file:``), not s3a:// or hdfs://."""
    return "://" not in location or location.startswith("file:")


def session_config(settings: Settings) -> dict[str, str]:
    """Spark configuration the job needs, whatever the master.

    A local checkpoint folder gets the FileSystem-based checkpoint manager: rename is atomic on
    a local filesystem, and it cut the JVM's CPU per micro-batch from ~480 to ~340 ms and its
    child processes' from ~90 to ~20 ms (a 1,000 rows/s rate-source query with the processor's
    state store, 2-core box). Object stores keep Spark's default, which their semantics need."""
    config = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # No empty batches: nothing here needs one (the sink's windows close on the next rows).
        "spark.sql.streaming.noDataMicroBatches.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # What the driver JVM keeps per micro-batch must not grow with the batches run (a
        # catch-up runs hundreds of them; docs/reliability.md, "After an outage"): the status
        # store's history of queries, jobs, stages and tasks (kept even with the UI off) cut
        # from Spark's defaults of 1,000 / 100,000. (The plan has no Spark state: ADR 0016.)
        "spark.sql.ui.retainedExecutions": str(RETAINED_HISTORY),
        "spark.ui.retainedJobs": str(RETAINED_HISTORY),
        "spark.ui.retainedStages": str(RETAINED_HISTORY),
        "spark.ui.retainedTasks": str(RETAINED_HISTORY * 20),
        # Each batch's task binary carries its records (a broadcast of ~13 MiB per 20,000 rows)
        # until a collection finds it unreachable; Spark's cleaner asks for one every 30 min by
        # default, so the heap filled to its maximum with dead batches first. Every 10 s; the
        # driver's JVM makes it a concurrent G1 cycle, not a stop-the-world full collection
        # (DRIVER_JAVA_OPTIONS locally; the Spark manifests on EKS).
        "spark.cleaner.periodicGC.interval": "10s",
    }
    if is_local_path(settings.checkpoint_dir):
        config["spark.sql.streaming.checkpointFileManagerClass"] = LOCAL_CHECKPOINT_MANAGER
    return config


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
        builder = builder.config(
            "spark.driver.extraJavaOptions", driver_java_options(settings.spark_driver_memory)
        )
    for key, value in session_config(settings).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    register(spark)
    event_source.register(spark)
    return spark
