"""The soak's figures per time window and its verdicts, from what the run recorded (pure logic).

A run records :class:`BatchRecord` (each committed micro-batch: when, rows, per-transaction
end-to-end latencies, the feature engine's bytes, the lake files it added) and :class:`Sample`
(every few seconds: memory and CPU time of the driver, the JVM and the Python workers, the
state folders, the load average). :func:`windows` cuts them into fixed windows from the start
of traffic; :func:`targets` checks the issue's targets: driver RSS and state size within ±10 %
between the stretch from steady state and the last stretch (their peaks: the state folder is a
sawtooth of snapshots and logs, and one sample of it says where in a tooth it was), and the
p99 latency of the last stretch within 1.2x that of the first stretch after warm-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MIB = 2**20


@dataclass(frozen=True)
class BatchRecord:
    at: float  # seconds since traffic started, when the batch's sinks committed
    rows: int
    latencies: np.ndarray  # seconds, one per transaction
    engine_bytes: int
    lake_files: int = 0  # data files the batch committed to the lake
    lake_bytes: int = 0


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since traffic started
    values: dict[str, float | None]  # driver_rss, jvm_rss, ..., load_1m


def _percentile(values: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(values, q)) * 1000) if values.size else None


def _last(samples: list[Sample], key: str) -> float | None:
    known = [s.values.get(key) for s in samples if s.values.get(key) is not None]
    return known[-1] if known else None


def _max(samples: list[Sample], key: str) -> float | None:
    known = [v for s in samples if (v := s.values.get(key)) is not None]
    return max(known) if known else None


def _latencies(batches: list[BatchRecord]) -> np.ndarray:
    return np.concatenate([np.empty(0), *(b.latencies for b in batches)])


def windows(
    batches: list[BatchRecord], samples: list[Sample], *, window_s: float, end_s: float
) -> list[dict[str, Any]]:
    """One dict per window of ``window_s`` seconds from 0 to ``end_s``: rows, latency
    percentiles, and the last (or highest) sampled value of each resource in the window."""
    out = []
    previous: list[Sample] = []
    for index in range(max(1, int(np.ceil(end_s / window_s - 1e-9)))):
        lo, hi = index * window_s, (index + 1) * window_s
        mine = [b for b in batches if lo <= b.at < hi]
        seen = [s for s in samples if lo <= s.at < hi]
        latencies = _latencies(mine)
        so_far = [b for b in batches if b.at < hi]
        out.append(
            {
                "minute": round(lo / 60, 2),
                "rows": int(sum(b.rows for b in mine)),
                "batches": len(mine),
                "e2e_p50_ms": _percentile(latencies, 50),
                "e2e_p99_ms": _percentile(latencies, 99),
                "driver_rss_mib": _mib(_last(seen, "driver_rss")),
                "driver_rss_max_mib": _mib(_max(seen, "driver_rss")),
                "jvm_rss_mib": _mib(_last(seen, "jvm_rss")),
                "workers_rss_mib": _mib(_last(seen, "workers_rss")),
                "emulator_rss_mib": _mib(_last(seen, "emulator_rss")),
                "driver_cpu_s": _round(_last(seen, "driver_cpu")),
                "jvm_cpu_s": _round(_last(seen, "jvm_cpu")),
                "emulator_cpu_s": _round(_last(seen, "emulator_cpu")),
                "driver_cpu_in_window_s": _spent(seen, previous, "driver_cpu"),
                "jvm_cpu_in_window_s": _spent(seen, previous, "jvm_cpu"),
                "emulator_cpu_in_window_s": _spent(seen, previous, "emulator_cpu"),
                "engine_mib": _mib(mine[-1].engine_bytes if mine else None),
                "sink_state_mib": _mib(_last(seen, "sink_state_bytes")),
                "sink_state_files": _int(_last(seen, "sink_state_files")),
                "spark_checkpoint_mib": _mib(_last(seen, "checkpoint_bytes")),
                "spark_checkpoint_files": _int(_last(seen, "checkpoint_files")),
                "lake_files": sum(b.lake_files for b in so_far),
                "lake_files_written": sum(b.lake_files for b in mine),
                "lake_mib": _mib(sum(b.lake_bytes for b in so_far)),
                "load_1m": _round(_max(seen, "load_1m")),
            }
        )
        if seen:
            previous = seen
    return out


def _spent(seen: list[Sample], previous: list[Sample], key: str) -> float | None:
    """CPU seconds used in a window: the counters are cumulative since the process started."""
    now = _last(seen, key)
    return None if now is None else _round(now - (_last(previous, key) or 0.0))


def _mib(value: float | None) -> float | None:
    return None if value is None else round(value / MIB, 1)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _within(first: float | None, last: float | None, tolerance: float) -> dict[str, Any]:
    if first is None or last is None or first == 0:
        return {"from": first, "to": last, "change": None, "pass": None}
    change = last / first - 1
    return {"from": first, "to": last, "change": round(change, 3), "pass": abs(change) <= tolerance}


def targets(
    batches: list[BatchRecord],
    samples: list[Sample],
    *,
    steady_s: float,
    warmup_s: float,
    stretch_s: float,
    end_s: float,
) -> dict[str, Any]:
    """The issue's targets: the peak memory and state of the ``stretch_s`` from ``steady_s`` and
    of the last ``stretch_s`` within ±10 %, and the p99 of the last ``stretch_s`` within 1.2x
    that of the ``stretch_s`` after ``warmup_s``."""
    at_steady = [s for s in samples if steady_s <= s.at < steady_s + stretch_s]
    at_end = [s for s in samples if end_s - stretch_s <= s.at]
    steady_batch = next((b for b in batches if b.at >= steady_s), None)
    first = _latencies([b for b in batches if warmup_s <= b.at < warmup_s + stretch_s])
    last = _latencies([b for b in batches if end_s - stretch_s <= b.at < end_s])
    p99_first, p99_last = _percentile(first, 99), _percentile(last, 99)
    ratio = None if not p99_first or p99_last is None else round(p99_last / p99_first, 2)
    checks: dict[str, Any] = {
        "driver_rss": _within(
            _max(at_steady, "driver_rss"), _max(at_end, "driver_rss"), tolerance=0.10
        ),
        "sink_state_bytes": _within(
            _max(at_steady, "sink_state_bytes"), _max(at_end, "sink_state_bytes"), 0.10
        ),
        "engine_bytes": _within(
            None if steady_batch is None else steady_batch.engine_bytes,
            batches[-1].engine_bytes if batches else None,
            0.10,
        ),
        "p99_last_over_first": {
            "first_ms": p99_first,
            "last_ms": p99_last,
            "ratio": ratio,
            "pass": None if ratio is None else ratio <= 1.2,
        },
    }
    verdicts = [c["pass"] for c in checks.values()]
    checks["all_pass"] = None if None in verdicts else all(verdicts)
    return checks
