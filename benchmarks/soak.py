"""The soak: the pipeline at a steady rate for a long time; does anything grow?

``make soak`` runs it for an hour at 1,000 transactions/s (the issue's target; run it on a
quiet machine). On a private emulator with the model server in its own process, this process
runs the real processor (:func:`processor.streaming_job.start`, ``local[2]``) while
``fraudstream produce --clock simulated`` sends the traffic. Every ``--sample`` seconds it
records the resident memory and CPU time of the driver, the JVM, the Python workers and the
emulator, the bytes and files of the sink's state folder and of Spark's checkpoint and the
load average; every committed batch records its rows, per-transaction end-to-end latencies,
the feature engine's bytes (``FeatureEngine.nbytes()``) and the lake files it committed. The
lake is listed once, after the run: listed while it ran, at 70,000 objects a listing cost this
process (the driver) 5.6 s of CPU and the emulator 9 s, a stall that grew with the lake and
was the soak's own p99 growth. The report
(``benchmarks/results/soak.json``, or ``--name``) has one row per ``--window`` minutes and the
verdicts of :func:`benchmarks.soak_report.targets`.

A short run to check the machinery: ``python -m benchmarks.soak --minutes 6 --window 1
--steady-from 2 --warmup 1 --stretch 2 --name soak-short``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import procstat, results
from benchmarks.harness import bench_stack, cli, environment, fresh, model_server, train
from benchmarks.soak_report import BatchRecord, Sample, targets, windows
from fraudstream import aws
from fraudstream.demo.processes import produce_args
from fraudstream.settings import Settings
from fraudstream.stack import lifecycle
from processor.metrics import BatchSummary
from producer.simulated import watermark_for

CARDS = 6_000
"""The simulated population: ~3 transactions per card a day at 1,000/s makes event time run
3.3 days a wall minute, so the cards' 30-day history is full by minute 9 and the state the
soak compares from minute 15 is the steady state (with the benchmarks' 20,000 cards it fills
at minute ~30, and minutes 15-30 measured the filling, not a leak)."""

PROGRESS_S = 60.0
"""Seconds between the progress lines the run prints on stderr."""

NO_LATENCIES = np.empty(0)
"""What a batch record holds while the run lasts: its latencies are in the file."""


class BatchLog:
    """The soak's batches, their latencies in a file rather than in this process.

    This process is the processor's driver: an hour of per-transaction latencies (3.6 M) kept
    here would be driver growth the product does not have. The records and the file are kept
    together so that forgetting start-up's batches forgets their latencies too.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.batches: list[BatchRecord] = []
        self._counts: list[int] = []
        self._file = path.open("wb")

    def add(self, record: BatchRecord, latencies: np.ndarray) -> None:
        self._file.write(np.asarray(latencies, dtype=np.float32).tobytes())
        self._counts.append(len(latencies))
        self.batches.append(record)

    def clear(self) -> None:
        self.batches.clear()
        self._counts.clear()
        self._file.seek(0)
        self._file.truncate()

    def rows(self) -> int:
        return sum(b.rows for b in self.batches)

    def close(self) -> list[BatchRecord]:
        """The batches with their latencies read back; the file is removed."""
        self._file.close()
        logged = np.fromfile(self.path, dtype=np.float32)
        self.path.unlink()
        return with_latencies(self.batches, self._counts, logged)


def with_latencies(
    batches: list[BatchRecord], counts: list[int], logged: np.ndarray
) -> list[BatchRecord]:
    """``batches`` with their latencies (``counts[i]`` for batch i) cut from ``logged``, the
    concatenation of every batch's, in order."""
    if len(counts) != len(batches):
        raise ValueError(f"{len(counts)} latency counts for {len(batches)} batches")
    bounds = np.cumsum([0, *counts])
    if bounds[-1] != len(logged):
        raise ValueError(f"{len(logged)} latencies logged for {bounds[-1]} transactions")
    return [
        replace(b, latencies=logged[start:end].astype(np.float64))
        for b, start, end in zip(batches, bounds[:-1], bounds[1:], strict=True)
    ]


