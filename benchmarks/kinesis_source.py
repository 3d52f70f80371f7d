"""Kinesis source read throughput from a backlog: read-once (the product) vs naive read-twice.

Reproduce: ``.venv/bin/python -m benchmarks.kinesis_source`` (about 4 minutes on 2 quiet cores).

What it does, in one run so both designs see the same machine and the same data:

1. starts its own emulator (moto with the project's Kinesis patch) on a free port and puts a
   backlog of ``--events`` transaction-sized events (about 250 bytes) on a 4-shard stream;
2. starts one ``local[2]`` SparkSession and warms it up on a small stream;
3. for each ``maxRecordsPerTrigger`` (default 10,000 and 25,000) reads the whole backlog from
   TRIM_HORIZON with ``Trigger.AvailableNow`` into Spark's ``noop`` sink with both designs,
   alternating which goes first: ``read_once`` is ``format("kinesis")`` as shipped;
   ``naive_read_twice`` is the benchmark-only variant below;
4. writes ``benchmarks/results/kinesis_source.json``.

Reported per batch size and design (median over ``--rounds``): events/s over the whole run
(query start to end), sustained events/s (batches after the first, by their trigger durations),
batch latency (``triggerExecution`` per batch: p50, p95, max), and events per CPU-second of
everything involved (driver, JVM, Python workers, emulator; from /proc), which stays
comparable when other work competes for the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.results import write
from processor.kinesis.metrics import from_progress
from processor.kinesis.offsets import SourceOffset
from processor.kinesis.source import KinesisDataSource, KinesisPartition, KinesisStreamReader

REPO = Path(__file__).resolve().parents[1]
NAME = "kinesis_source"


# --- the naive design, for comparison only ------------------------------------------------


class NaiveReadTwiceReader(KinesisStreamReader):
    """BENCHMARK ONLY - NOT FOR USE. The naive partitioned design the product replaced.

    The driver still reads every shard to find where the batch ends, but then throws the
    records away and plans ranges, so the executors read every record from Kinesis a second
    time. It is the product's replay path used for every batch.
    """

    def partitions(self, start: dict[str, Any], end: dict[str, Any]) -> list[KinesisPartition]:
        return self._range_partitions(SourceOffset.from_json(start), SourceOffset.from_json(end))


class NaiveReadTwiceDataSource(KinesisDataSource):
    """BENCHMARK ONLY: ``format("kinesis-naive-read-twice")``."""

    @classmethod
    def name(cls) -> str:
        return "kinesis-naive-read-twice"

    def streamReader(self, schema: Any) -> KinesisStreamReader:
        return NaiveReadTwiceReader(self.source_options)


DESIGNS = {"read_once": "kinesis", "naive_read_twice": "kinesis-naive-read-twice"}


# --- set-up -------------------------------------------------------------------------------


def put_backlog(settings: Any, stream: str, count: int) -> None:
    from fraudstream import aws

    kinesis = aws.client("kinesis", settings)
    kinesis.create_stream(StreamName=stream, ShardCount=4)
    kinesis.get_waiter("stream_exists").wait(
        StreamName=stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
    )
    for first in range(0, count, 500):
        entries = []
        for n in range(first, min(first + 500, count)):
            card = f"tok_{n % 5000:016x}_{n % 10000:04d}"
            event = {
                "schema_version": 1,
                "transaction_id": f"tx-{n:012d}",
                "card_id": card,
                "merchant_id": f"m-{n % 977:06d}",
                "amount": round(5 + (n % 9000) / 7, 2),
                "currency": "EUR",
                "event_time": "2024-05-01T12:00:00Z",
                "merchant_category": "5411",
                "channel": "pos",
                "country": "DE",
            }
            entries.append({"Data": json.dumps(event).encode(), "PartitionKey": card})
        result = kinesis.put_records(StreamName=stream, Records=entries)
        if result["FailedRecordCount"]:
            raise RuntimeError(f"{result['FailedRecordCount']} puts failed")


def spark_session() -> Any:
    # Spark's Python processes must import this module (the naive source) and the venv's
    # packages: hand them the same interpreter and the repository on PYTHONPATH.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("bench-kinesis-source")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.dataSource.register(KinesisDataSource)
    spark.dataSource.register(NaiveReadTwiceDataSource)
    return spark


# --- measurement --------------------------------------------------------------------------


def cpu_seconds(roots: list[int]) -> float:
    """CPU time (user + system) used so far by ``roots`` and all their live descendants.

    Read from /proc (Linux); 0.0 elsewhere. It lets a run on a busy machine still say how much
    work each design does per event, whatever else competes for the cores.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return 0.0
    stats: dict[int, tuple[int, float]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After the command: state ppid ... utime (index 11) stime (index 12), in clock ticks.
        stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    ticks = os.sysconf("SC_CLK_TCK")
    wanted = set(roots)
    grew = True
    while grew:
        children = {pid for pid, (ppid, _) in stats.items() if ppid in wanted} - wanted
        grew = bool(children)
        wanted |= children
    return sum(stats[pid][1] for pid in wanted if pid in stats) / ticks


def run_query(
    spark: Any,
    design: str,
    settings: Any,
    stream: str,
    max_per_trigger: int,
    cpu_roots: list[int] | None = None,
) -> dict[str, Any]:
    frame = (
        spark.readStream.format(DESIGNS[design])
        .option("streamName", stream)
        .option("endpointUrl", settings.endpoint_url)
        .option("region", settings.region)
        .option("startingPosition", "TRIM_HORIZON")
        .option("maxRecordsPerTrigger", str(max_per_trigger))
        .load()
    )
    with tempfile.TemporaryDirectory(prefix="bench-kinesis-") as checkpoint:
        roots = cpu_roots or [os.getpid()]
        cpu_before = cpu_seconds(roots)
        began = time.perf_counter()
        query = (
            frame.writeStream.format("noop")
            .option("checkpointLocation", checkpoint)
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        wall = time.perf_counter() - began
        cpu = cpu_seconds(roots) - cpu_before
        progress = [json.loads(p.json) for p in query.recentProgress]
    batches = [p for p in progress if p["numInputRows"] > 0]
    events = sum(p["numInputRows"] for p in batches)
    latencies = [p["durationMs"]["triggerExecution"] for p in batches]
    later = batches[1:] or batches
    sustained_ms = sum(p["durationMs"]["triggerExecution"] for p in later)
    fetch = [from_progress(p).get(stream) for p in batches]
    return {
        "events": events,
        "batches": len(batches),
        "wall_seconds": round(wall, 2),
        "events_per_second": round(events / wall),
        "sustained_events_per_second": round(
            sum(p["numInputRows"] for p in later) / (sustained_ms / 1000)
        ),
        "batch_latency_ms": {
            "p50": round(statistics.median(latencies)),
            "p95": round(sorted(latencies)[max(0, round(0.95 * len(latencies)) - 1)]),
            "max": max(latencies),
        },
        "driver_fetch_ms_p50": round(statistics.median(m.fetch_millis for m in fetch if m)),
        # Driver, JVM, Python workers and the emulator together.
        "cpu_seconds": round(cpu, 2),
        "events_per_cpu_second": round(events / cpu) if cpu else None,
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def median(key: str, sub: str | None = None) -> int:
        return round(statistics.median(r[key] if sub is None else r[key][sub] for r in runs))

    return {
        "events_per_second": median("events_per_second"),
        "sustained_events_per_second": median("sustained_events_per_second"),
        "batch_latency_ms_p50": median("batch_latency_ms", "p50"),
        "batch_latency_ms_p95": median("batch_latency_ms", "p95"),
        "events_per_cpu_second": (
            median("events_per_cpu_second") if runs[0]["cpu_seconds"] else None
        ),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="backlog size")
    parser.add_argument(
        "--max-records-per-trigger",
        default="10000,25000",
        help="comma-separated batch sizes, each measured for both designs",
    )
    parser.add_argument("--rounds", type=int, default=2, help="runs per design and batch size")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.max_records_per_trigger.split(",")]

    from fraudstream.settings import load_settings
    from fraudstream.stack import lifecycle

    state = Path(tempfile.mkdtemp(prefix="bench-kinesis-stack-"))
    with socket.socket() as probe:  # a free port, so a developer's own stack is left alone
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = load_settings(
        stack_port=port, endpoint_url=f"http://127.0.0.1:{port}", state_dir=state
    )
    status = lifecycle.up(settings)
    cpu_roots = [os.getpid()] + ([status.pid] if status.pid else [])
    runs: dict[int, dict[str, list[dict[str, Any]]]] = {
        size: {design: [] for design in DESIGNS} for size in sizes
    }
    try:
        print(f"putting a backlog of {args.events:,} events ...", flush=True)
        put_backlog(settings, "bench-backlog", args.events)
        put_backlog(settings, "bench-warmup", 2_000)
        spark = spark_session()
        for design in DESIGNS:  # start Python workers, load classes, JIT the JVM
            run_query(spark, design, settings, "bench-warmup", 1_000)
        turn = 0
        for _ in range(args.rounds):
            for size in sizes:
                # Alternate which design goes first, so drift in machine load hits both.
                order = list(DESIGNS) if turn % 2 == 0 else list(reversed(DESIGNS))
                turn += 1
                for design in order:
                    result = run_query(spark, design, settings, "bench-backlog", size, cpu_roots)
                    if result["events"] != args.events:
                        raise RuntimeError(
                            f"{design} read {result['events']} of {args.events} events"
                        )
                    runs[size][design].append(result)
                    print(f"{size:>6} {design:>17}: {json.dumps(result)}", flush=True)
        spark.stop()
    finally:
        lifecycle.stop_emulator(settings)
        shutil.rmtree(state, ignore_errors=True)

    by_size = {}
    for size, designs in runs.items():
        summary = {design: summarise(results) for design, results in designs.items()}
        once, twice = summary["read_once"], summary["naive_read_twice"]
        summary["speedup"] = round(once["events_per_second"] / twice["events_per_second"], 2)
        by_size[str(size)] = summary
        print(
            f"maxRecordsPerTrigger={size}: read once {once['events_per_second']:,} ev/s "
            f"(sustained {once['sustained_events_per_second']:,}), naive read-twice "
            f"{twice['events_per_second']:,} ev/s (sustained "
            f"{twice['sustained_events_per_second']:,}); events per CPU-second "
            f"{once['events_per_cpu_second']} vs {twice['events_per_cpu_second']}"
        )
    path = write(
        NAME,
        {
            "reproduce": "python -m benchmarks.kinesis_source",
            "setup": {
                "backlog_events": args.events,
                "shards": 4,
                "max_records_per_trigger": sizes,
                "rounds": args.rounds,
                "master": "local[2]",
                "sink": "noop",
                "trigger": "AvailableNow",
                "emulator": "moto server with fraudstream's Kinesis patch",
                "load_average_at_end": list(os.getloadavg()),
            },
            "by_max_records_per_trigger": by_size,
            "target_events_per_second": 15_000,
        },
    )
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
