"""The backlog benchmark's readings of the JVM: its GC log and a class histogram."""

from __future__ import annotations

from pathlib import Path

from benchmarks.backlog import heap_after_gc, parse_histogram

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
