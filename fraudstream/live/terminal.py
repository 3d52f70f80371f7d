"""The live view in a terminal, with rich.

:func:`render` turns a :class:`~fraudstream.live.collector.Snapshot` into a rich renderable
(pure: no I/O, no clock). :class:`LiveView` redraws it in place with ``rich.live.Live``::

    collector = Collector.from_settings(settings).start()
    LiveView(collector).run(stop_event)  # until stop_event is set (or Ctrl-C)
    collector.stop()

A caller that already has a loop (the demo) can instead call ``view.update()`` each second
inside ``with view:``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from fraudstream.live.collector import Collector, Snapshot

DECISION_STYLES = {"approve": "green", "review": "yellow", "block": "bold red"}
SPARK = "▁▂▃▄▅▆▇█"


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}/s"


def fmt_ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def fmt_share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def fmt_clock(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


def sparkline(values: Sequence[float | None], width: int = 40) -> str:
    """Unicode block sparkline of the last ``width`` values (gaps as spaces)."""
    tail = list(values)[-width:]
    known = [v for v in tail if v is not None]
    if not known:
        return ""
    top = max(known) or 1.0
    return "".join(
        " " if v is None else SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1)))]
        for v in tail
    )


def _status(snapshot: Snapshot) -> Text:
    s = snapshot.summary
    line = Text()
    if snapshot.metrics_up:
        line.append("● processor up", style="green")
    else:
        line.append("● processor unreachable", style="red")
        if snapshot.metrics_error:
            line.append(f" ({snapshot.metrics_error})", style="dim")
    line.append(f"   {snapshot.metrics_url}", style="dim")
    if s.last_batch_id is not None:
        line.append(f"   batch #{s.last_batch_id}")
    if s.millis_behind_latest is not None:
        line.append(f"   behind tip {fmt_ms(s.millis_behind_latest / 1000)}")
    if s.backlog_records:
        eta = (
            "not gaining"
            if s.catch_up_seconds is None
            else f"caught up in ~{fmt_ms(s.catch_up_seconds)}"
        )
        line.append(f"   backlog {s.backlog_records:,}, {eta}", style="yellow")
    if s.restarts:
        line.append(f"   restarts seen {s.restarts}", style="yellow")
    line.append(f"   updated {fmt_clock(s.updated_at)} UTC", style="dim")
    return line


def _figures(snapshot: Snapshot) -> Table:
    s = snapshot.summary
    window = f"{s.window_seconds:g} s"
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column(justify="right")
    grid.add_column(style="dim")
    grid.add_column()
    grid.add_row(
        "throughput",
        Text(fmt_rate(s.rows_per_second), style="bold"),
        f"avg {window}",
        fmt_rate(s.rows_per_second_window),
    )
    grid.add_row(
        "latency p50", Text(fmt_ms(s.latency_p50), style="bold"), "p99", fmt_ms(s.latency_p99)
    )
    grid.add_row("rows", f"{s.rows_total:,}", "late events", f"{s.late_events_total:,}")
    grid.add_row(
        "quarantined",
        Text(f"{s.quarantined_total:,}", style="magenta"),
        "fallback share",
        Text.assemble(
            fmt_share(s.fallback_share), (f" (all {fmt_share(s.fallback_share_total)})", "dim")
        ),
    )
    if s.quarantined_by_reason:
        reasons = ", ".join(
            f"{r} {n:,}" for r, n in sorted(s.quarantined_by_reason.items(), key=lambda i: -i[1])
        )
        grid.add_row("by reason", "", "", Text(reasons, style="magenta"))
    _model_rows(grid, s.model)
    rates = [p.rows_per_second for p in snapshot.history]
    if rates:
        grid.add_row("rows/s", "", "", Text(sparkline(rates), style="cyan"))
    return grid


def _model_rows(grid: Table, model: dict[str, Any] | None) -> None:
    """Score PSI (or the warm-up), recall against validation and the model's warnings."""
    if not model:
        return
    psi = model.get("score_psi")
    if not model.get("warm", True):
        state, needed = model.get("state_days"), model.get("history_days")
        drift = Text(
            f"warming up {0.0 if state is None else state:.1f}"
            f"{'' if needed is None else f'/{needed:.1f}'} d",
            style="dim",
        )
    else:
        drift = Text("-" if psi is None else f"{psi:.3f}", style="bold")
    recall, promised = model.get("recall"), (model.get("validation") or {}).get("recall")
    grid.add_row(
        "score PSI",
        drift,
        "recall",
        ("-" if recall is None else f"{recall:.1%}")
        + ("" if promised is None else f" (validation {promised:.1%})"),
    )
    for warning in model.get("warnings") or []:
        if not warning.startswith("warming up"):
            grid.add_row("model", "", "", Text(warning, style="yellow"))


