"""The source's output rows: schema, and Kinesis records to Arrow record batches.

One row per *user* record: a KPL-aggregated Kinesis record (:mod:`fraudstream.kpl`) becomes
one row per record packed in it, numbered by ``sub_sequence_number`` (0, 1, ...); a plain
record is one row with ``sub_sequence_number`` 0. So ``(shard_id, sequence_number,
sub_sequence_number)`` names a row, while offsets stay Kinesis sequence numbers: a batch never
splits an aggregated record (see :mod:`processor.kinesis.planner`).

Rows are built as Arrow record batches rather than Python tuples: Spark passes Arrow straight
through, and the driver ships a batch it already fetched to the executors as Arrow IPC bytes
(see :mod:`processor.kinesis.planner`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from fraudstream import kpl
from processor.kinesis.options import DataType

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

COLUMNS = (
    "data",
    "partition_key",
    "shard_id",
    "sequence_number",
    "sub_sequence_number",
    "approximate_arrival_timestamp",
    "stream_name",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

# A Kinesis record as boto3 returns it from GetRecords (the driver adds USER_RECORDS).
Record = Mapping[str, Any]
# Key under which the driver keeps a fetched record's de-aggregated user records (partition
# keys, data), so admission can count them and the batch reuse them without decoding twice.
USER_RECORDS = "FraudstreamUserRecords"


def arrow_schema(data_type: DataType = "binary") -> pa.Schema:
    """The Arrow schema of the rows; equal to Spark's conversion of :func:`spark_schema`."""
    return pa.schema(
        [
            pa.field("data", pa.binary() if data_type == "binary" else pa.string(), False),
            pa.field("partition_key", pa.string(), False),
            pa.field("shard_id", pa.string(), False),
            pa.field("sequence_number", pa.string(), False),
            pa.field("sub_sequence_number", pa.int64(), False),
            pa.field("approximate_arrival_timestamp", pa.timestamp("us", tz="UTC"), False),
            pa.field("stream_name", pa.string(), False),
        ]
    )


def spark_schema(data_type: DataType = "binary") -> StructType:
    """The DataFrame schema of ``spark.readStream.format("kinesis")``."""
    from pyspark.sql.types import (
        BinaryType,
        LongType,
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
            StructField("sub_sequence_number", LongType(), False),
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


def user_records(record: Record) -> tuple[list[str], list[bytes]]:
    """Partition keys and data of the user records in ``record`` (one, for a plain record)."""
    cached: tuple[list[str], list[bytes]] | None = record.get(USER_RECORDS)
    if cached is not None:
        return cached
    return kpl.deaggregate(record["Data"], record["PartitionKey"])


def decode_user_records(records: list[dict[str, Any]]) -> None:
    """De-aggregate freshly fetched records once, keeping the result in each record."""
    for record in records:
        record[USER_RECORDS] = kpl.deaggregate(record["Data"], record["PartitionKey"])


def units(record: Record) -> int:
    """How many rows ``record`` becomes: what admission control counts."""
    return len(user_records(record)[1])


def to_record_batch(
    records: Sequence[Record], shard_id: str, stream_name: str, data_type: DataType = "binary"
) -> pa.RecordBatch:
    """One Arrow record batch of the rows of ``records`` (whole Kinesis records of one shard,
    in sequence order): one row per user record, aggregated records de-aggregated.

    The processor can call this on any list of GetRecords records; rows come out in shard
    order, and within an aggregated record in the order its producer packed them.
    """
    keys: list[str] = []
    payloads: list[bytes] = []
    subs: list[int] = []
    seqs: list[str] = []
    arrivals: list[int] = []
    for record in records:
        record_keys, record_data = user_records(record)
        count = len(record_data)
        keys += record_keys
        payloads += record_data
        if count == 1:
            subs.append(0)
        else:
            subs += range(count)
        seqs += [record["SequenceNumber"]] * count
        arrivals += [(record["ApproximateArrivalTimestamp"] - _EPOCH) // _MICRO] * count
    rows = len(payloads)
    if data_type == "binary":
        data = pa.array(payloads, pa.binary())
    else:
        data = pa.array([d.decode("utf-8", "replace") for d in payloads], pa.string())
    return pa.RecordBatch.from_arrays(
        [
            data,
            pa.array(keys, pa.string()),
            pa.array([shard_id] * rows, pa.string()),
            pa.array(seqs, pa.string()),
            pa.array(subs, pa.int64()),
            pa.array(arrivals, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            pa.array([stream_name] * rows, pa.string()),
        ],
        schema=arrow_schema(data_type),
    )


_COMPRESSED = pa.ipc.IpcWriteOptions(compression="zstd")


def encode(batch: pa.RecordBatch) -> bytes:
    """Arrow IPC stream bytes of one record batch, zstd-compressed.

    The bytes ride in the batch's plan through Spark's JVM (the task binary every task fetches,
    and each task), so their size is paid several times: 20,000 transactions are 8.2 MiB plain
    and 1.0 MiB compressed, for 0.46 µs a row to compress and 0.12 µs to read back."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema, options=_COMPRESSED) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def decode(payload: bytes) -> Iterator[pa.RecordBatch]:
    """The record batches of :func:`encode`'s output."""
    yield from pa.ipc.open_stream(pa.py_buffer(payload))
