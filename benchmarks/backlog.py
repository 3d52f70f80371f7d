"""Catching up: a backlog of ``--events`` transactions (and their labels) already on the streams,
processed with ``--available-now`` as an operator does after an outage.

A private emulator, a model trained on generator history and the model server, as in
:mod:`benchmarks.pipeline`; the producer fills fresh streams (simulated clock, 20,000 cards)
before the processor starts; then the processor runs with ``Trigger.AvailableNow`` until it has
read everything, each backlog size in a process of its own (a new driver and JVM, so one run's
heap does not carry into the next). The watermark is the same for every size: it covers 30 s
of arrival skew, as a deployment's watermark covers its streams' skew whatever the length of
the outage (a watermark grown with the backlog keeps the whole backlog in every state bounded
by it, which is what the first runs of this benchmark did).

Reported: the catch-up rate (events a second from the query's start to its end), the sum of the
micro-batches' own durations (Spark's ``triggerExecution``) and of their phases, rows per batch,
the sink's share, peak memory of the driver and of Spark's JVM (resident set, and the JVM heap
after each collection from its GC log), per batch the resident sets and the sink's state, the
JVM's live objects by class early and late in the run (``jcmd GC.class_histogram``), and CPU
per transaction by process.

Run: ``python -m benchmarks.backlog [--events 150000,1500000]`` (the default: issue 21's two
backlogs, about 20 minutes on the 2-core box).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from benchmarks import cpu
from benchmarks.harness import CARDS, ModelServer, bench_stack, cli, environment, fresh, train
from benchmarks.results import write
from fraudstream.demo.processes import produce_args
from fraudstream.settings import Settings, load_settings
from fraudstream.stack import lifecycle
from processor.metrics import BatchSummary
from producer.simulated import watermark_for

FILL_RATE = 5_000  # events a second while filling the streams (the rate hardly matters)
SKEW_S = 30.0  # wall seconds of arrival skew the watermark covers, whatever the backlog
PHASES = ("latestOffset", "queryPlanning", "addBatch", "walCommit", "commitOffsets")
_GC_LINE = re.compile(r"Pause .*? (\d+)M->(\d+)M\((\d+)M\)")


def proc_mb(pid: int | None, key: str) -> int | None:
    """A ``/proc/<pid>/status`` figure in MiB (``VmHWM``: peak resident set; ``VmRSS``), or
    None when there is no such process."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return None


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


def children_peaks(runner: int | None, workers: list[int]) -> dict[str, int | None]:
    """Peak resident sets (MiB) of the JVM's Python descendants (:func:`jvm_children`): the
    streaming source's runner (the planner and its buffers, on the driver's machine) and the
    largest Python worker."""
    worker_peaks = [p for p in (proc_mb(w, "VmHWM") for w in workers) if p is not None]
    return {
        "source_runner_peak_rss_mb": proc_mb(runner, "VmHWM"),
        "python_worker_peak_rss_mb": max(worker_peaks, default=None),
    }


def jvm_children(jvm: int | None) -> tuple[int | None, list[int]]:
    """The JVM's Python descendants: the streaming source's runner and the workers."""
    parents: dict[int, int] = {}
    commands: dict[int, bytes] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            commands[int(entry.name)] = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])

    def under_jvm(pid: int) -> bool:
        while pid in parents and pid != jvm and parents[pid] not in (0, pid):
            pid = parents[pid]
        return jvm is not None and pid == jvm

    runner: int | None = None
    workers: list[int] = []
    for pid, command in commands.items():
        if pid == jvm or not under_jvm(pid):
            continue
        if b"python_streaming_source_runner" in command:
            runner = pid
        elif b"pyspark" in command:
            workers.append(pid)
    return runner, workers


def heap_after_gc(folder: Path, pid: int | None) -> list[int]:
    """The JVM heap in use after each collection (MiB), from its ``-Xlog:gc`` file."""
    log = folder / f"gc-{pid}.log"
    if pid is None or not log.exists():
        return []
    return [int(m.group(2)) for m in map(_GC_LINE.search, log.read_text().splitlines()) if m]


def class_histogram(pid: int | None, top: int = 12) -> dict[str, Any]:
    """Live objects by class (``jcmd GC.class_histogram`` runs a full collection first)."""
    if pid is None:
        return {}
    env = {k: v for k, v in os.environ.items() if k != "JDK_JAVA_OPTIONS"}  # jcmd logs no GC
    out = subprocess.run(
        ["jcmd", str(pid), "GC.class_histogram"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    ).stdout
    return parse_histogram(out, top)


def parse_histogram(text: str, top: int) -> dict[str, Any]:
    """The live heap (MiB) and its ``top`` classes by bytes from a class histogram's text."""
    rows = []
    total = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0].rstrip(":").isdigit():
            rows.append((parts[3], int(parts[1]), int(parts[2])))
        elif parts[:1] == ["Total"]:
            total = int(parts[2])
    return {
        "live_mb": round(total / 2**20, 1),
        "top": [
            {"class": name, "instances": n, "mb": round(size / 2**20, 1)}
            for name, n, size in rows[:top]
        ],
    }