def _decisions(snapshot: Snapshot) -> Table:
    s = snapshot.summary
    table = Table(box=None, padding=(0, 2), show_edge=False)
    table.add_column("decision")
    table.add_column(f"last {s.window_seconds:g} s", justify="right")
    table.add_column("total", justify="right")
    for outcome, total in s.decisions_total.items():
        table.add_row(
            Text(outcome, style=DECISION_STYLES.get(outcome, "")),
            f"{s.decisions_recent.get(outcome, 0):,}",
            f"{total:,}",
        )
    return table


def _alerts(snapshot: Snapshot, limit: int, wide: bool) -> RenderableType:
    table = Table(expand=True, box=None, padding=(0, 1), header_style="bold")
    table.add_column("event time", no_wrap=True)
    table.add_column("decision", no_wrap=True)
    if wide:
        table.add_column("card", no_wrap=True)
    table.add_column("transaction", no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column("amount", justify="right", no_wrap=True)
    if wide:
        table.add_column("score", justify="right", no_wrap=True)
    table.add_column("reasons", ratio=1)
    for alert in snapshot.alerts[:limit]:
        amount = "-" if alert.amount is None else f"{alert.amount:,.2f}"
        if alert.currency and alert.amount is not None:
            amount += f" {alert.currency}"
        cells = [
            Text(alert.event_time if wide else alert.event_time[11:19]),
            Text(alert.decision, style=DECISION_STYLES.get(alert.decision, "")),
            Text(alert.card_id),
            Text(alert.transaction_id),
            Text(amount),
            Text("-" if alert.score is None else f"{alert.score:.3f}"),
            Text(", ".join(alert.reasons) or "-"),  # Text: data is never parsed as markup
        ]
        if not wide:
            del cells[5], cells[2]
        table.add_row(*cells)
    if snapshot.alerts_error:
        return Group(Text(snapshot.alerts_error, style="red"), table)
    if not snapshot.alerts:
        return Text("no review/block alerts yet", style="dim")
    return table


def render(snapshot: Snapshot, *, alerts: int = 8, width: int = 160) -> RenderableType:
    """The whole live view for one snapshot, laid out for a terminal ``width`` columns wide."""
    wide = width >= 120
    top: RenderableType
    if wide:
        grid = Table.grid(padding=(0, 4), expand=True)
        grid.add_column(ratio=3)
        grid.add_column(ratio=2)
        grid.add_row(_figures(snapshot), _decisions(snapshot))
        top = grid
    else:
        top = Group(_figures(snapshot), Text(""), _decisions(snapshot))
    return Group(
        _status(snapshot),
        Panel(top, title="Fraudstream live", title_align="left", border_style="blue"),
        Panel(_alerts(snapshot, alerts, wide), title="latest alerts", title_align="left"),
    )


class LiveView:
    """Redraws :func:`render` of the collector's snapshot in place."""

    def __init__(
        self,
        collector: Collector,
        *,
        console: Console | None = None,
        refresh_seconds: float = 1.0,
        alerts: int = 8,
        screen: bool = False,
    ) -> None:
        self.collector = collector
        self.refresh_seconds = refresh_seconds
        self.alerts = alerts
        # Redrawn on our schedule, not rich's; anything printed meanwhile goes above the view.
        self._live = Live(console=console, auto_refresh=False, screen=screen)

    def renderable(self) -> RenderableType:
        return render(self.collector.snapshot(), alerts=self.alerts, width=self._live.console.width)

    def update(self) -> None:
        """Redraw now with the collector's latest snapshot."""
        self._live.update(self.renderable(), refresh=True)

    def __enter__(self) -> LiveView:
        self._live.start()
        self.update()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.update()
        self._live.stop()

    def run(self, stop: threading.Event) -> None:
        """Redraw every ``refresh_seconds`` until ``stop`` is set; Ctrl-C ends it too."""
        with self:
            while not stop.wait(self.refresh_seconds):
                self.update()
