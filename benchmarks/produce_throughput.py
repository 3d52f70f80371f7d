"""Produce throughput into the local emulator: patched vs stock moto, side by side.

Starts two emulator processes (ours with the Kinesis patch, and stock moto 5.2.5), fills a
4-shard stream in each through the project's KinesisWriter (PutRecords of 500) and records
records/s per 20k-record window, so the stock emulator's decline with shard size shows. Then
reads the stream back with GetRecords (10k per call) and records read throughput.

Run: ``python -m benchmarks.produce_throughput [--records N] [--budget SECONDS]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import results
from fraudstream import aws
from fraudstream.demo.processes import free_port
from fraudstream.settings import load_settings
from fraudstream.stack import lifecycle
from fraudstream.stream_dump import read_stream
from producer.kinesis_writer import KinesisWriter

WINDOW = 20_000
SHARDS = 4


def measure(stock: bool, records: int, budget: float) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as state:
        settings = load_settings(
            stack_port=port,
            endpoint_url=f"http://127.0.0.1:{port}",
            state_dir=Path(state),
            stream_shards=SHARDS,
        )
        lifecycle.start_emulator(settings, stock=stock)
        try:
            kinesis = aws.client("kinesis", settings, max_attempts=1)
            kinesis.create_stream(StreamName="bench", ShardCount=SHARDS)
            kinesis.get_waiter("stream_exists").wait(StreamName="bench")
            writer = KinesisWriter(kinesis, "bench")
            payload = b'{"schema_version":1,"transaction_id":"' + b"x" * 200 + b'"}'
            windows = []
            began = window_start = time.perf_counter()
            sent = 0
            while sent < records and time.perf_counter() - began < budget:
                for i in range(500):
                    writer.put(payload, f"card-{(sent + i) % 10_000}")
                writer.flush()
                sent += 500
                if sent % WINDOW == 0:
                    now = time.perf_counter()
                    windows.append(
                        {
                            "records": sent,
                            "per_shard": sent // SHARDS,
                            "records_per_s": round(WINDOW / (now - window_start)),
                        }
                    )
                    window_start = now
            put_seconds = time.perf_counter() - began
            read_began = time.perf_counter()
            read = sum(1 for _ in read_stream(kinesis, "bench"))
            read_seconds = time.perf_counter() - read_began
        finally:
            lifecycle.stop_emulator(settings)
    return {
        "engine": "stock moto 5.2.5" if stock else "patched (fraudstream)",
        "records_put": sent,
        "put_seconds": round(put_seconds, 2),
        "put_records_per_s": round(sent / put_seconds),
        "completed": sent >= records,
        "windows": windows,
        "records_read": read,
        "read_records_per_s": round(read / read_seconds) if read_seconds else None,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument(
        "--budget", type=float, default=240.0, help="seconds each engine may spend putting records"
    )
    args = parser.parse_args(argv)
    runs = [
        measure(stock=False, records=args.records, budget=args.budget),
        measure(stock=True, records=args.records, budget=args.budget),
    ]
    for run in runs:
        print(
            f"{run['engine']:<24} put {run['records_put']:>7,} in {run['put_seconds']:>7.1f} s "
            f"= {run['put_records_per_s']:>6,}/s; read {run['read_records_per_s']}/s"
        )
        for window in run["windows"]:
            print(f"    at {window['per_shard']:>6,}/shard: {window['records_per_s']:>6,}/s")
    out = {"shards": SHARDS, "target_records": args.records, "runs": runs}
    path = results.write("produce_throughput", out)
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()