def folder_size(path: Path) -> tuple[int, int]:
    """(bytes, files) under ``path``, recursively; (0, 0) if it does not exist."""
    size = files = 0
    for root, _, names in os.walk(path):
        for name in names:
            try:
                size += (Path(root) / name).stat().st_size
                files += 1
            except OSError:  # removed while we walked (a snapshot replaced, a log compacted)
                continue
    return size, files


def lake_size(settings: Settings) -> tuple[int, int]:
    """(objects, bytes) in the lake bucket: data files, logs and checkpoints."""
    s3 = aws.client("s3", settings)
    objects = size = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket):
        for item in page.get("Contents", []):
            objects += 1
            size += item["Size"]
    return objects, size


class Sampler:
    """Samples the processor's resources every ``every`` seconds on its own thread."""

    def __init__(
        self,
        settings: Settings,
        began: float,
        every: float,
        emulator: int | None = None,
    ) -> None:
        self.settings = settings
        self.began = began
        self.every = every
        self.emulator = emulator
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(self.sample())

    def sample(self) -> Sample:
        tree = procstat.process_tree(os.getpid())
        checkpoint = Path(self.settings.checkpoint_dir)
        sink_bytes, sink_files = folder_size(checkpoint / "sink-state")
        spark_bytes, spark_files = folder_size(checkpoint / "query")
        now = time.monotonic()
        values: dict[str, float | None] = {
            "driver_rss": procstat.rss_bytes(tree.driver),
            "jvm_rss": procstat.total([procstat.rss_bytes(p) for p in tree.jvm]),
            "workers_rss": procstat.total([procstat.rss_bytes(p) for p in tree.workers]),
            "emulator_rss": None if self.emulator is None else procstat.rss_bytes(self.emulator),
            "driver_cpu": procstat.cpu_seconds(tree.driver),
            "jvm_cpu": procstat.total([procstat.cpu_seconds(p) for p in tree.jvm]),
            "emulator_cpu": None if self.emulator is None else procstat.cpu_seconds(self.emulator),
            "sink_state_bytes": sink_bytes,
            "sink_state_files": sink_files,
            "checkpoint_bytes": spark_bytes,
            "checkpoint_files": spark_files,
            "load_1m": os.getloadavg()[0],
        }
        return Sample(now - self.began, values)


