"""Progress while producing and the summary at the end, for people at a terminal.

On a terminal the progress is one line rewritten in place; otherwise (CI, logs) a line every
few seconds.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

from producer.session import Summary


class Progress:
    def __init__(self, console: Console, label: str, every: float = 5.0) -> None:
        self.console = console
        self.label = label
        self.every = 0.5 if console.is_terminal else every
        self._last = 0.0
        self._began = time.monotonic()

    def __call__(self, summary: Summary) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        elapsed = now - self._began
        rate = summary.sent / elapsed if elapsed > 0 else 0.0
        line = (
            f"{self.label}: sent {summary.sent:,}  rate {rate:,.0f}/s  frauds {summary.frauds:,}"
            f"  labels {summary.labels_sent:,}  retried {summary.retried:,}"
        )
        if self.console.is_terminal:
            self.console.print(line, end="\r", highlight=False)
        else:
            self.console.print(line, highlight=False)


def render_summary(console: Console, summary: Summary, title: str) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_row("transactions sent", f"{summary.sent:,}")
    if summary.kinesis_records and summary.kinesis_records != summary.sent:
        table.add_row("  in Kinesis records", f"{summary.kinesis_records:,} (KPL-aggregated)")
    table.add_row("achieved rate", f"{summary.rate:,.0f}/s over {summary.elapsed:.1f} s")
    table.add_row("fraudulent (ground truth)", f"{summary.frauds:,}")
    for scenario, count in sorted(summary.fraud_by_scenario.items()):
        table.add_row(f"  {scenario}", f"{count:,}")
    table.add_row("labels sent", f"{summary.labels_sent:,}")
    table.add_row("records retried", f"{summary.retried:,}")
    table.add_row("undelivered", f"{summary.undelivered:,}")
    if summary.interrupted:
        table.add_row("stopped early", "yes (interrupted; buffers were flushed)")
    console.print(table)
