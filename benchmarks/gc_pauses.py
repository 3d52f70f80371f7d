"""The garbage collector's pauses in this process, for the pipeline benchmark.

:class:`processor.heap.FreezeAfterStartUp` keeps the driver's full collections short; this
probe shows by how much (docs/benchmarks.md), and lives with the benchmarks, not in the job.
"""

from __future__ import annotations

import gc
import time
from typing import Any


class CollectionPauses:
    """Times the garbage collector's pauses in this process while installed (:meth:`install`
    and :meth:`remove`, or as a context manager): ``pauses`` holds (generation, seconds) of
    each collection."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._started: float | None = None

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        # CPython runs one collection at a time (its "start" and "stop" callbacks in the thread
        # that triggered it, none nested), so one start time pairs every stop with its start.
        now = time.perf_counter()
        if phase == "start":
            self._started = now
        elif self._started is not None:
            self.pauses.append((int(info["generation"]), now - self._started))
            self._started = None

    def install(self) -> CollectionPauses:
        gc.callbacks.append(self._callback)
        return self

    def remove(self) -> None:
        gc.callbacks.remove(self._callback)

    def __enter__(self) -> CollectionPauses:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def summary(self, generation: int = 2) -> dict[str, float | int]:
        """Count, total and longest pause (ms) of ``generation``'s collections so far."""
        times = [seconds for gen, seconds in self.pauses if gen == generation]
        return {
            "count": len(times),
            "total_ms": round(sum(times) * 1000),
            "max_ms": round(max(times, default=0.0) * 1000),
        }
