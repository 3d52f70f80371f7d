"""The soak's pure parts: windows and targets from recorded batches and samples, the /proc
probes against real processes, and folder sizes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import procstat
from benchmarks.soak import folder_size
from benchmarks.soak_report import MIB, BatchRecord, Sample, targets, windows


def batch(
    at: float, latency_s: float, engine: int = 100 * MIB, rows: int = 10, files: int = 0
) -> BatchRecord:
    return BatchRecord(at, rows, np.full(rows, latency_s), engine, files, files * MIB)


def sample(at: float, **values: float) -> Sample:
    return Sample(at, dict(values))


def test_windows_cut_batches_and_samples_by_time() -> None:
    batches = [batch(10, 1.0, files=4), batch(50, 3.0, files=2), batch(70, 2.0, files=3)]
    samples = [
        sample(30, driver_rss=400 * MIB, driver_cpu=5.0, emulator_cpu=1.0),
        sample(59, driver_rss=420 * MIB, driver_cpu=7.5, emulator_cpu=2.0),
        sample(90, driver_rss=410 * MIB, driver_cpu=9.0, emulator_cpu=6.0),
        sample(100, driver_rss=410 * MIB),
    ]
    first, second = windows(batches, samples, window_s=60, end_s=120)
    assert (first["minute"], first["rows"], first["batches"]) == (0.0, 20, 2)
    assert first["e2e_p50_ms"] == 2000 and first["driver_rss_mib"] == 420.0
    assert first["driver_rss_max_mib"] == 420.0 and first["engine_mib"] == 100.0
    assert (first["lake_files"], first["lake_files_written"], first["lake_mib"]) == (6, 6, 6.0)
    assert (second["minute"], second["rows"], second["e2e_p99_ms"]) == (1.0, 10, 2000)
    assert (second["lake_files"], second["lake_files_written"], second["lake_mib"]) == (9, 3, 9.0)
    assert second["jvm_rss_mib"] is None  # never sampled
    # CPU counters are cumulative: each window also says what it used
    assert (first["driver_cpu_s"], first["driver_cpu_in_window_s"]) == (7.5, 7.5)
    assert (second["driver_cpu_in_window_s"], second["emulator_cpu_in_window_s"]) == (1.5, 4.0)


def test_targets_pass_when_flat_and_fail_when_growing() -> None:
    steady = [batch(t, 1.0 + (t > 500) * 0.1) for t in range(0, 1000, 10)]
    flat = [sample(t, driver_rss=500 * MIB, sink_state_bytes=9 * MIB) for t in range(0, 1000, 10)]
    verdict = targets(steady, flat, steady_s=200, warmup_s=100, stretch_s=200, end_s=1000)
    assert verdict["all_pass"] is True
    assert verdict["p99_last_over_first"]["ratio"] == 1.1

    growing = [
        sample(t, driver_rss=(500 + t) * MIB, sink_state_bytes=9 * MIB) for t in range(0, 1000, 10)
    ]
    slower = [batch(t, 1.0 + t / 500, engine=(100 + t) * MIB) for t in range(0, 1000, 10)]
    verdict = targets(slower, growing, steady_s=200, warmup_s=100, stretch_s=200, end_s=1000)
    assert verdict["driver_rss"]["pass"] is False and verdict["driver_rss"]["change"] > 0.1
    assert verdict["engine_bytes"]["pass"] is False
    assert verdict["p99_last_over_first"]["pass"] is False
    assert verdict["all_pass"] is False


def test_a_sawtooth_state_passes_on_its_peaks_and_growing_teeth_fail() -> None:
    """The state folder grows by a log per batch and drops at each snapshot: where one sample
    lands in a tooth says nothing; the peaks of the two stretches do."""
    steady = [batch(t, 1.0) for t in range(0, 1000, 10)]

    def tooth(t: int, height: float) -> float:
        return (20 + height * (t % 200) / 200) * MIB  # 20 MiB after a snapshot, then growing

    teeth = [
        sample(t, driver_rss=500 * MIB, sink_state_bytes=tooth(t, 20)) for t in range(0, 1000, 10)
    ]
    # one sample at the steady start (20 MiB, a snapshot just taken) and one at the end (39
    # MiB) would read +95 %; the peaks are equal
    verdict = targets(steady, teeth, steady_s=200, warmup_s=100, stretch_s=200, end_s=1000)
    assert verdict["sink_state_bytes"] == {
        "from": 39.0 * MIB,
        "to": 39.0 * MIB,
        "change": 0.0,
        "pass": True,
    }
    taller = [
        sample(t, driver_rss=500 * MIB, sink_state_bytes=tooth(t, 20 + t / 20))
        for t in range(0, 1000, 10)
    ]
    verdict = targets(steady, taller, steady_s=200, warmup_s=100, stretch_s=200, end_s=1000)
    assert verdict["sink_state_bytes"]["pass"] is False


def test_targets_say_unknown_without_data() -> None:
    verdict = targets([], [], steady_s=10, warmup_s=0, stretch_s=10, end_s=20)
    assert verdict["all_pass"] is None and verdict["driver_rss"]["pass"] is None


def test_proc_probes_see_this_process_and_its_children() -> None:
    me = os.getpid()
    assert (procstat.rss_bytes(me) or 0) > 10 * MIB
    assert (procstat.cpu_seconds(me) or 0) > 0
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in procstat.children(me)
        assert child.pid in procstat.descendants(me)
        assert "time.sleep" in procstat.command_line(child.pid)
        # rooted at the child: this test process may have a JVM of its own (a Spark test's
        # session earlier in the run)
        tree = procstat.process_tree(child.pid)
        assert tree.jvm == [] and tree.workers == [] and tree.all == [child.pid]
    finally:
        child.kill()
        child.wait()
    assert procstat.rss_bytes(child.pid) is None and procstat.cpu_seconds(child.pid) is None
    assert procstat.total([None, 2, 3.5]) == 5.5 and procstat.total([None]) is None


def test_folder_size_counts_files_recursively(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_bytes(b"12345")
    (tmp_path / "y").write_bytes(b"123")
    assert folder_size(tmp_path) == (8, 2)
    assert folder_size(tmp_path / "absent") == (0, 0)


def test_latencies_logged_to_a_file_come_back_to_their_batches() -> None:
    from benchmarks.soak import with_latencies

    none = np.empty(0)
    placeholders = [BatchRecord(1.0, 2, none, 10), BatchRecord(2.0, 0, none, 11)]
    placeholders.append(BatchRecord(3.0, 3, none, 12))
    counts = [2, 0, 3]
    logged = np.array([0.5, 0.6, 1.0, 1.5, 2.0], dtype=np.float32)
    rebuilt = with_latencies(placeholders, counts, logged)
    assert [b.latencies.tolist() for b in rebuilt] == [
        [0.5, 0.6000000238418579],
        [],
        [1.0, 1.5, 2.0],
    ]
    assert [(b.at, b.rows, b.engine_bytes) for b in rebuilt] == [
        (1.0, 2, 10),
        (2.0, 0, 11),
        (3.0, 3, 12),
    ]
    with pytest.raises(ValueError, match="4 latencies logged for 5"):
        with_latencies(placeholders, counts, logged[:4])


def test_batch_log_forgets_start_up_batches_with_their_latencies(tmp_path: Path) -> None:
    from benchmarks.soak import NO_LATENCIES, BatchLog

    log = BatchLog(tmp_path / "latencies.f32")
    log.add(BatchRecord(0.1, 0, NO_LATENCIES, 1), np.empty(0))  # start-up's empty batch
    log.add(BatchRecord(0.2, 2, NO_LATENCIES, 1), np.array([9.0, 9.0]))
    log.clear()
    log.add(BatchRecord(1.0, 2, NO_LATENCIES, 5), np.array([0.25, 0.5]))
    log.add(BatchRecord(2.0, 1, NO_LATENCIES, 6), np.array([0.75]))
    assert log.rows() == 3
    rebuilt = log.close()
    assert [b.latencies.tolist() for b in rebuilt] == [[0.25, 0.5], [0.75]]
    assert [(b.at, b.engine_bytes) for b in rebuilt] == [(1.0, 5), (2.0, 6)]
    assert not (tmp_path / "latencies.f32").exists()