def sink_state(sink: Any) -> dict[str, float]:
    """The batch sink's state between batches: engine bytes, labels and window rows kept."""
    state = sink.state
    if state is None:
        return {}
    return {
        "engine_mb": round(sum(state.engine.nbytes().values()) / 2**20, 1),
        "labels_kept": len(state.labels),
        "window_rows": sum(t.num_rows for ts in state.windows.buckets.values() for t in ts),
        "arrow_mb": round(pa.total_allocated_bytes() / 2**20, 1),
    }


def fill(settings: Settings, events: int) -> None:
    print(f"filling the streams with {events:,} events ...", flush=True)
    producer = cli(
        environment(settings),
        *produce_args(rate=FILL_RATE, duration=events / FILL_RATE, cards=CARDS, label_delay=60),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if producer.wait():
        raise RuntimeError("the producer failed")


def run_backlog(base: Settings, settings: Settings, events: int, gc_logs: Path) -> dict[str, Any]:
    """Process the backlog on ``settings``' streams in this process; its results (``base``:
    the stack's settings, where the emulator's process is recorded)."""
    from processor.streaming_job import start

    expected = max(1, round(events / (settings.max_records_per_trigger or events)))
    probes = {min(3, expected - 1): "early", max(expected - 3, 1): "late"}
    batches: list[tuple[float, BatchSummary]] = []
    samples: list[dict[str, Any]] = []
    histograms: dict[str, Any] = {}
    stages: dict[str, float] = {}
    lock = threading.Lock()
    handle_box: list[Any] = []
    python_peaks: dict[str, int | None] = {}
    runner_cpu: list[tuple[int, float]] = []  # the source's runner: pid, CPU s at the last batch

    def note_peaks(jvm: int | None) -> int | None:
        """Note the JVM's Python descendants' peaks; the source's runner, if it runs."""
        runner, workers = jvm_children(jvm)
        for name, peak in children_peaks(runner, workers).items():
            python_peaks[name] = max(filter(None, (peak, python_peaks.get(name))), default=None)
        return runner

    def collect(summary: BatchSummary) -> None:
        jvm = jvm_pid()
        runner = note_peaks(jvm)  # the source's runner ends with the query: read it while it runs
        if runner is not None and (seconds := cpu.own(runner)) is not None:
            runner_cpu[:] = [(runner, seconds)]
        with lock:
            batches.append((time.monotonic(), summary))
            sample: dict[str, Any] = {
                "batch": summary.batch_id,
                "rows": summary.rows,
                "driver_rss_mb": proc_mb(os.getpid(), "VmRSS"),
                "jvm_rss_mb": proc_mb(jvm, "VmRSS"),
                "sink_s": round(summary.batch_seconds, 3),
                "at_s": round(time.monotonic() - began, 2),
            }
            if handle_box:
                sample |= sink_state(handle_box[0].sink)
                # on the sink's thread, right after the batch: its steps' wall seconds
                for step, seconds in handle_box[0].sink.timings.items():
                    stages[step] = stages.get(step, 0.0) + seconds
            samples.append(sample)
        when = probes.get(len(batches))
        if when is not None:  # after the batch, beside the next one: a full GC in the JVM
            threading.Thread(
                target=lambda: histograms.__setitem__(
                    when, {"after_batch": summary.batch_id, **class_histogram(jvm)}
                ),
                daemon=True,
            ).start()

    emulator = lifecycle.read_state(base)
    others = [emulator.pid] if emulator is not None else []
    if os.environ.get("BACKLOG_MODEL_SERVER_PID"):
        others.append(int(os.environ["BACKLOG_MODEL_SERVER_PID"]))
    reset_peak(os.getpid())
    before = cpu.sample(others)
    began = time.monotonic()
    handle = start(settings, available_now=True, on_batch=collect)
    handle_box.append(handle)
    handle.query.awaitTermination()
    handle.pipeline.drain()  # the sink runs a batch behind Spark
    ended = time.monotonic()
    after = cpu.sample(others)
    progress = [json.loads(p.json) for p in handle.query.recentProgress]
    spark_ms = {p["batchId"]: p.get("durationMs", {}) for p in progress}
    for sample in samples:  # Spark's own seconds for the batch beside the sink's
        durations = spark_ms.get(sample["batch"], {})
        sample["spark_s"] = round(durations.get("triggerExecution", 0) / 1000, 3)
        sample["latest_offset_s"] = round(durations.get("latestOffset", 0) / 1000, 3)
    jvm = jvm_pid()
    jvm_peak = proc_mb(jvm, "VmHWM")
    note_peaks(jvm)
    handle.stop()
    rows = sum(s.rows for _, s in batches)
    trigger_ms = [p.get("durationMs", {}).get("triggerExecution", 0) for p in progress]
    phases = {k: sum(p.get("durationMs", {}).get(k, 0) for p in progress) for k in PHASES}
    sink_s = sum(s.batch_seconds for _, s in batches)
    with_rows = [s.rows for _, s in batches if s.rows]
    heap = heap_after_gc(gc_logs, jvm)
    quarter = max(1, len(heap) // 4)
    return {
        "events": events,
        "processed": rows,
        "late_events": sum(s.late_events for _, s in batches),
        "batches": len(batches),
        "watermark": settings.watermark,
        "rows_per_batch": {
            "min": int(min(with_rows)) if with_rows else 0,
            "p50": int(np.median(with_rows)) if with_rows else 0,
            "max": int(max(with_rows)) if with_rows else 0,
        },
        "wall_s": round(ended - began, 1),
        "batch_time_s": round(sum(trigger_ms) / 1000, 2),
        "phases_s": {k: round(v / 1000, 2) for k, v in phases.items()},
        "sink_time_s": round(sink_s, 2),
        "sink_steps_s": {step: round(seconds, 2) for step, seconds in stages.items()},
        "catch_up_events_per_s": round(rows / max(ended - began, 1e-9)),
        "driver_peak_rss_mb": proc_mb(os.getpid(), "VmHWM"),
        "jvm_peak_rss_mb": jvm_peak,
        **python_peaks,
        "jvm_heap_after_gc_mb": {
            "max": max(heap, default=0),
            "max_first_quarter": max(heap[:quarter], default=0),
            "max_last_quarter": max(heap[-quarter:], default=0),
            "collections": len(heap),
        },
        "jvm_live_heap": histograms,
        "per_batch": samples,
        "cpu_us_per_tx": split_runner(
            cpu.per_transaction(before, after, rows), runner_cpu[0] if runner_cpu else None, rows
        ),
    }


def split_runner(
    per_tx: dict[str, float], runner_cpu: tuple[int, float] | None, rows: int
) -> dict[str, float]:
    """``per_tx`` with the source's runner apart from the JVM: the runner exits with the query,
    and the JVM, its parent, then counts its CPU as its own children's; the runner's CPU as of
    the last batch is moved back to it (what it spent after that batch stays with the JVM)."""
    if runner_cpu is None or cpu.own(runner_cpu[0]) is not None:
        return per_tx  # never seen, or still running: counted in its own role
    moved = round(runner_cpu[1] / max(rows, 1) * 1e6, 1)
    return per_tx | {
        "jvm": round(per_tx["jvm"] - moved, 1),
        "source_runner": round(per_tx["source_runner"] + moved, 1),
    }


def child(events: int, out: Path) -> int:
    """One backlog size, in this (fresh) process: fill, process, write the results to ``out``."""
    base = load_settings()
    workdir = Path(tempfile.mkdtemp(prefix="bench-backlog-run-"))
    settings = fresh(
        base,
        workdir,
        watermark=watermark_for(FILL_RATE, CARDS, wall_seconds=SKEW_S),
        starting_position="TRIM_HORIZON",
    )
    fill(settings, events)
    run = run_backlog(base, settings, events, Path(os.environ["BACKLOG_GC_LOGS"]))
    out.write_text(json.dumps(run))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="150000,1500000", help="backlog sizes, comma-separated")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)  # one size, in a child
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        return child(args.child, args.out)
    workdir = Path(tempfile.mkdtemp(prefix="bench-backlog-"))
    runs = []
    with bench_stack(workdir) as stack:
        model = train(stack, workdir)
        base = stack.model_copy(update={"model_dir": model})
        server = ModelServer(base).start()
        try:
            base = base.model_copy(update={"model_endpoint_url": server.url})
            for events in (int(e) for e in args.events.split(",")):
                out = workdir / f"run-{events}.json"
                gc_logs = workdir / f"gc-{events}"
                gc_logs.mkdir()
                env = environment(base) | {
                    "BACKLOG_GC_LOGS": str(gc_logs),
                    # the driver's JVM logs its collections (the heap after each, in MiB)
                    "JDK_JAVA_OPTIONS": f"-Xlog:gc:file={gc_logs}/gc-%p.log",
                    # the model server shares the two cores: its CPU is counted too
                    "BACKLOG_MODEL_SERVER_PID": str(server.pid),
                }
                command = [sys.executable, "-m", "benchmarks.backlog", "--child", str(events)]
                subprocess.run([*command, "--out", str(out)], env=env, check=True)
                run = json.loads(out.read_text())
                runs.append(run)
                print({k: v for k, v in run.items() if k != "per_batch"}, flush=True)
                print(f"wrote {write('backlog', {'runs': runs})}")  # each size as it ends
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
