"""Produce throughput into the local emulator, two parts.

1. **The producer at 10,000 events/s** (issue 16): ``fraudstream produce --clock live`` for
   ``--duration`` seconds into a private emulator with AWS's per-shard limits on, 4 shards for
   transactions and 4 for labels; the producer's CPU (its whole process, start-up included,
   from ``wait4``) and the emulator's (``/proc``) per event. Twice: KPL-aggregated (the
   default) and ``--no-aggregate``, where the same offered rate meets the emulator's
   1,000 records/s per shard: the run reports the share of put attempts it refused.
2. **The emulator engines** (ADR 0001): ours with the Kinesis patch and stock moto 5.2.5, limits
   off (engine speed), a 4-shard stream filled through the project's KinesisWriter (PutRecords
   of 500), records/s per 20k-record window, then read back with GetRecords (10k per call).

Run: ``python -m benchmarks.produce_throughput [--rate R] [--duration S] [--no-engines]
[--records N] [--budget SECONDS]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import results
from fraudstream import aws
from fraudstream.demo.processes import free_port
from fraudstream.settings import load_settings, to_environment
from fraudstream.stack import lifecycle
from fraudstream.stream_dump import read_stream
from producer.kinesis_writer import KinesisWriter

WINDOW = 20_000
SHARDS = 4


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process (all its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _summary_number(output: str, label: str) -> int:
    match = re.search(rf"{label}\s*│\s*([\d,]+)", output)
    return int(match.group(1).replace(",", "")) if match else 0


def produce(rate: float, duration: float, cards: int, aggregate: bool) -> dict[str, Any]:
    """One ``fraudstream produce`` run into a fresh emulator with shard limits on."""
    port = free_port()
    with tempfile.TemporaryDirectory() as state:
        settings = load_settings(
            stack_port=port,
            endpoint_url=f"http://127.0.0.1:{port}",
            state_dir=Path(state),
            stream_shards=SHARDS,
            labels_stream_shards=SHARDS,
            stack_shard_limits=True,
        )
        status = lifecycle.up(settings)
        assert status.pid is not None
        try:
            emulator_before = _cpu_seconds(status.pid)
            command = [
                sys.executable, "-m", "fraudstream", "produce", "--clock", "live",
                "--rate", str(rate), "--duration", str(duration), "--cards", str(cards),
                "--label-delay", "5", "--aggregate" if aggregate else "--no-aggregate",
            ]  # fmt: skip
            env = {**os.environ, **to_environment(settings), "COLUMNS": "200"}
            began = time.monotonic()
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                child = subprocess.Popen(command, env=env, stdout=out, stderr=err)
                _, code, usage = os.wait4(child.pid, 0)
                child.returncode = os.waitstatus_to_exitcode(code)
                wall = time.monotonic() - began
                out.seek(0)
                output = out.read().decode()
                err.seek(0)
                errors = err.read().decode()[-2000:]
            emulator_cpu = _cpu_seconds(status.pid) - emulator_before
            load = os.getloadavg()
        finally:
            lifecycle.stop_emulator(settings)
    if child.returncode != 0:
        raise RuntimeError(f"the producer failed ({child.returncode}): {errors}")
    sent = _summary_number(output, "transactions sent")
    retried = _summary_number(output, "records retried")
    producer_cpu = usage.ru_utime + usage.ru_stime
    rate_match = re.search(r"achieved rate\s*│\s*([\d,]+)/s over ([\d.]+) s", output)
    return {
        "aggregate": aggregate,
        "offered_per_s": rate,
        "duration_s": duration,
        "events_sent": sent,
        "labels_sent": _summary_number(output, "labels sent"),
        "kinesis_records": _summary_number(output, "in Kinesis records") or sent,
        "achieved_per_s": int(rate_match.group(1).replace(",", "")) if rate_match else None,
        "sending_s": float(rate_match.group(2)) if rate_match else None,
        "wall_s": round(wall, 1),
        "put_attempts_refused": retried,
        # events and labels both count: each is one user record put (and retried) once
        "throttled_share": round(retried / (2 * sent + retried), 3) if sent else None,
        "producer_cpu_s": round(producer_cpu, 2),
        "producer_us_per_event": round(producer_cpu / sent * 1e6, 1) if sent else None,
        "emulator_cpu_s": round(emulator_cpu, 2),
        "emulator_us_per_event": round(emulator_cpu / sent * 1e6, 1) if sent else None,
        "cores_together": round((producer_cpu + emulator_cpu) / wall, 3),
        "load_average_after": [round(x, 2) for x in load],
    }


def measure(stock: bool, records: int, budget: float) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as state:
        settings = load_settings(
            stack_port=port,
            endpoint_url=f"http://127.0.0.1:{port}",
            state_dir=Path(state),
            stream_shards=SHARDS,
            stack_shard_limits=False,  # engine speed, not AWS's limits
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


def earlier_engines() -> dict[str, Any]:
    """The engines part of the results file, kept when only the producer part is re-run
    (``--no-engines``), with the machine and commit it was measured on."""
    path = results.RESULTS / "produce_throughput.json"
    if not path.exists():
        return {}
    earlier = json.loads(path.read_text())
    if "runs" not in earlier:
        return {}
    return {
        "target_records": earlier.get("target_records"),
        "runs": earlier["runs"],
        "engines_measured_on": earlier.get("engines_measured_on", earlier.get("machine")),
        "note": "the producer part re-run with --no-engines; the engines part (runs) is from "
        "the earlier run described by engines_measured_on",
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument(
        "--budget", type=float, default=240.0, help="seconds each engine may spend putting records"
    )
    parser.add_argument("--rate", type=float, default=10_000.0, help="producer events/s offered")
    parser.add_argument("--duration", type=float, default=60.0, help="producer seconds")
    parser.add_argument("--cards", type=int, default=20_000)
    parser.add_argument(
        "--engines",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also compare the patched and stock emulator engines (part 2)",
    )
    args = parser.parse_args(argv)
    producer = [
        produce(args.rate, args.duration, args.cards, aggregate=True),
        produce(args.rate, args.duration, args.cards, aggregate=False),
    ]
    for run in producer:
        print(
            f"producer {'aggregated' if run['aggregate'] else 'plain     '}: "
            f"{run['events_sent']:,} events at {run['achieved_per_s']}/s in "
            f"{run['kinesis_records']:,} Kinesis records; producer "
            f"{run['producer_us_per_event']} us/event, emulator {run['emulator_us_per_event']} "
            f"us/event, {run['cores_together']} cores together; throttled share "
            f"{run['throttled_share']}"
        )
    out: dict[str, Any] = {"shards": SHARDS, "producer": producer}
    if not args.engines:
        out |= earlier_engines()
        path = results.write("produce_throughput", out)
        print(f"wrote {path}")
        return out
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
    out.update(target_records=args.records, runs=runs)
    path = results.write("produce_throughput", out)
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()