def run(
    settings: Settings,
    *,
    rate: int,
    seconds: float,
    cards: int,
    sample_s: float,
    grace: float,
    emulator: int | None = None,
) -> tuple[list[BatchRecord], list[Sample], dict[str, Any]]:
    """Start the processor, send ``rate``/s for ``seconds``, record; return what was recorded."""
    from processor.streaming_job import start

    log = BatchLog(Path(tempfile.mkstemp(prefix="soak-latencies-", suffix=".f32")[1]))
    lock = threading.Lock()
    clock = {"began": time.monotonic()}
    holder: dict[str, Any] = {}

    def collect(summary: BatchSummary) -> None:
        handle = holder.get("handle")
        state = handle.sink.state if handle is not None else None
        engine = sum(state.engine.nbytes().values()) if state is not None else 0
        record = BatchRecord(
            time.monotonic() - clock["began"],
            summary.rows,
            NO_LATENCIES,
            engine,
            summary.lake_files,
            summary.lake_bytes,
        )
        with lock:
            log.add(record, summary.latencies)

    holder["handle"] = handle = start(settings, on_batch=collect)
    deadline = time.monotonic() + 300
    while not log.batches and time.monotonic() < deadline:  # the first (empty) batch: start-up
        time.sleep(0.2)
    if not log.batches:
        handle.stop()
        raise RuntimeError("the processor committed no batch within 300 s of starting")
    with lock:  # start-up's batches are not the soak's: forget them and their latencies
        log.clear()
        clock["began"] = time.monotonic()
    sampler = Sampler(settings, clock["began"], sample_s, emulator).start()
    producer = cli(
        environment(settings),
        *produce_args(rate=rate, duration=seconds, cards=cards, label_delay=60),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    report_at = PROGRESS_S
    while producer.poll() is None:  # a line a minute: an hour with no output looks hung
        time.sleep(1.0)
        elapsed = time.monotonic() - clock["began"]
        if elapsed >= report_at:
            report_at += PROGRESS_S
            with lock:
                rows, batches = log.rows(), len(log.batches)
            print(
                f"soak: minute {elapsed / 60:.0f} of {seconds / 60:g}: {rows:,} transactions "
                f"processed in {batches:,} batches",
                file=sys.stderr,
                flush=True,
            )
    produced_at = time.monotonic() - clock["began"]
    expected = round(rate * seconds)
    while time.monotonic() - clock["began"] < produced_at + grace:
        with lock:
            if log.rows() >= expected:
                break
        time.sleep(0.5)
    sampler.stop()
    handle.stop()
    with lock:
        recorded = log.close()
    processed = sum(b.rows for b in recorded)
    lake_objects, lake_bytes = lake_size(settings)
    summary = {
        "produced": expected,
        "processed": processed,
        "producer_exit": producer.returncode,
        "produced_after_s": round(produced_at, 1),
        "caught_up": processed >= expected,
        "lake_objects_at_end": lake_objects,
        "lake_mib_at_end": round(lake_bytes / 2**20, 1),
    }
    return recorded, sampler.samples, summary


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000, help="transactions per second")
    parser.add_argument("--minutes", type=float, default=60.0, help="how long to send traffic")
    parser.add_argument("--window", type=float, default=5.0, help="minutes per report row")
    parser.add_argument("--cards", type=int, default=CARDS, help="simulated card population")
    parser.add_argument("--steady-from", type=float, default=15.0, help="minute of steady state")
    parser.add_argument("--warmup", type=float, default=5.0, help="minutes before p99 counts")
    parser.add_argument("--stretch", type=float, default=15.0, help="minutes per p99 stretch")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--grace", type=float, default=60.0, help="seconds to catch up after")
    parser.add_argument("--name", default="soak", help="results file benchmarks/results/NAME")
    args = parser.parse_args(argv)
    seconds = args.minutes * 60
    workdir = Path(tempfile.mkdtemp(prefix="fraudstream-soak-"))
    with bench_stack(workdir) as stack:
        emulator = lifecycle.read_state(stack)
        model = train(stack, workdir)
        base = stack.model_copy(update={"model_dir": model})
        with model_server(base) as url:
            settings = fresh(
                base.model_copy(update={"model_endpoint_url": url}),
                workdir,
                watermark=watermark_for(args.rate, args.cards),
                starting_position="TRIM_HORIZON",
            )
            batches, samples, summary = run(
                settings,
                rate=args.rate,
                seconds=seconds,
                cards=args.cards,
                sample_s=args.sample,
                grace=args.grace,
                emulator=None if emulator is None else emulator.pid,
            )
    end = summary["produced_after_s"]
    out = {
        "rate": args.rate,
        "minutes": args.minutes,
        "window_minutes": args.window,
        "cards": args.cards,
        "master": "local[2]",
        **summary,
        "targets": targets(
            batches,
            samples,
            steady_s=args.steady_from * 60,
            warmup_s=args.warmup * 60,
            stretch_s=args.stretch * 60,
            end_s=end,
        ),
        "windows": windows(batches, samples, window_s=args.window * 60, end_s=end),
    }
    for row in out["windows"]:
        print(
            f"minute {row['minute']:>5}: rows {row['rows']:>7,} p50 {row['e2e_p50_ms']} ms "
            f"p99 {row['e2e_p99_ms']} ms driver {row['driver_rss_mib']} MiB "
            f"jvm {row['jvm_rss_mib']} MiB engine {row['engine_mib']} MiB "
            f"state {row['sink_state_mib']} MiB lake +{row['lake_files_written']} files "
            f"load {row['load_1m']}",
            flush=True,
        )
    print(f"targets: {out['targets']}")
    print(f"wrote {results.write(args.name, out)}")
    return out


if __name__ == "__main__":
    main()
