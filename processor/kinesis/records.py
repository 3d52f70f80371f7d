"""The source's output rows: schema, and Kinesis records to Arrow record batches.

Rows are built as Arrow record batches rather than Python tuples: Spark passes Arrow straight
through, and the driver ships a batch it already fetched to the executors as Arrow IPC bytes
(see :mod:`processor.kinesis.planner`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from processor.kinesis.options import DataType

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

COLUMNS = (
    "data",
    "partition_key",
    "shard_id",
    "sequence_number",
    "approximate_arrival_timestamp",
    "stream_name",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

# A Kinesis record as boto3 returns it from GetRecords.
Record = Mapping[str, Any]


def arrow_schema(data_type: DataType = "binary") -> pa.Schema:
    """The Arrow schema of the rows; equal to Spark's conversion of :func:`spark_schema`."""
    return pa.schema(
        [
            pa.field("data", pa.binary() if data_type == "binary" else pa.string(), False),
            pa.field("partition_key", pa.string(), False),
            pa.field("shard_id", pa.string(), False),
            pa.field("sequence_number", pa.string(), False),
            pa.field("approximate_arrival_timestamp", pa.timestamp("us", tz="UTC"), False),
            pa.field("stream_name", pa.string(), False),
        ]
    )


def spark_schema(data_type: DataType = "binary") -> StructType:
    """The DataFrame schema of ``spark.readStream.format("kinesis")``."""
    from pyspark.sql.types import (
        BinaryType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    return StructType(
        [
            StructField("data", BinaryType() if data_type == "binary" else StringType(), False),
            StructField("partition_key", StringType(), False),
            StructField("shard_id", StringType(), False),
            StructField("sequence_number", StringType(), False),
            StructField("approximate_arrival_timestamp", TimestampType(), False),
            StructField("stream_name", StringType(), False),
        ]
    )


def arrival_ms(record: Record) -> int:
    """Approximate arrival time of a record in epoch milliseconds."""
    moment: datetime = record["ApproximateArrivalTimestamp"]
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def record_bytes(record: Record) -> int:
    """Bytes a record counts against shard throughput: data plus partition key."""
    return len(record["Data"]) + len(record["PartitionKey"])


def to_record_batch(
    records: Sequence[Record], shard_id: str, stream_name: str, data_type: DataType = "binary"
) -> pa.RecordBatch:
    """One Arrow record batch holding ``records`` of one shard, in sequence order."""
    count = len(records)
    if data_type == "binary":
        data = pa.array([r["Data"] for r in records], pa.binary())
    else:
        data = pa.array([r["Data"].decode("utf-8", "replace") for r in records], pa.string())
    arrivals = pa.array(
        [(r["ApproximateArrivalTimestamp"] - _EPOCH) // _MICRO for r in records], pa.int64()
    ).cast(pa.timestamp("us", tz="UTC"))
    return pa.RecordBatch.from_arrays(
        [
            data,
            pa.array([r["PartitionKey"] for r in records], pa.string()),
            pa.array([shard_id] * count, pa.string()),
            pa.array([r["SequenceNumber"] for r in records], pa.string()),
            arrivals,
            pa.array([stream_name] * count, pa.string()),
        ],
        schema=arrow_schema(data_type),
    )


def encode(batch: pa.RecordBatch) -> bytes:
    """Arrow IPC stream bytes of one record batch."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def decode(payload: bytes) -> Iterator[pa.RecordBatch]:
    """The record batches of :func:`encode`'s output."""
    yield from pa.ipc.open_stream(pa.py_buffer(payload))
