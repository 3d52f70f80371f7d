"""The terminal view: what a person reads, rendered to text with rich's recording console."""

from __future__ import annotations

import io
import re
import threading
from dataclasses import replace

import pytest
from rich.console import Console

from fraudstream.live.alerts import alert_from_item
from fraudstream.live.collector import Collector, Snapshot
from fraudstream.live.metrics import HistoryPoint, Summary
from fraudstream.live.terminal import LiveView, fmt_ms, render, sparkline
from processor.sinks.alerts import alert_items
from tests.fraudstream.live.simulated import HOSTILE_REASON, RunningProcessor, alert_rows


def text_of(snapshot: Snapshot, width: int = 160) -> str:
    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    console.print(render(snapshot, width=width))
    return console.export_text()


def running_snapshot() -> Snapshot:
    alerts = sorted(
        (alert_from_item(i) for i in alert_items(alert_rows(20), ttl_days=90)[0]),
        key=lambda a: a.alert_key,
        reverse=True,
    )
    summary = Summary(
        updated_at=1_795_300_000.0,
        window_seconds=10.0,
        rows_total=123_456,
        rows_per_second=987.4,
        rows_per_second_window=1010.0,
        latency_p50=0.412,
        latency_p99=1.87,
        latency_observations=10_000,
        decisions_total={"approve": 120_000, "review": 2_456, "block": 1_000},
        decisions_recent={"approve": 9_700, "review": 200, "block": 100},
        quarantined_total=42,
        quarantined_by_reason={"bad_json": 40, "bad_amount": 2},
        late_events_total=7,
        fallback_share=0.25,
        fallback_share_total=0.031,
        last_batch_id=321,
        millis_behind_latest=250.0,
    )
    history = tuple(HistoryPoint(1.0 * i, 100.0 * i, 0.4, 1.8) for i in range(12))
    return Snapshot(summary, tuple(alerts), history, "http://127.0.0.1:9108/metrics", True)


def test_the_view_shows_rate_latency_decisions_quarantine_fallback_and_alerts() -> None:
    screen = text_of(running_snapshot())
    assert "processor up" in screen
    assert "batch #321" in screen
    assert re.search(r"throughput +987/s +avg 10 s +1,010/s", screen)
    assert re.search(r"latency p50 +412 ms +p99 +1,870 ms", screen)
    assert re.search(r"rows +123,456", screen)
    assert re.search(r"quarantined +42", screen) and "bad_json 40, bad_amount 2" in screen
    assert re.search(r"fallback share +25.0% \(all 3.1%\)", screen)
    for outcome, total in (("approve", "120,000"), ("review", "2,456"), ("block", "1,000")):
        assert outcome in screen and total in screen
    assert "tx-000019" in screen  # the newest alert
    assert "high_model_score, model:amount" in screen
    # Reasons are data: rich markup inside them is printed, not interpreted.
    assert "[bold]not markup[/bold]" in screen
    assert "backlog" not in screen  # caught up: nothing to say


def test_a_processor_catching_up_shows_its_backlog_and_when_it_will_be_done() -> None:
    snapshot = running_snapshot()
    behind = replace(snapshot.summary, backlog_records=1_250_000, catch_up_seconds=95.0)
    screen = text_of(replace(snapshot, summary=behind))
    assert "backlog 1,250,000, caught up in ~95.0 s" in screen
    stuck = replace(snapshot.summary, backlog_records=40_000, catch_up_seconds=None)
    assert "backlog 40,000, not gaining" in text_of(replace(snapshot, summary=stuck))


def test_a_narrow_terminal_stacks_the_panels_and_drops_columns() -> None:
    screen = text_of(running_snapshot(), width=80)
    assert max(len(line) for line in screen.splitlines()) <= 80
    assert re.search(r"throughput +987/s", screen) and re.search(r"block +100 +1,000", screen)
    assert "10:19:00" in screen and "tx-000019" in screen
    assert "tok_" not in screen  # the card column is left out


def test_an_unreachable_processor_and_a_missing_alerts_table_are_said_plainly() -> None:
    snapshot = Snapshot(
        Summary(window_seconds=10.0),
        (),
        (),
        "http://127.0.0.1:1/metrics",
        metrics_up=False,
        metrics_error="connection refused",
        alerts_error="alerts table fraud-alerts or its recent-by-decision index not found",
    )
    screen = text_of(snapshot)
    assert "processor unreachable (connection refused)" in screen
    assert "recent-by-decision index not found" in screen
    quiet = Snapshot(Summary(window_seconds=10.0), (), (), "u", metrics_up=True)
    assert "no review/block alerts yet" in text_of(quiet)


def test_formatting_helpers() -> None:
    assert fmt_ms(None) == "-"
    assert fmt_ms(0.0504) == "50 ms"
    assert fmt_ms(12.34) == "12.3 s"
    assert sparkline([None, 0.0, 5.0, 10.0]) == " ▁▄█"
    assert sparkline([]) == ""


@pytest.mark.integration
def test_live_view_runs_until_stopped(processor: RunningProcessor) -> None:
    out = io.StringIO()
    console = Console(file=out, width=150, color_system=None, force_terminal=False)
    collector = Collector(processor.url, None)
    collector.poll()
    stop = threading.Event()
    stop.set()  # draws once, then returns
    LiveView(collector, console=console, refresh_seconds=0.01).run(stop)
    assert "processor up" in out.getvalue()
    assert HOSTILE_REASON not in out.getvalue()  # no alerts reader: no alerts


def test_the_view_shows_the_model_warming_up_then_its_drift_and_recall() -> None:
    snapshot = running_snapshot()
    cold = {"score_psi": 1.4, "warm": False, "state_days": 12.5, "history_days": 41.2}
    cold["warnings"] = ["warming up: card state covers 12.5 of the 41.2 days ...; held"]
    screen = text_of(replace(snapshot, summary=replace(snapshot.summary, model=cold)))
    assert re.search(r"score PSI +warming up 12.5/41.2 d", screen)
    assert "warming up:" not in screen  # the row says it; the warning would repeat it
    drifted = {
        "score_psi": 0.412,
        "warm": True,
        "recall": 0.61,
        "validation": {"recall": 0.9},
        "warnings": ["score drifted from training (PSI 0.41)", "recall 61% against 90% ..."],
    }
    screen = text_of(replace(snapshot, summary=replace(snapshot.summary, model=drifted)))
    assert re.search(r"score PSI +0.412 +recall +61.0% \(validation 90.0%\)", screen)
    assert re.search(r"model +score drifted from training \(PSI 0.41\)", screen)
    assert "score PSI" not in text_of(snapshot)  # no window closed yet: no row
