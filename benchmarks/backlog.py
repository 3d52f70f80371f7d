"""Catching up: a backlog of ``--events`` transactions (and their labels) already on the streams,
processed with ``--available-now`` as an operator does after an outage.

A private emulator, a model trained on generator history and the model server, as in
:mod:`benchmarks.pipeline`; the producer fills fresh streams (simulated clock, 20,000 cards)
before the processor starts; then the processor runs in this process with
``Trigger.AvailableNow`` until it has read everything. Reported: the catch-up rate (events a
second from the first micro-batch's start to the last one's end), the sum of the micro-batches'
own durations (Spark's ``triggerExecution``), rows per batch, the sink's share, peak memory of
the driver and of Spark's JVM, and CPU per transaction by process.

Run: ``python -m benchmarks.backlog [--events 30000,150000]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import cpu
from benchmarks.harness import CARDS, bench_stack, cli, environment, fresh, model_server, train
from benchmarks.results import write
from fraudstream.demo.processes import produce_args
from fraudstream.stack import lifecycle
from processor.metrics import BatchSummary
from producer.simulated import watermark_for

FILL_RATE = 5_000  # events a second while filling the streams (the rate hardly matters)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):  # peak resident set
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def reset_peak(pid: int | None) -> None:
    """Start ``pid``'s peak resident set (VmHWM) afresh (Linux: ``clear_refs`` 5)."""
    if pid is None:
        return
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def jvm_pid() -> int | None:
    """Spark's JVM: the java child of this process."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = stat[stat.rindex(")") + 2 :].split()[1]
        if parent == me and b"java" in command.split(b"\0", 1)[0]:
            return int(entry.name)
    return None


def run_backlog(base: Any, workdir: Path, events: int) -> dict[str, Any]:
    from processor.streaming_job import start

    settings = fresh(
        base,
        workdir,
        watermark=watermark_for(FILL_RATE, CARDS, wall_seconds=max(30.0, events / FILL_RATE)),
        starting_position="TRIM_HORIZON",
    )
    print(f"filling the streams with {events:,} events ...", flush=True)
    producer = cli(
        environment(settings),
        *produce_args(rate=FILL_RATE, duration=events / FILL_RATE, cards=CARDS, label_delay=60),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if producer.wait():
        raise RuntimeError("the producer failed")
    batches: list[tuple[float, BatchSummary]] = []
    lock = threading.Lock()

    def collect(summary: BatchSummary) -> None:
        with lock:
            batches.append((time.monotonic(), summary))

    emulator = lifecycle.read_state(base)
    others = [emulator.pid] if emulator is not None else []
    reset_peak(os.getpid())
    reset_peak(jvm_pid())  # a JVM from an earlier run in this process, if any
    before = cpu.sample(others)
    began = time.monotonic()
    handle = start(settings, available_now=True, on_batch=collect)
    handle.query.awaitTermination()
    ended = time.monotonic()
    after = cpu.sample(others)
    progress = [json.loads(p.json) for p in handle.query.recentProgress]
    jvm = jvm_pid()
    handle.stop()
    rows = sum(s.rows for _, s in batches)
    trigger_ms = [p.get("durationMs", {}).get("triggerExecution", 0) for p in progress]
    sink_s = sum(s.batch_seconds for _, s in batches)
    with_rows = [s.rows for _, s in batches if s.rows]
    first_start = began
    return {
        "events": events,
        "processed": rows,
        "batches": len(batches),
        "rows_per_batch": {
            "min": int(min(with_rows)) if with_rows else 0,
            "p50": int(np.median(with_rows)) if with_rows else 0,
            "max": int(max(with_rows)) if with_rows else 0,
        },
        "wall_s": round(ended - first_start, 1),
        "batch_time_s": round(sum(trigger_ms) / 1000, 2),
        "sink_time_s": round(sink_s, 2),
        "catch_up_events_per_s": round(rows / max(ended - first_start, 1e-9)),
        "driver_peak_rss_mb": round(rss_mb(os.getpid())),
        "jvm_peak_rss_mb": round(rss_mb(jvm)) if jvm else None,
        "cpu_us_per_tx": cpu.per_transaction(before, after, rows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="30000", help="backlog sizes, comma-separated")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-backlog-"))
    runs = []
    with bench_stack(workdir) as stack:
        model = train(stack, workdir)
        base = stack.model_copy(update={"model_dir": model})
        with model_server(base) as url:
            base = base.model_copy(update={"model_endpoint_url": url})
            for events in (int(e) for e in args.events.split(",")):
                run = run_backlog(base, workdir, events)
                runs.append(run)
                print(run, flush=True)
    print(f"wrote {write('backlog', {'runs': runs})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
