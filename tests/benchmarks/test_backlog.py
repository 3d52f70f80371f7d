"""The backlog benchmark's readings of the JVM: its GC log and a class histogram."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks import cpu
from benchmarks.backlog import heap_after_gc, parse_histogram, split_runner

GC_LOG = """\
[0.012s][info][gc] Using G1
[3.401s][info][gc] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 25M->6M(516M) 9.812ms
[61.2s][info][gc] GC(7) Pause Full (System.gc()) 812M->301M(2048M) 611.203ms
[62.0s][info][gc] GC(8) Concurrent Mark Cycle 45.1ms
"""

HISTOGRAM = """\
1028:
 num     #instances         #bytes  class name (module)
-------------------------------------------------------
   1:        117982       28311552  [B (java.base@17.0.15)
   2:          8809        2936064  [I (java.base@17.0.15)
   3:        114484        2747616  java.lang.String (java.base@17.0.15)
Total        541233       58510104
"""


def test_the_heap_after_each_collection_is_read_from_the_jvm_s_own_log(tmp_path: Path) -> None:
    (tmp_path / "gc-41.log").write_text(GC_LOG)
    assert heap_after_gc(tmp_path, 41) == [6, 301]  # pauses only, not the concurrent cycle
    assert heap_after_gc(tmp_path, 42) == []  # another JVM's log is not this one's
    assert heap_after_gc(tmp_path, None) == []


def test_a_class_histogram_gives_the_live_heap_and_its_largest_classes() -> None:
    parsed = parse_histogram(HISTOGRAM, top=2)
    assert parsed["live_mb"] == 55.8
    assert parsed["top"] == [
        {"class": "[B", "instances": 117982, "mb": 27.0},
        {"class": "[I", "instances": 8809, "mb": 2.8},
    ]


def test_the_source_runner_is_its_own_role() -> None:
    command = "/x/.venv/bin/python -m pyspark.sql.streaming.python_streaming_source_runner"
    assert cpu.role_of(7, command, driver=1) == "source_runner"
    assert cpu.role_of(7, "/x/python -m pyspark.daemon pyspark.worker", 1) == "python_workers"


def test_an_exited_runners_cpu_is_moved_from_the_jvm_to_it() -> None:
    per_tx = {"jvm": 40.0, "source_runner": 0.0, "driver": 50.0}
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    gone = int(exited.stdout)
    # 3 s over 1,000,000 transactions: 3 µs each, counted by the JVM once the runner exited
    assert split_runner(per_tx, (gone, 3.0), 1_000_000) == {
        "jvm": 37.0,
        "source_runner": 3.0,
        "driver": 50.0,
    }
    alive = os.getpid()  # still running: the role already counts it, nothing moves
    assert split_runner(per_tx, (alive, 3.0), 1_000_000) == per_tx
    assert split_runner(per_tx, None, 1_000_000) == per_tx
