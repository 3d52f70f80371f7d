"""The dashboard in a real browser: headless Chromium loads the page served against a real
metrics endpoint and real alerts in the emulator, and the rendered DOM and a screenshot are
checked. Skips, saying why, where Chromium is not installed (CI installs Debian's package)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from fraudstream.live.collector import Collector
from fraudstream.live.web import DashboardServer
from fraudstream.settings import Settings
from tests.fraudstream.live.chromium import Chromium, find_chromium
from tests.fraudstream.live.simulated import (
    HOSTILE_REASON,
    RunningProcessor,
    alert_rows,
    record_batch,
    write_alerts,
)

pytestmark = [pytest.mark.integration]

WIDTH, HEIGHT = 1400, 1000
WALL = 1_795_300_000.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    if find_chromium() is None:
        pytest.skip(
            "Chromium is not installed: the browser test needs Debian's `chromium` package "
            "(`make browser` installs it, and CI runs that first)"
        )
    with Chromium.launch(tmp_path) as browser:
        yield browser


def live_collector(processor: RunningProcessor, settings: Settings) -> Collector:
    """A collector that has watched a minute of a processor running at ~1,000 rows/s.

    The clock is moved by hand so the figures are the same on every run; every scrape is a
    real HTTP GET of the processor's endpoint, and the alerts come from the emulator."""
    clock = Clock()
    collector = Collector.from_settings(
        settings, metrics_url=processor.url, clock=clock, wall=lambda: WALL + clock.now
    )
    collector.poll()
    for second in range(1, 61):
        rows = 1000 + 40 * ((second * 7) % 11) - 200
        latency = 180.0 + 15 * ((second * 5) % 7) + (600.0 if 30 <= second < 34 else 0.0)
        record_batch(
            processor.metrics,
            second,
            rows,
            latency_ms=latency,
            fallback_every=0 if second < 45 else 20,
            quarantined=second % 4 == 0,
            late=second % 10 == 0,
        )
        clock.now = float(second)
        collector.poll()
    return collector


def test_the_dashboard_renders_live_numbers_and_alerts_in_chromium(
    chromium: Chromium,
    processor: RunningProcessor,
    alerts_settings: Settings,
    tmp_path: Path,
) -> None:
    rows = alert_rows(40)
    write_alerts(alerts_settings, rows)
    newest = rows[rows["decision"] != "approve"].iloc[-1]
    collector = live_collector(processor, alerts_settings)
    snapshot = collector.snapshot()
    assert snapshot.alerts and snapshot.alerts[0].transaction_id == newest["transaction_id"]

    with DashboardServer(collector) as server:
        page = chromium.open(server.url, width=WIDTH, height=HEIGHT)
        page.wait_for(
            "document.body && document.body.dataset.state === 'live' && "
            "document.querySelectorAll('#alerts tr td.mono').length > 0 && "
            "document.querySelectorAll('#chart path').length === 3"
        )
        text = page.evaluate("document.body.innerText")
        rate = page.evaluate("document.getElementById('rate').textContent")
        p50 = page.evaluate("document.getElementById('p50').textContent")
        p99 = page.evaluate("document.getElementById('p99').textContent")
        alert_rows_shown = page.evaluate("document.querySelectorAll('#alerts tr').length")
        line_lengths = page.evaluate(
            "[...document.querySelectorAll('#chart path')].map(p => p.getAttribute('d').length)"
        )
        injected = page.evaluate("document.querySelectorAll('#alerts img, #alerts b').length")
        title = page.evaluate("document.title")
        png = page.screenshot()

    assert "processor up" in text
    assert re.fullmatch(r"\d{1,3}(,\d{3})*", rate), rate
    assert re.fullmatch(r"\d[\d,]* ms", p50) and re.fullmatch(r"\d[\d,]* ms", p99), (p50, p99)
    assert f"{snapshot.summary.rows_total:,}" in text
    for outcome in ("approve", "review", "block"):
        assert outcome in text
    assert newest["transaction_id"] in text and newest["card_id"] in text
    assert "velocity_burst" in text
    # The hostile reason is shown as the text it is; it did not become markup or run.
    assert HOSTILE_REASON in text
    assert injected == 0 and title == "Fraudstream live"
    assert alert_rows_shown == len(snapshot.alerts)
    assert all(length > 100 for length in line_lengths)

    shot = tmp_path / "dashboard.png"
    shot.write_bytes(png)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (WIDTH, HEIGHT)
    colours = image.convert("RGB").getcolors(maxcolors=WIDTH * HEIGHT)
    assert colours is not None and len(colours) > 50  # text, chart lines, panels: not blank
