"""The live view of a running processor: in a terminal and as a local web dashboard.

- :mod:`fraudstream.live.metrics`: pure: Prometheus text -> throughput, latency p50/p99 over a
  moving window, decisions, quarantine, scoring path, chart history (counter resets handled);
- :mod:`fraudstream.live.alerts`: the newest review/block alerts through the alerts table's
  ``recent-by-decision`` index;
- :mod:`fraudstream.live.collector`: the I/O loop (scrape + alerts) behind a thread-safe
  :class:`~fraudstream.live.collector.Snapshot`;
- :mod:`fraudstream.live.terminal`: rich rendering and :class:`~fraudstream.live.terminal.LiveView`;
- :mod:`fraudstream.live.web`: the read-only dashboard server (JSON API + one static page).

The demo's use::

    collector = Collector.from_settings(settings).start()
    view = LiveView(collector)
    view.run(stop_event)          # or: with view: ... view.update() once a second
    collector.stop()
    collector.snapshot().history  # throughput / latency series for the report
"""

from fraudstream.live.alerts import Alert, AlertReader
from fraudstream.live.collector import Collector, Snapshot
from fraudstream.live.terminal import LiveView, render
from fraudstream.live.web import DashboardServer

__all__ = [
    "Alert",
    "AlertReader",
    "Collector",
    "DashboardServer",
    "LiveView",
    "Snapshot",
    "render",
]
