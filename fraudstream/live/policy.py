"""The decision policy on the live view: the rules file measured on the lake's labelled rows.

:class:`PolicyWatch` re-measures every ``interval`` seconds (``fraudstream rules test``'s code,
:func:`fraudstream.rules.scorecard.measure`, over the last ``lookback_hours`` of event time) on
its own thread, since a lake read takes seconds, and keeps the newest answer for the dashboard:
the policy's precision/recall point, the model alone's, the model's precision-recall curve,
the blocks against their promise and each rule's precision, so a regression shows at a glance.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fraudstream.errors import FraudstreamError
from fraudstream.settings import Settings

log = logging.getLogger(__name__)

Measure = Callable[[], dict[str, Any]]


def lake_measure(settings: Settings, lookback_hours: float) -> Measure:
    """Measure the processor's rules (``FRAUDSTREAM_RULES_PATH``) on the lake's last
    ``lookback_hours`` of transactions, with the thresholds of ``FRAUDSTREAM_MODEL_DIR``."""

    def measure() -> dict[str, Any]:
        from fraudstream.rules import scorecard
        from fraudstream.rules.lake_source import read_lake
        from ml_model.errors import ArtifactError
        from processor.decisions import load_rules

        config = load_rules(settings.rules_path)
        try:
            model = scorecard.model_thresholds(settings.model_dir)
        except ArtifactError:
            model = None
        since = datetime.now(UTC) - timedelta(hours=lookback_hours)
        rows = read_lake(settings, since, None)
        card = scorecard.measure(
            rows, config, rules_file=str(settings.rules_path or "(default)"), model=model
        )
        return card.to_json()

    return measure


class PolicyWatch:
    """The newest policy measurement, refreshed on a background thread."""

    def __init__(
        self,
        measure: Measure,
        *,
        interval: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._measure = measure
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._result: dict[str, Any] | None = None
        self._error: str | None = "not measured yet"
        self._updated_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> None:
        """Measure once; a failure keeps the last answer and says why."""
        try:
            result = self._measure()
        except (FraudstreamError, OSError, ValueError) as error:
            with self._lock:
                self._error = str(error)
            return
        with self._lock:
            self._result, self._error, self._updated_at = result, None, self._clock()

    def snapshot(self) -> dict[str, Any]:
        """The JSON the dashboard's ``/api/policy`` serves."""
        with self._lock:
            return {
                "available": self._result is not None,
                "updated_at": self._updated_at,
                "error": self._error,
                "policy": self._result,
            }

    def start(self) -> PolicyWatch:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="policy-watch", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception:  # the dashboard must outlive one bad round; logged with its trace
                log.exception("policy view: a measurement failed")
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
