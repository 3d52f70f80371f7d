"""End-to-end throughput and latency of the processor on ``local[2]``, at increasing rates.

For each rate: fresh streams, lake and table on a private emulator; the model server in its
own process; the processor (this process, a real Spark job) scoring through it; the producer
(its own process) sending simulated-clock traffic at the rate for ``--duration`` seconds.
Latency is per transaction, from Kinesis arrival to the commit of its batch's sinks (lake,
alerts, state), over the batches after ``--warmup`` seconds (20 by default; the start-up
batches are reported apart, see :data:`WARMUP_S`). A rate is *sustained* when the
processor finishes the run's transactions within ``--grace`` seconds of the producer and its
p99 in the run's second half is no worse than twice the first half's (no growing backlog).
Each rate also reports the driver's full garbage collections over the traffic
(``driver_full_gc``: count, total and longest pause), which stop the batch sink.

Run: ``python -m benchmarks.pipeline [--rates 500,1000,2000] [--duration 60]``.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import cpu
from benchmarks.gc_pauses import CollectionPauses
from benchmarks.harness import CARDS, cli, environment, fresh, sweep
from fraudstream.demo.processes import produce_args
from fraudstream.stack import lifecycle
from processor.metrics import BatchSummary
from producer.simulated import watermark_for

WARMUP_S = 20.0
"""Latencies committed this soon after the producer starts are reported apart, as
``startup_latency``: a fresh processor's first batches with data pay ~6 s once (Python
workers, code generation, first calls to the sinks), and the backlog that builds meanwhile
takes a few batches to clear."""


def percentiles(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "p50_ms": round(p50 * 1000),
        "p95_ms": round(p95 * 1000),
        "p99_ms": round(p99 * 1000),
        "max_ms": round(float(values.max()) * 1000),
    }


def judge(
    done_at: np.ndarray,
    latency_at: np.ndarray,
    latencies: np.ndarray,
    *,
    expected: int,
    began: float,
    produced_at: float,
    warmup: float,
    grace: float,
) -> dict[str, Any]:
    """Throughput, latency and the *sustained* verdict of one run (see the module doc).

    ``done_at``: the monotonic time each processed transaction was committed; ``latencies``:
    end-to-end latencies in seconds, each committed at ``latency_at``. ``began`` and
    ``produced_at`` are when the producer started and finished (monotonic).
    """
    done = int(done_at.size)
    caught_up = float(np.sort(done_at)[expected - 1]) if expected and done >= expected else None
    steady = latency_at - began >= warmup
    middle = began + (produced_at - began + warmup) / 2
    first = latencies[steady & (latency_at < middle)]
    second = latencies[steady & (latency_at >= middle)]
    p99_first = float(np.percentile(first, 99)) if first.size else None
    p99_second = float(np.percentile(second, 99)) if second.size else None
    sustained = bool(
        done >= expected
        and caught_up is not None
        and caught_up - produced_at <= grace
        and p99_first is not None
        and p99_second is not None
        and p99_second <= 2 * max(p99_first, 0.25)
    )
    return {
        "processed": done,
        "processed_per_s": round(done / max(produced_at - began, 1e-9)),
        "caught_up_after_producer_s": None
        if caught_up is None
        else round(caught_up - produced_at, 2),
        "e2e_latency": percentiles(latencies[steady]),
        "startup_latency": percentiles(latencies[~steady]),
        "p99_first_half_ms": None if p99_first is None else round(p99_first * 1000),
        "p99_second_half_ms": None if p99_second is None else round(p99_second * 1000),
        "sustained": sustained,
    }


def run_rate(
    base: Any, workdir: Path, rate: int, duration: float, warmup: float, grace: float
) -> dict[str, Any]:
    from processor.streaming_job import start

    settings = fresh(
        base, workdir, watermark=watermark_for(rate, CARDS), starting_position="TRIM_HORIZON"
    )
    batches: list[tuple[float, BatchSummary]] = []
    lock = threading.Lock()

    def collect(summary: BatchSummary) -> None:
        with lock:
            batches.append((time.monotonic(), summary))

    handle = start(settings, on_batch=collect)
    # Traffic starts once the first (empty) batch has committed: query planning and Python
    # worker start-up are start-up costs, not the pipeline's steady-state latency.
    deadline = time.monotonic() + 300
    while not batches and time.monotonic() < deadline:
        time.sleep(0.2)
    if not batches:
        handle.stop()
        raise RuntimeError("the processor committed no batch within 300 s of starting")
    with lock:
        batches.clear()
    pauses = CollectionPauses().install()  # the driver's, over the traffic
    emulator = lifecycle.read_state(base)
    others = [emulator.pid] if emulator is not None else []
    cpu_before = cpu.sample(others)
    began = time.monotonic()
    producer = cli(
        environment(settings),
        *produce_args(rate=rate, duration=duration, cards=CARDS, label_delay=60),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    producer_cpu = 0.0
    while producer.poll() is None:  # its CPU while it lives (once reaped it is gone)
        producer_cpu = cpu.own(producer.pid) or producer_cpu
        time.sleep(0.5)
    produced_at = time.monotonic()
    expected = round(rate * duration)
    while time.monotonic() < produced_at + grace:
        with lock:
            done = sum(s.rows for _, s in batches)
        if done >= expected:
            break
        time.sleep(0.25)
    cpu_after = cpu.sample(others)
    cpu_after.seconds["producer"] += producer_cpu
    handle.stop()
    pauses.remove()
    with lock:
        runs = list(batches)
    times = [t for t, _ in runs]
    window = [s for t, s in runs if t - began >= warmup and s.rows]
    judged = judge(
        np.repeat(np.asarray(times, dtype=np.float64), [s.rows for _, s in runs]),
        np.repeat(np.asarray(times, dtype=np.float64), [s.latencies.size for _, s in runs]),
        np.concatenate([np.empty(0), *(s.latencies for _, s in runs)]),
        expected=expected,
        began=began,
        produced_at=produced_at,
        warmup=warmup,
        grace=grace,
    )
    return {
        "rate": rate,
        "duration_s": duration,
        "produced": expected,
        "processed": judged["processed"],
        "processed_per_s": judged["processed_per_s"],
        "caught_up_after_producer_s": judged["caught_up_after_producer_s"],
        "batches": len(runs),
        "batch_ms_p50": round(float(np.median([s.batch_seconds for s in window])) * 1000)
        if window
        else None,
        "rows_per_batch_p50": round(float(np.median([s.rows for s in window]))) if window else None,
        "e2e_latency": judged["e2e_latency"],
        "startup_latency": judged["startup_latency"],
        "p99_first_half_ms": judged["p99_first_half_ms"],
        "p99_second_half_ms": judged["p99_second_half_ms"],
        "scored_by": _scored(runs),
        "driver_full_gc": pauses.summary(),
        "cpu_us_per_tx": cpu.per_transaction(cpu_before, cpu_after, judged["processed"]),
        "sink_us_per_tx": _sink_cost(window),
        "sustained": judged["sustained"],
    }


def _sink_cost(window: list[BatchSummary]) -> float | None:
    """The batch sink's wall time per transaction over the measured batches."""
    rows = sum(s.rows for s in window)
    return round(sum(s.batch_seconds for s in window) / rows * 1e6, 1) if rows else None


def _scored(batches: list[tuple[float, BatchSummary]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, s in batches:
        for path, n in s.scored_by.items():
            counts[path] = counts.get(path, 0) + n
    return counts


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return sweep(
        argv,
        name="pipeline",
        description=__doc__.splitlines()[0],
        rates="500,1000,2000",
        duration=60.0,
        workdir_prefix="fraudstream-bench-",
        run_rate=run_rate,
        warmup=WARMUP_S,
        detail=lambda run: (
            f"p99 {run['e2e_latency']['p99_ms']} ms  batch p50 {run['batch_ms_p50']} ms"
        ),
        facts=lambda base: {
            "cards": CARDS,
            "shards": 4,
            "master": "local[2]",
        },
    )


if __name__ == "__main__":
    main()
