"""The Spark adapter: ``spark.readStream.format("kinesis")`` over pyspark's Python data source API.

Thin on purpose (STYLE items 1 and 2): options are validated in the constructor, offsets cross
the boundary as JSON dicts, each partition is one small picklable dataclass, clients are made
inside ``read()``, and all the reading logic lives in :mod:`~processor.kinesis.planner` and
:mod:`~processor.kinesis.consumer`.

Usage::

    from processor.kinesis import register
    from processor.kinesis.options import options_from_settings

    register(spark)
    events = (spark.readStream.format("kinesis")
              .options(**options_from_settings(settings, startingPosition="TRIM_HORIZON"))
              .load())

Per-batch source metrics ride on the query progress: see :mod:`processor.kinesis.metrics`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import (
    ReadAllAvailable,
    ReadLimit,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)

from fraudstream.cells import HashRange
from processor.kinesis import records as rows
from processor.kinesis.cells import keep_owned
from processor.kinesis.consumer import KinesisShards, make_client
from processor.kinesis.offsets import ShardPosition, SourceOffset, StartSpec, seq_int
from processor.kinesis.options import SourceOptions, parse_options
from processor.kinesis.planner import Planner
from processor.kinesis.records import Record
from processor.kinesis.shard_reader import read_range

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType


@dataclass(frozen=True)
class KinesisPartition(InputPartition):
    """One shard's share of a micro-batch.

    Either ``payload`` holds the records the driver already fetched (Arrow IPC bytes, only
    the cell's), or the executor re-reads the shard after ``after_seq`` (or from ``start``)
    through ``end_seq`` and keeps the records cell ``keep`` keeps of a shard of hash range
    ``hashes`` (all when ``keep`` is ``None``; :func:`~processor.kinesis.cells.keep_owned`).
    """

    shard_id: str
    end_seq: str
    after_seq: str | None = None
    start: dict[str, Any] = field(default_factory=dict)
    payload: bytes | None = field(default=None, repr=False)
    keep: str | None = None
    hashes: tuple[int, int] | None = None


class KinesisStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Adapts :class:`~processor.kinesis.planner.Planner` to Spark's stream reader contract.

    Spark creates this object in several processes; only the driver-side one (the streaming
    source runner) ever plans, so the planner and its client are made on first use there and
    never pickled.
    """

    def __init__(self, options: SourceOptions) -> None:
        self.options = options
        self._planner: Planner | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"options": self.options, "_planner": None}

    @property
    def planner(self) -> Planner:
        if self._planner is None:
            client = make_client(self.options, max_pool_connections=self.options.fetch_threads)
            self._planner = Planner(self.options, KinesisShards(client, self.options.stream_name))
        return self._planner

    # --- driver ---------------------------------------------------------------------------

    def initialOffset(self) -> dict[str, Any]:
        return self.planner.initial_offset().to_json()

    def getDefaultReadLimit(self) -> ReadLimit:
        if self.options.max_records_per_trigger is None:
            return ReadAllAvailable()
        return ReadMaxRows(self.options.max_records_per_trigger)

    def latestOffset(self, start: dict[str, Any], limit: ReadLimit) -> dict[str, Any]:
        max_rows = limit.max_rows if isinstance(limit, ReadMaxRows) else None
        end = self.planner.latest_offset(SourceOffset.from_json(start), max_rows)
        return end.to_json()

    def reportLatestOffset(self) -> dict[str, Any] | None:
        if self._planner is None:
            return None
        return self._planner.last_metrics.to_report(self.options.stream_name)

    def prepareForTriggerAvailableNow(self) -> None:
        self.planner.prepare_available_now()

    def partitions(self, start: dict[str, Any], end: dict[str, Any]) -> Sequence[InputPartition]:
        first, last = SourceOffset.from_json(start), SourceOffset.from_json(end)
        planned = self.planner.planned(first, last)
        if planned is not None:
            return self._handoff_partitions(planned)
        # Not planned by this process (the query restarted): re-read the checkpointed range.
        return self._range_partitions(first, last)

    def _handoff_partitions(self, planned: dict[str, list[Record]]) -> list[KinesisPartition]:
        """One partition per shard carrying the records the driver fetched for the batch."""
        stream, data_type = self.options.stream_name, self.options.data_type
        cell, filtered = self.options.cell, self.planner.straddling()

        def batch(sid: str, records: list[Record]) -> pa.RecordBatch:
            out = rows.to_record_batch(records, sid, stream, data_type)
            return keep_owned(out, cell, filtered[sid]) if sid in filtered else out

        return [
            KinesisPartition(
                shard_id=sid,
                end_seq=records[-1]["SequenceNumber"],
                payload=rows.encode(batch(sid, records)),
            )
            for sid, records in sorted(planned.items())
        ]

    def _range_partitions(self, first: SourceOffset, last: SourceOffset) -> list[KinesisPartition]:
        """One partition per shard that advanced, for executors to re-read from Kinesis."""
        self.planner.check_stream(last)
        filtered = self.planner.straddling()
        partitions = []
        for sid, position in sorted(last.shards.items()):
            before = first.shards.get(sid, ShardPosition())
            if position.seq is None or (
                before.seq is not None and seq_int(position.seq) <= seq_int(before.seq)
            ):
                continue
            partitions.append(
                KinesisPartition(
                    shard_id=sid,
                    end_seq=position.seq,
                    after_seq=before.seq,
                    start=last.start.to_json(),
                    keep=self.options.hash_range if sid in filtered else None,
                    hashes=filtered.get(sid),
                )
            )
        return partitions

    def commit(self, end: dict[str, Any]) -> None:
        if self._planner is not None:
            self._planner.commit(SourceOffset.from_json(end))

    def stop(self) -> None:
        if self._planner is not None:
            self._planner.close()

    # --- executors ------------------------------------------------------------------------

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        assert isinstance(partition, KinesisPartition)
        if partition.payload is not None:
            yield from rows.decode(partition.payload)
            return
        shards = KinesisShards(make_client(self.options), self.options.stream_name)
        for records in read_range(
            shards,
            partition.shard_id,
            ShardPosition(seq=partition.after_seq),
            StartSpec.from_json(partition.start),
            partition.end_seq,
            limit_per_call=self.options.max_records_per_fetch,
            fail_on_data_loss=self.options.fail_on_data_loss,
        ):
            batch = rows.to_record_batch(
                records, partition.shard_id, self.options.stream_name, self.options.data_type
            )
            if partition.keep is not None:
                batch = keep_owned(batch, HashRange.parse(partition.keep), partition.hashes)
            yield batch


class KinesisDataSource(DataSource):
    """``format("kinesis")``: a streaming source reading one Kinesis stream."""

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.source_options = parse_options(options)

    @classmethod
    def name(cls) -> str:
        return "kinesis"

    def schema(self) -> StructType:
        return rows.spark_schema(self.source_options.data_type)

    def streamReader(self, schema: StructType) -> DataSourceStreamReader:
        return KinesisStreamReader(self.source_options)


def register(spark: SparkSession) -> None:
    """Make ``format("kinesis")`` available in ``spark``."""
    spark.dataSource.register(KinesisDataSource)
