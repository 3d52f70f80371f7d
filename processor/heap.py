"""The driver's Python heap: keep the garbage collector's full collections short.

The batch sink runs in the driver's Python process, and every full (generation 2) collection
stops it: CPython then walks every object it tracks. After start-up that is ~220,000 objects
that live for the whole job (pyspark, py4j, pandas, pyarrow, XGBoost, botocore's service
models), so at 1,000 transactions a second a full collection came every ~5 s and paused the
batch in flight for 150-300 ms (docs/benchmarks.md). :class:`FreezeAfterStartUp` moves those
objects to the collector's permanent generation (:func:`gc.freeze`) once the first batch with
rows has run, when the lazily imported parts (Parquet, scoring, the AWS clients) are loaded;
later collections walk only what the job makes after that. :class:`CollectionPauses` measures
the pauses (the pipeline benchmark reports them).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

from processor.metrics import BatchSummary

log = logging.getLogger(__name__)


class FreezeAfterStartUp:
    """A batch callback that freezes the heap after the first batch with rows, then calls
    ``then`` (if given) with every batch's summary.

    Freezing is safe here: frozen objects are only skipped by the collector, not kept alive;
    one that becomes garbage is still freed by reference counting, and only a reference cycle
    made before the freeze and dropped after it stays in memory.
    """

    def __init__(self, then: Callable[[BatchSummary], None] | None = None) -> None:
        self.then = then
        self.frozen = False

    def __call__(self, summary: BatchSummary) -> None:
        if not self.frozen and summary.rows:
            gc.collect()  # what start-up left as garbage goes first, not into the freeze
            gc.freeze()
            self.frozen = True
            log.info("driver heap: %d start-up objects frozen", gc.get_freeze_count())
        if self.then is not None:
            self.then(summary)


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
