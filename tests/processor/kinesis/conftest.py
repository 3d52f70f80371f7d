"""Fixtures of the Kinesis source tests: the AWS-faithful double and a shared SparkSession."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from processor.kinesis.consumer import KinesisShards, make_client
from processor.kinesis.options import SourceOptions
from processor.kinesis.planner import Planner
from tests.processor.kinesis.fake_kinesis import FakeKinesis, ManualClock

STREAM = "tx"


@dataclass
class Double:
    """The Kinesis double on a local port, its clock, and a stream ``tx``."""

    fake: FakeKinesis
    clock: ManualClock
    endpoint: str
    stream: str = STREAM

    def options(self, **overrides: Any) -> SourceOptions:
        base = SourceOptions(
            stream_name=self.stream,
            region="us-east-1",
            endpoint_url=self.endpoint,
            starting_position="TRIM_HORIZON",
            prefetch=False,
        )
        return replace(base, **overrides)

    def planner(self, **overrides: Any) -> Planner:
        options = self.options(**overrides)
        shards = KinesisShards(make_client(options), options.stream_name, sleep=self.clock.sleep)
        return Planner(
            options,
            shards,
            clock=self.clock.monotonic,
            wall_ms=self.clock.wall_ms,
            sleep=self.clock.sleep,
        )

    def put(self, key: str, n: int, shard_hash: int | None = None) -> str:
        """Put event ``n`` of ``key``; return the shard it went to."""
        self.clock.advance(0.001)
        shard, _ = self.fake.put(self.stream, key, f"{key}:{n}".encode(), shard_hash)
        return shard


@pytest.fixture
def double() -> Iterator[Double]:
    clock = ManualClock()
    fake = FakeKinesis(clock=clock.time)
    fake.create_stream(STREAM, 2)
    with fake.serve() as endpoint:
        yield Double(fake, clock, endpoint)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local[2] SparkSession for every Spark test of the source, with kinesis registered."""
    from pyspark.sql import SparkSession

    from processor.kinesis import register

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("fraudstream-kinesis-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.sql.streaming.pollingDelay", "50ms")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    register(session)
    yield session
    session.stop()
