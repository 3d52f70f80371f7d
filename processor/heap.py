"""The driver's Python heap: keep the garbage collector's full collections short.

The batch sink runs in the driver's Python process, and every full (generation 2) collection
stops it: CPython then walks every object it tracks. After start-up that is ~220,000 objects
that live for the whole job (pyspark, py4j, pandas, pyarrow, XGBoost, botocore's service
models), so at 1,000 transactions a second a full collection came every ~5 s and paused the
batch in flight for 150-300 ms (docs/benchmarks.md). :class:`FreezeAfterStartUp` moves those
objects to the collector's permanent generation (:func:`gc.freeze`) once the first batch with
rows has run, when the lazily imported parts (Parquet, scoring, the AWS clients) are loaded;
later collections walk only what the job makes after that. The pipeline benchmark measures
the pauses (``benchmarks/gc_pauses.py``).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

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
