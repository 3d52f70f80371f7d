"""The shadow-cost summary: a pair's overhead, its stages, the median against the target."""

from __future__ import annotations

from typing import Any

from benchmarks.shadow_cost import pair, summary


def run(cpu: float, decisions: float, lake: float, rows: int = 1500) -> dict[str, Any]:
    stages = {"labels": 1.0, "features": 10.0, "decisions": decisions, "lake": lake}
    return {
        "batch_rows": rows,
        "cpu_us_per_tx": cpu,
        "stage_cpu_us_per_tx": stages,
        "machine": {"measured_at": "2026-12-04T21:00:00+00:00"},
    }


def test_a_pair_says_what_the_challenger_added_and_where() -> None:
    figures = pair(run(50.0, 9.0, 23.0), run(56.0, 11.0, 27.0))
    assert figures["overhead_us"] == 6.0 and figures["overhead"] == 0.12
    assert figures["decisions_and_lake_us"] == [32.0, 38.0]
    assert figures["other_stages_us"] == [11.0, 11.0]


def test_the_median_pair_per_batch_size_meets_the_target_or_not() -> None:
    pairs = [
        pair(run(50.0, 9, 23), run(b, 9, 23))
        for b in (52.0, 60.0, 56.0)  # +4 %, +20 %, +12 %
    ]
    pairs.append(pair(run(40.0, 9, 17, rows=5000), run(41.0, 9, 17, rows=5000)))
    out = summary(pairs)
    assert out["1500"]["median_overhead"] == 0.12 and not out["1500"]["within_10_percent"]
    assert out["1500"]["range"] == [0.04, 0.2]
    assert out["5000"]["within_10_percent"] and out["5000"]["pairs"] == 1
