"""The live view's I/O loop: scrape the processor's ``/metrics``, read the newest alerts.

:class:`Collector` owns a :class:`~fraudstream.live.metrics.LiveMetrics` and an
:class:`~fraudstream.live.alerts.AlertReader`. :meth:`Collector.poll` does one round (scrape
every call, alerts every ``alerts_interval`` seconds); :meth:`Collector.start` runs rounds on a
background thread every ``interval`` seconds until :meth:`Collector.stop`. Readers (the terminal
view, the web server, the demo's report) call :meth:`snapshot`, which is thread-safe.

A processor that is not up yet, or restarting, is a normal state here: the snapshot says so
(``metrics_up`` false and the error) and keeps the last figures.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fraudstream.errors import FraudstreamError
from fraudstream.live.alerts import Alert, AlertReader, AlertsUnavailableError
from fraudstream.live.metrics import HistoryPoint, LiveMetrics, ScrapeError, Summary, parse
from fraudstream.settings import Settings

log = logging.getLogger(__name__)

MAX_SCRAPE_BYTES = 8 * 1024 * 1024


def metrics_url_from(settings: Settings) -> str:
    """Where the processor's endpoint is reachable from this machine, from its settings."""
    if settings.metrics_port == 0:
        raise FraudstreamError(
            "the processor's metrics endpoint is off (FRAUDSTREAM_METRICS_PORT=0); "
            "pass --metrics-url"
        )
    host = settings.metrics_host
    if host in ("0.0.0.0", ""):  # noqa: S104 - a bind-all address is reached on loopback
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.metrics_port}/metrics"


def scrape_text(url: str, timeout: float = 2.0) -> str:
    """GET a Prometheus endpoint; raise :class:`ScrapeError` on any failure."""
    if not url.startswith(("http://", "https://")):
        raise ScrapeError(f"metrics URL must be http(s): {url}")
    request = urllib.request.Request(url, headers={"Accept": "text/plain"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body: bytes = response.read(MAX_SCRAPE_BYTES + 1)
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise ScrapeError(f"processor metrics at {url} unreachable: {reason}") from error
    if len(body) > MAX_SCRAPE_BYTES:
        raise ScrapeError(f"processor metrics at {url} larger than {MAX_SCRAPE_BYTES} bytes")
    return body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Snapshot:
    """Everything the views show, taken at one moment."""

    summary: Summary
    alerts: tuple[Alert, ...]
    history: tuple[HistoryPoint, ...]
    metrics_url: str
    metrics_up: bool = False
    metrics_error: str | None = None
    alerts_updated_at: float | None = None
    alerts_error: str | None = None

    def summary_json(self) -> dict[str, Any]:
        return {
            **self.summary.to_json(),
            "metrics_url": self.metrics_url,
            "metrics_up": self.metrics_up,
            "metrics_error": self.metrics_error,
        }

    def alerts_json(self) -> dict[str, Any]:
        return {
            "alerts": [a.to_json() for a in self.alerts],
            "updated_at": self.alerts_updated_at,
            "error": self.alerts_error,
        }

    def history_json(self) -> dict[str, Any]:
        return {
            "window_seconds": self.summary.window_seconds,
            "points": [
                {
                    "time": p.time,
                    "rows_per_second": p.rows_per_second,
                    "latency_p50": p.latency_p50,
                    "latency_p99": p.latency_p99,
                }
                for p in self.history
            ],
        }


class Collector:
    """Periodic scrape of the processor's metrics and read of the newest alerts.

    ``alerts``: an :class:`AlertReader`, or None to show no alerts (``from_settings`` makes
    one). ``clock`` (monotonic) and ``wall`` (epoch) are replaceable for tests.
    """

    def __init__(
        self,
        metrics_url: str,
        alerts: AlertReader | None = None,
        *,
        interval: float = 1.0,
        alerts_interval: float = 2.0,
        alerts_limit: int = 20,
        window: float = 10.0,
        history_seconds: float = 600.0,
        scrape: Callable[[str], str] = scrape_text,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if interval <= 0 or alerts_interval <= 0:
            raise ValueError("interval and alerts_interval must be positive")
        if alerts_limit < 1:
            raise ValueError("alerts_limit must be at least 1")
        self.metrics_url = metrics_url
        self.interval = interval
        self.alerts_interval = alerts_interval
        self.alerts_limit = alerts_limit
        self._reader = alerts
        self._scrape = scrape
        self._clock = clock
        self._wall = wall
        self._metrics = LiveMetrics(window=window, history_seconds=history_seconds)
        self._lock = threading.Lock()
        self._alerts: tuple[Alert, ...] = ()
        self._alerts_at: float | None = None  # monotonic, for the schedule
        self._alerts_wall: float | None = None
        self._alerts_error: str | None = None
        self._up = False
        self._error: str | None = "not scraped yet"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, metrics_url: str | None = None, **options: Any
    ) -> Collector:
        """A collector of the processor and alerts table these settings describe."""
        return cls(metrics_url or metrics_url_from(settings), AlertReader(settings), **options)

    # --- one round -----------------------------------------------------------------------
    def poll(self) -> Snapshot:
        """Scrape once (and read the alerts when due); return the new snapshot."""
        self.poll_metrics()
        if self._reader is not None and (
            self._alerts_at is None or self._clock() - self._alerts_at >= self.alerts_interval
        ):
            self.poll_alerts()
        return self.snapshot()

    def poll_metrics(self) -> None:
        try:
            text = self._scrape(self.metrics_url)
            scrape = parse(text)
        except ScrapeError as error:
            with self._lock:
                self._up, self._error = False, str(error)
            return
        at, wall = self._clock(), self._wall()
        with self._lock:
            self._metrics.observe(scrape, at, wall)
            self._up, self._error = True, None

    def poll_alerts(self) -> None:
        if self._reader is None:
            return
        at = self._clock()
        try:
            alerts = self._reader.latest(self.alerts_limit)
        except AlertsUnavailableError as error:
            with self._lock:
                self._alerts_at, self._alerts_error = at, str(error)
            return
        with self._lock:
            self._alerts = tuple(alerts)
            self._alerts_at, self._alerts_wall, self._alerts_error = at, self._wall(), None

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                summary=self._metrics.summary(),
                alerts=self._alerts,
                history=tuple(self._metrics.history()),
                metrics_url=self.metrics_url,
                metrics_up=self._up,
                metrics_error=self._error,
                alerts_updated_at=self._alerts_wall,
                alerts_error=self._alerts_error,
            )

    # --- background thread ---------------------------------------------------------------
    def start(self) -> Collector:
        """Poll every ``interval`` seconds on a daemon thread (the first round right away)."""
        if self._thread is not None:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="live-collector", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            started = self._clock()
            try:
                self.poll()
            except Exception:  # a view must outlive one bad round; logged with its traceback
                log.exception("live view: a collection round failed")
            self._stop.wait(max(0.0, self.interval - (self._clock() - started)))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> Collector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
