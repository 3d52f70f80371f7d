"""The ADR's comparison of table formats: what committing one micro-batch to the four lake
tables costs with each way of writing, against the local emulator.

The same generated batches (:func:`benchmarks.lake_table.make_batch`, 1,500 transactions and
the other tables' rows of a 1.5 s batch at 1,000/s) are written back to back, four tables in
parallel, by:

- ``plain``: the layout before the table format, one ``put_object`` per table and partition;
- ``delta_writer``: :class:`processor.sinks.lake.LakeWriter` (files, then one conditional put
  of the Delta commit per table);
- ``delta_library``: ``deltalake.write_deltalake`` per table with the same ``txn`` action;
- ``iceberg``: ``pyiceberg`` appends with the batch in the snapshot summary, through a SQL
  catalog (SQLite) with the data on the emulator's S3. Only when pyiceberg is installed
  (``pip install 'pyiceberg[sql-sqlite]==0.12.0'``): it is not a dependency of the project.

``python -m benchmarks.lake_formats [--batches 60]``; results:
benchmarks/results/lake_formats.json; see docs/adr/0009-lake-table-format.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks import results
from benchmarks.harness import bench_stack
from benchmarks.lake_table import make_batch
from fraudstream import aws, lake_tables
from fraudstream.lake import tables
from fraudstream.settings import Settings
from processor.sinks.lake import PARTITION_TIME, LakeWriter

Batch = dict[str, pa.Table]


def with_partitions(name: str, rows: pa.Table) -> pa.Table:
    moment = rows.column(PARTITION_TIME[name])
    rows = rows.append_column("dt", pc.strftime(moment, "%Y-%m-%d"))
    return rows.append_column("hour", pc.strftime(moment, "%H"))


def _timed(batches: list[Batch], write: Callable[[int, Batch], object]) -> dict[str, float]:
    walls, cpus = [], []
    for batch_id, batch in enumerate(batches):
        wall, cpu = time.perf_counter(), time.process_time()
        write(batch_id, batch)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    steady_walls, steady_cpus = walls[5:], cpus[5:]  # table creation and warm-up excluded
    return {
        "wall_p50_ms": round(statistics.median(steady_walls) * 1000, 1),
        "wall_p95_ms": round(sorted(steady_walls)[int(len(steady_walls) * 0.95)] * 1000, 1),
        "wall_last10_mean_ms": round(statistics.fmean(steady_walls[-10:]) * 1000, 1),
        "cpu_mean_ms": round(statistics.fmean(steady_cpus) * 1000, 1),
    }


def plain(settings: Settings, batches: list[Batch], pool: ThreadPoolExecutor) -> dict[str, float]:
    s3 = aws.client("s3", settings)

    def put(name: str, batch_id: int, rows: pa.Table) -> None:
        keyed = with_partitions(name, rows)
        for dt, hour in {
            tuple(p) for p in zip(*keyed.select(["dt", "hour"]).to_pydict().values(), strict=True)
        }:
            chosen = keyed.filter(pc.and_(pc.equal(keyed["dt"], dt), pc.equal(keyed["hour"], hour)))
            buffer = io.BytesIO()
            pq.write_table(chosen.drop_columns(["dt", "hour"]), buffer, compression="zstd")
            key = f"plain/{name}/dt={dt}/hour={hour}/batch-{batch_id:012d}-0000.parquet"
            s3.put_object(Bucket=settings.bucket, Key=key, Body=buffer.getvalue())

    def write(batch_id: int, batch: Batch) -> None:
        for future in [pool.submit(put, n, batch_id, r) for n, r in batch.items()]:
            future.result()

    return _timed(batches, write)


def delta_writer(settings: Settings, batches: list[Batch]) -> dict[str, float]:
    with LakeWriter(settings, query="formats") as writer:
        return _timed(batches, writer.write_tables)


def delta_library(
    settings: Settings, batches: list[Batch], pool: ThreadPoolExecutor
) -> dict[str, float]:
    from deltalake import (
        CommitProperties,
        DeltaTable,
        Transaction,
        WriterProperties,
        write_deltalake,
    )

    options = tables.storage_options(settings)
    opened: dict[str, DeltaTable] = {}

    def put(name: str, batch_id: int, rows: pa.Table) -> None:
        uri = f"s3://{settings.bucket}/library/{name}"
        target = opened.get(name)
        if target is not None and (target.transaction_version("formats") or -1) >= batch_id:
            return
        write_deltalake(
            target or uri,
            with_partitions(name, rows),
            partition_by=["dt", "hour"],
            mode="append",
            storage_options=options,
            configuration=tables.TABLE_PROPERTIES,
            writer_properties=WriterProperties(compression="ZSTD"),
            commit_properties=CommitProperties(app_transactions=[Transaction("formats", batch_id)]),
        )
        if target is None:
            opened[name] = DeltaTable(uri, storage_options=options)

    def write(batch_id: int, batch: Batch) -> None:
        for future in [pool.submit(put, n, batch_id, r) for n, r in batch.items()]:
            future.result()

    return _timed(batches, write)


def iceberg(
    settings: Settings, batches: list[Batch], pool: ThreadPoolExecutor, folder: Path
) -> dict[str, float]:
    from pyiceberg.catalog.sql import SqlCatalog

    credentials = aws.session(settings).get_credentials().get_frozen_credentials()
    catalog = SqlCatalog(
        "bench",
        uri=f"sqlite:///{folder / 'catalog.db'}",
        warehouse=f"s3://{settings.bucket}/iceberg",
        **{
            "s3.endpoint": aws.endpoint_for("s3", settings) or "",
            "s3.access-key-id": credentials.access_key,
            "s3.secret-access-key": credentials.secret_key,
            "s3.region": settings.region,
        },
    )
    catalog.create_namespace("fraudstream")
    opened = {}
    for name in lake_tables.table_names():
        schema = lake_tables.arrow_schema(name, with_partitions=True)
        table = catalog.create_table(
            f"fraudstream.{name}",
            schema=schema,
            properties={"write.parquet.compression-codec": "zstd"},
        )
        with table.update_spec() as spec:
            spec.add_identity("dt")
            spec.add_identity("hour")
        opened[name] = catalog.load_table(f"fraudstream.{name}")

    def put(name: str, batch_id: int, rows: pa.Table) -> None:
        table = opened[name]
        table.refresh()
        snapshot = table.current_snapshot()
        summary = snapshot.summary if snapshot else None
        done = summary.additional_properties.get("fraudstream.batch-id", -1) if summary else -1
        if int(done) >= batch_id:
            return
        table.append(
            with_partitions(name, rows),
            snapshot_properties={
                "fraudstream.query-id": "formats",
                "fraudstream.batch-id": str(batch_id),
            },
        )

    def write(batch_id: int, batch: Batch) -> None:
        for future in [pool.submit(put, n, batch_id, r) for n, r in batch.items()]:
            future.result()

    return _timed(batches, write)


def run(count: int) -> dict[str, Any]:
    start = datetime.now(UTC)
    batches = [make_batch(i, start + timedelta(seconds=1.5 * i), 1_500) for i in range(count)]
    measured: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-formats-") as tmp,
        bench_stack(Path(tmp)) as stack,
    ):
        load = os.getloadavg()
        pool = ThreadPoolExecutor(max_workers=4)
        for way in ("plain", "delta_writer", "delta_library", "iceberg"):
            if way == "iceberg" and importlib.util.find_spec("pyiceberg") is None:
                measured[way] = "skipped: pyiceberg is not installed"
                continue
            settings = stack.model_copy(
                update={"bucket": f"formats-{way.replace('_', '-')}", "state_dir": Path(tmp)}
            )
            aws.client("s3", settings).create_bucket(Bucket=settings.bucket)
            if way == "plain":
                measured[way] = plain(settings, batches, pool)
            elif way == "delta_writer":
                measured[way] = delta_writer(settings, batches)
            elif way == "delta_library":
                measured[way] = delta_library(settings, batches, pool)
            else:
                measured[way] = iceberg(settings, batches, pool, Path(tmp))
            print(way, measured[way], flush=True)
        pool.shutdown()
    return {
        "method": (
            "the same generated batches written back to back, four tables in parallel, "
            "against a private emulator; first 5 batches excluded"
        ),
        "batches": count,
        "transactions_per_batch": 1_500,
        "load_average_at_start": load,
        "results": measured,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=60)
    args = parser.parse_args(argv)
    path = results.write("lake_formats", run(args.batches))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
