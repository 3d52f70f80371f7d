"""``spark.readStream.format("fraudstream")``: both Kinesis streams in one scan, validated.

The processor needs the transactions and the labels of a micro-batch together, and valid
rows typed, so this source wraps two of the project's Kinesis readers (:mod:`processor.
kinesis.source`: planning, exactly-once offsets, replay) and does the rest in the executors'
``read()``, in Arrow: it validates each record against the contract
(:mod:`processor.validation.arrow`) into rows of :data:`ROW_SCHEMA`, where ``kind`` says
whether a row is a transaction, a label or a quarantined record. One source means one Python
scan per micro-batch (two Kinesis sources and a validation UDF were three), one offset and one
AvailableNow decision for both streams.

The rows reach the sink packed: Spark's rows are :data:`PACKED_SCHEMA`, one binary value per
:data:`PACK_ROWS` validated rows holding them as an Arrow IPC stream, which :func:`unpack`
turns back into one :data:`ROW_SCHEMA` table in the driver. Nothing between the executors'
validation and the sink looks inside a row (the plan has no operator but ``foreachBatch``), and
a row per event cost the JVM a conversion from Arrow to its rows and back for every event
(ADR 0017).

Options: ``transactions.<option>`` and ``labels.<option>``, each a Kinesis source option
(:data:`processor.kinesis.options.OPTION_DOCS`), and ``tasks``: how many Spark tasks read a
micro-batch (its shards of both streams spread over them by size; default
:data:`DEFAULT_TASKS`). :func:`options_from_settings` builds them. Few tasks matter because a
batch's records travel inside its partitions and Spark's task binary carries every partition
of the stage, so each task deserialises the whole batch once: eight tasks (four shards, two
streams) did that eight times (docs/reliability.md, "After an outage").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import (
    ReadAllAvailable,
    ReadLimit,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)

from fraudstream.events import EVENT_FIELD_NAMES
from processor.kinesis import options as kinesis_options
from processor.kinesis.errors import InvalidOptionError
from processor.kinesis.source import KinesisStreamReader
from processor.rows import LABEL, QUARANTINE, TX
from processor.validation.arrow import EVENTS_OUT, LABELS_OUT, validate_events, validate_labels

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

    from fraudstream.settings import Settings

STREAMS = ("transactions", "labels")
DEFAULT_TASKS = 2
UTC_US = pa.timestamp("us", tz="UTC")
ROW_SCHEMA = pa.schema(
    [
        pa.field("kind", pa.string()),
        *[f for f in EVENTS_OUT if f.name in EVENT_FIELD_NAMES],
        pa.field("event_ms", pa.int64()),
        *[f for f in LABELS_OUT if f.name in ("is_fraud", "scenario", "label_event_time")],
        pa.field("label_time", UTC_US),
        pa.field("raw", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("shard_id", pa.string()),
        pa.field("sequence_number", pa.string()),
        pa.field("sub_sequence_number", pa.int64()),
        pa.field("arrival_time", UTC_US),
    ]
)
"""One row per Kinesis record of either stream. Transactions carry the contract's fields and
``event_ms``; labels their id fields and ``is_fraud``, ``scenario``, ``label_event_time``,
``label_time`` (with ``event_time`` null: a label's times are its own); quarantined records
``raw``, ``reason`` and ``detail``."""


PACKED_SCHEMA = pa.schema([pa.field("rows", pa.binary())])
"""Spark's rows of the source: each value an Arrow IPC stream of :data:`ROW_SCHEMA` rows."""
PACK_ROWS = 500
"""Rows per packed value: ~240 KB of simulated transactions, under half a region of the JVM's
G1 heap (1 MiB regions for heaps of 1-2 GiB), so a value is an ordinary young allocation, not a
humongous one (whole regions, collected apart)."""


def spark_schema() -> StructType:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(PACKED_SCHEMA)


def pack(rows: pa.RecordBatch) -> pa.RecordBatch:
    """``rows`` as one :data:`PACKED_SCHEMA` row (the IPC bytes are not copied again)."""
    out = pa.BufferOutputStream()
    with pa.ipc.new_stream(out, rows.schema) as writer:
        writer.write_batch(rows)
    data = out.getvalue()
    offsets = pa.py_buffer(np.array([0, data.size], dtype=np.int32).tobytes())
    packed = pa.Array.from_buffers(pa.binary(), 1, [None, offsets, data])
    return pa.RecordBatch.from_arrays([packed], schema=PACKED_SCHEMA)


def unpack(packed: pa.Table) -> pa.Table:
    """The :data:`ROW_SCHEMA` table of a micro-batch's packed rows (a loop over the packed
    values, a few per task, never over events; the rows are read in place)."""
    tables = []
    for chunk in packed.column("rows").chunks:
        # large_binary when spark.sql.execution.arrow.useLargeVarTypes is on
        width = np.int64 if pa.types.is_large_binary(chunk.type) else np.int32
        offsets = np.frombuffer(chunk.buffers()[1], dtype=width)[
            chunk.offset : chunk.offset + len(chunk) + 1
        ]
        data = chunk.buffers()[2]
        for start, end in itertools.pairwise(offsets.tolist()):
            tables.append(pa.ipc.open_stream(data.slice(start, end - start)).read_all())
    if not tables:
        return ROW_SCHEMA.empty_table()
    return pa.concat_tables(tables)


@dataclass(frozen=True)
class StreamPartition(InputPartition):
    """One task's share of a micro-batch: shards' shares (``(stream, inner partition)``) of
    either stream, read in turn."""

    shares: tuple[tuple[str, InputPartition], ...]


def _weight(inner: InputPartition) -> int:
    """A share's size for balancing: the bytes it carries (1 when it re-reads Kinesis)."""
    payload = getattr(inner, "payload", None)
    return len(payload) if payload else 1


def spread(shares: Sequence[tuple[str, InputPartition]], tasks: int) -> list[StreamPartition]:
    """At most ``tasks`` partitions holding ``shares``, the largest first to the lightest task
    (each shard's share stays whole, so its records stay in order)."""
    groups: list[list[tuple[str, InputPartition]]] = [[] for _ in range(min(tasks, len(shares)))]
    loads = [0] * len(groups)
    for share in sorted(shares, key=lambda s: -_weight(s[1])):
        lightest = loads.index(min(loads))
        groups[lightest].append(share)
        loads[lightest] += _weight(share[1])
    return [StreamPartition(tuple(group)) for group in groups]


def _split_options(options: Any) -> dict[str, dict[str, str]]:
    """``transactions.x`` / ``labels.x`` option maps (Spark lower-cases keys)."""
    out: dict[str, dict[str, str]] = {name: {} for name in STREAMS}
    for key, value in dict(options).items():
        prefix, _, rest = str(key).partition(".")
        if prefix.lower() in out and rest:
            out[prefix.lower()][rest] = str(value)
        elif str(key).lower() not in ("path", "paths", "tasks"):
            raise InvalidOptionError(
                f"unknown option {key!r}: use transactions.<option> or labels.<option>"
            )
    for name in STREAMS:
        if not out[name]:
            raise InvalidOptionError(f"options for the {name} stream are missing ({name}.*)")
    return out


def _empty(n: int, kind: pa.DataType) -> pa.Array:
    return pa.nulls(n, kind)


def _batch(columns: dict[str, Any]) -> pa.RecordBatch:
    arrays = {
        name: value.combine_chunks() if isinstance(value, pa.ChunkedArray) else value
        for name, value in columns.items()
    }
    return pa.RecordBatch.from_pydict(arrays, schema=ROW_SCHEMA)


def _source_columns(raw: pa.RecordBatch) -> dict[str, Any]:
    return {
        "shard_id": raw.column("shard_id"),
        "sequence_number": raw.column("sequence_number"),
        "sub_sequence_number": raw.column("sub_sequence_number"),
        "arrival_time": raw.column("approximate_arrival_timestamp"),
    }


def transaction_rows(raw: pa.RecordBatch) -> pa.RecordBatch:
    """A Kinesis record batch of the transactions stream as :data:`ROW_SCHEMA` rows."""
    arrival = raw.column("approximate_arrival_timestamp")
    verdicts = validate_events(raw.column("data"), pc.cast(arrival, pa.int64()).to_numpy())
    n = raw.num_rows
    rejected = verdicts.column("reason").is_valid()
    columns: dict[str, Any] = {"kind": pc.if_else(rejected, QUARANTINE, TX)}
    for name in EVENT_FIELD_NAMES:
        columns[name] = verdicts.column(name)
    event_time = verdicts.column("event_time")
    columns["event_ms"] = pc.divide(pc.cast(event_time, pa.int64()), 1000)
    for name in ("is_fraud", "scenario", "label_event_time", "label_time"):
        columns[name] = _empty(n, ROW_SCHEMA.field(name).type)
    for name in ("raw", "reason", "detail"):
        columns[name] = verdicts.column(name)
    columns |= _source_columns(raw)
    return _batch(columns)


def label_rows(raw: pa.RecordBatch) -> pa.RecordBatch:
    """A Kinesis record batch of the labels stream as :data:`ROW_SCHEMA` rows."""
    verdicts = validate_labels(raw.column("data"))
    n = raw.num_rows
    rejected = verdicts.column("reason").is_valid()
    columns: dict[str, Any] = {"kind": pc.if_else(rejected, QUARANTINE, LABEL)}
    source = _source_columns(raw)
    for field in ROW_SCHEMA:
        if field.name in columns or field.name in source:
            continue
        if field.name in verdicts.column_names:
            columns[field.name] = verdicts.column(field.name)
        else:
            columns[field.name] = _empty(n, field.type)
    return _batch(columns | source)


class EventStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Two Kinesis readers behind one offset: ``{"transactions": ..., "labels": ...}``."""

    def __init__(
        self, options: dict[str, kinesis_options.SourceOptions], tasks: int = DEFAULT_TASKS
    ) -> None:
        self.readers = {name: KinesisStreamReader(options[name]) for name in STREAMS}
        self.max_records = options["transactions"].max_records_per_trigger
        self.tasks = tasks

    def initialOffset(self) -> dict[str, Any]:
        return {name: reader.initialOffset() for name, reader in self.readers.items()}

    def getDefaultReadLimit(self) -> ReadLimit:
        return ReadAllAvailable() if self.max_records is None else ReadMaxRows(self.max_records)

    def latestOffset(self, start: dict[str, Any], limit: ReadLimit) -> dict[str, Any]:
        return {
            name: reader.latestOffset(start[name], limit) for name, reader in self.readers.items()
        }

    def reportLatestOffset(self) -> dict[str, Any] | None:
        reports = {name: reader.reportLatestOffset() for name, reader in self.readers.items()}
        return reports if any(reports.values()) else None

    def prepareForTriggerAvailableNow(self) -> None:
        for reader in self.readers.values():
            reader.prepareForTriggerAvailableNow()

    def partitions(self, start: dict[str, Any], end: dict[str, Any]) -> Sequence[InputPartition]:
        shares = [
            (name, inner)
            for name, reader in self.readers.items()
            for inner in reader.partitions(start[name], end[name])
        ]
        return spread(shares, self.tasks)

    def commit(self, end: dict[str, Any]) -> None:
        for name, reader in self.readers.items():
            reader.commit(end[name])

    def stop(self) -> None:
        for reader in self.readers.values():
            reader.stop()

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        assert isinstance(partition, StreamPartition)
        for stream, inner in partition.shares:
            shape = transaction_rows if stream == "transactions" else label_rows
            for raw in self.readers[stream].read(inner):
                if raw.num_rows:
                    rows = shape(raw)
                    for start in range(0, rows.num_rows, PACK_ROWS):
                        yield pack(rows.slice(start, PACK_ROWS))


class EventDataSource(DataSource):
    """``format("fraudstream")``: see the module docstring."""

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        raw = _split_options(options)
        self.stream_options = {name: kinesis_options.parse_options(raw[name]) for name in STREAMS}
        tasks = str(dict(options).get("tasks", DEFAULT_TASKS))
        if not tasks.isdigit() or int(tasks) < 1:
            raise InvalidOptionError(f"option tasks must be a positive integer, not {tasks!r}")
        self.tasks = int(tasks)

    @classmethod
    def name(cls) -> str:
        return "fraudstream"

    def schema(self) -> StructType:
        return spark_schema()

    def streamReader(self, schema: StructType) -> DataSourceStreamReader:
        return EventStreamReader(self.stream_options, self.tasks)


def register(spark: SparkSession) -> None:
    spark.dataSource.register(EventDataSource)


def options_from_settings(settings: Settings, **extra: str) -> dict[str, str]:
    """The source's options as ``settings`` describe the two streams (``extra`` applies to
    both, e.g. ``startingPosition``)."""
    out: dict[str, str] = {}
    for name, stream in (
        ("transactions", settings.stream_name),
        ("labels", settings.labels_stream_name),
    ):
        per_stream = kinesis_options.options_from_settings(settings, streamName=stream, **extra)
        out |= {f"{name}.{key}": value for key, value in per_stream.items()}
    return out | {"tasks": str(settings.read_tasks)}
