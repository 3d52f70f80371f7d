"""``foreachBatch`` that returns before the sink is done: the sink runs one batch behind Spark.

Spark runs a query's steps one after another: plan batch N + 1 (read the streams' offsets),
scan it, call ``foreachBatch``, commit. With the sink inside ``foreachBatch`` the two cores
took turns: the sink's Python on one while Spark waited, then Spark's scan while the sink
waited. Here ``foreachBatch`` collects batch N to Arrow, waits for the sink to finish batch
N - 1, hands N to the sink's thread and returns, so Spark commits N and plans and scans N + 1
while N is scored and written (ADR 0017).

Nothing is lost that way: a batch whose commit Spark wrote before the sink finished it is
rewound at the next start (:mod:`processor.rewind`), and a failure of the sink's thread is
raised by the next ``foreachBatch`` (Spark then fails the query without committing that next
batch) or by :meth:`PipelinedSink.drain`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from processor.event_source import unpack

log = logging.getLogger(__name__)


class PipelinedSink:
    """Callable as ``writeStream.foreachBatch(...)``; ``process(table, batch_id)`` is the
    batch sink's (:meth:`processor.batch_sink.BatchSink.process`)."""

    def __init__(self, process: Callable[[pa.Table, int], Any]) -> None:
        self.process = process
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-sink")
        self._pending: Future[Any] | None = None

    def __call__(self, frame: Any, batch_id: int) -> None:
        table = unpack(frame.toArrow())  # Spark's scan of N, while the sink writes N - 1
        self.drain()
        self._pending = self._thread.submit(self.process, table, batch_id)
        self._pending.add_done_callback(lambda done: _log_failure(done, batch_id))

    def drain(self) -> None:
        """Wait for the batch the sink is writing; raise what it raised."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Finish the batch in hand and stop the thread (raises what the sink raised)."""
        try:
            self.drain()
        finally:
            self._thread.shutdown(wait=True)


def _log_failure(done: Future[Any], batch_id: int) -> None:
    error = done.exception()
    if error is not None:  # raised again at the next batch or drain; said now
        log.error("the sink failed on batch %d: %s", batch_id, error)
