"""Each micro-batch's progress report, read by polling the query rather than by a listener.

A Python ``StreamingQueryListener`` costs the JVM ~130 ms of CPU per batch: PySpark converts
every progress event field by field over Py4J (dozens of reflective calls, some looking up
classes across every jar), on Spark's listener thread. That was a fifth of the JVM's CPU at
1,000 transactions/s. ``query.lastProgress`` reads the same report as one JSON string; a
thread polls it a few times a second and hands each new report on exactly once, in batch
order, fetching ``recentProgress`` only when it missed batches between two polls.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

log = logging.getLogger(__name__)

Report = Mapping[str, Any]


def as_report(progress: Any) -> Report | None:
    """The JSON dict of a ``StreamingQueryProgress`` (as ``query.lastProgress`` gives it)."""
    if progress is None:
        return None
    if isinstance(progress, Mapping) and not hasattr(progress, "json"):
        return progress
    return dict(json.loads(progress.json))


def _key(report: Report) -> tuple[int, str]:
    return int(report.get("batchId", -1)), str(report.get("timestamp", ""))


class ProgressFeed:
    """Hands each progress report of a query to ``handle`` once, oldest first.

    Spark also reports idle intervals (no new batch, the same ``batchId``, a new
    ``timestamp``); those count as reports too, so their figures (sources' lag) are seen."""

    def __init__(self, handle: Callable[[Report], None]) -> None:
        self._handle = handle
        self._seen: tuple[int, str] | None = None

    def _newer(self, report: Report) -> bool:
        return self._seen is None or _key(report) > self._seen

    def offer(self, latest: Report | None, recent: Callable[[], Iterable[Report]]) -> int:
        """Pass on ``latest`` if it is new, and any reports between the previous one and it
        (from ``recent``, called only then, and at the first report: this run's earlier
        batches). Returns how many were handed on."""
        if latest is None or _key(latest) == self._seen:
            return 0
        reports = [latest]
        if self._seen is None or _key(latest)[0] > self._seen[0] + 1:
            newest = _key(latest)
            reports = [r for r in recent() if self._newer(r) and _key(r) < newest] + [latest]
        for report in sorted(reports, key=_key):
            self._seen = _key(report)
            try:
                self._handle(report)
            except Exception:  # a metrics failure must never stop the query
                log.exception("handling progress of batch %s failed", report.get("batchId"))
        return len(reports)


class ProgressPoller:
    """A daemon thread polling ``query.lastProgress`` every ``interval`` seconds until
    :meth:`stop` (which polls once more, so the last batch's report is not lost)."""

    def __init__(self, query: Any, handle: Callable[[Report], None], interval: float = 0.25):
        self._query = query
        self._feed = ProgressFeed(handle)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress-poller", daemon=True)

    def start(self) -> ProgressPoller:
        self._thread.start()
        return self

    def poll(self) -> int:
        try:
            latest = as_report(self._query.lastProgress)
        except Exception:  # the query is stopping; its gateway may be gone
            log.debug("lastProgress unavailable", exc_info=True)
            return 0
        return self._feed.offer(latest, self._recent)

    def _recent(self) -> list[Report]:
        return [r for r in map(as_report, self._query.recentProgress) if r is not None]

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.poll()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.poll()
