"""Kinesis streaming source for Spark: ``spark.readStream.format("kinesis")``.

Layers (STYLE item 1):

- :mod:`.source` adapts to Spark's Python data source API, and nothing more;
- :mod:`.planner` plans micro-batches on the driver, :mod:`.shard_reader` runs the per-shard
  fetch and replay loops, :mod:`.consumer` makes the Kinesis calls and sorts their failures;
- :mod:`.offsets`, :mod:`.options`, :mod:`.records` and :mod:`.metrics` are pure.

The tests' AWS-faithful Kinesis double and manual clock are in
``tests/processor/kinesis/fake_kinesis.py``.

Design notes: ``docs/adr/0002-kinesis-source.md``. pyspark is imported only when the Spark
adapter is used, so the pure modules stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["KinesisDataSource", "register"]


def register(spark: SparkSession) -> None:
    """Make ``format("kinesis")`` available in ``spark``."""
    from processor.kinesis.source import register as _register

    _register(spark)


def __getattr__(name: str) -> Any:
    if name == "KinesisDataSource":
        from processor.kinesis.source import KinesisDataSource

        return KinesisDataSource
    raise AttributeError(name)
