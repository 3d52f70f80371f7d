"""The collector against a real metrics endpoint over HTTP and real alerts in the emulator."""

from __future__ import annotations

import threading

import pytest

from fraudstream.errors import FraudstreamError
from fraudstream.live.alerts import AlertReader
from fraudstream.live.collector import Collector, metrics_url_from, scrape_text
from fraudstream.live.metrics import ScrapeError
from fraudstream.settings import Settings, load_settings
from processor.metrics import ProcessorMetrics, serve
from tests.conftest import free_port
from tests.fraudstream.live.simulated import (
    RunningProcessor,
    alert_rows,
    record_batch,
    write_alerts,
)


class Clock:
    """A replaceable monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_metrics_url_follows_the_processors_settings() -> None:
    assert metrics_url_from(load_settings()) == "http://127.0.0.1:9108/metrics"
    every = load_settings(metrics_host="0.0.0.0", metrics_port=9200)
    assert metrics_url_from(every) == "http://127.0.0.1:9200/metrics"
    assert metrics_url_from(load_settings(metrics_host="::")) == "http://[::1]:9108/metrics"
    assert metrics_url_from(load_settings(metrics_host="fd00::1")).startswith("http://[fd00::1]:")
    with pytest.raises(FraudstreamError, match="metrics-url"):
        metrics_url_from(load_settings(metrics_port=0))


@pytest.mark.integration
def test_scrape_refuses_other_schemes_and_says_when_unreachable() -> None:
    with pytest.raises(ScrapeError, match="http"):
        scrape_text("file:///etc/passwd")
    with pytest.raises(ScrapeError, match="unreachable"):
        scrape_text(f"http://127.0.0.1:{free_port()}/metrics", timeout=1)


@pytest.mark.integration
def test_rates_from_the_real_endpoint_with_a_hand_moved_clock(
    processor: RunningProcessor,
) -> None:
    clock = Clock()
    collector = Collector(processor.url, None, clock=clock, wall=lambda: 1.7e9 + clock.now)
    collector.poll()
    record_batch(processor.metrics, 1, 500, fallback_every=10, quarantined=3)
    clock.now += 2.0
    snapshot = collector.poll()
    assert snapshot.metrics_up and snapshot.metrics_error is None
    summary = snapshot.summary
    assert summary.rows_per_second == pytest.approx(250.0)
    assert summary.rows_total == 500
    assert summary.quarantined_total == 3
    assert summary.fallback_share == pytest.approx(0.1)
    assert summary.latency_p50 is not None and 0.1 < summary.latency_p50 < 0.3
    assert [p.rows_per_second for p in snapshot.history] == [pytest.approx(250.0)]
    json = snapshot.summary_json()
    assert json["metrics_url"] == processor.url and json["metrics_up"] is True
    assert snapshot.history_json()["points"][0]["rows_per_second"] == pytest.approx(250.0)
    assert snapshot.alerts_json() == {"alerts": [], "updated_at": None, "error": None}


@pytest.mark.integration
def test_a_processor_down_then_restarted_is_reported_and_never_negative() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    clock = Clock()
    collector = Collector(url, None, clock=clock)
    snapshot = collector.poll()
    assert not snapshot.metrics_up
    assert snapshot.metrics_error is not None and "unreachable" in snapshot.metrics_error

    first = ProcessorMetrics()
    server = serve(first, port=port)
    record_batch(first, 1, 1000)
    collector.poll()
    clock.now += 1
    record_batch(first, 2, 1000)
    assert collector.poll().summary.rows_per_second == pytest.approx(1000.0)
    server.stop()

    clock.now += 1
    down = collector.poll()
    assert not down.metrics_up
    assert down.summary.rows_total == 2000  # the last figures stay on screen

    second = ProcessorMetrics()  # restarted: counters from zero
    server = serve(second, port=port)
    try:
        record_batch(second, 3, 200)
        clock.now += 1
        back = collector.poll()
    finally:
        server.stop()
    assert back.metrics_up
    assert back.summary.rows_per_second == pytest.approx(100.0)  # 200 rows over the 2 s gap
    assert back.summary.rows_total == 2200
    assert back.summary.restarts == 1


@pytest.mark.integration
def test_alerts_are_read_on_their_own_schedule(
    processor: RunningProcessor, alerts_settings: Settings
) -> None:
    clock = Clock()
    reader = AlertReader(alerts_settings)
    collector = Collector(processor.url, reader, alerts_interval=5.0, alerts_limit=3, clock=clock)
    assert collector.poll().alerts == ()
    write_alerts(alerts_settings, alert_rows(30))
    clock.now += 1
    assert collector.poll().alerts == ()  # not due yet
    clock.now += 4
    snapshot = collector.poll()
    assert [a.transaction_id for a in snapshot.alerts] == ["tx-000029", "tx-000026", "tx-000024"]
    assert snapshot.alerts_updated_at is not None and snapshot.alerts_error is None


@pytest.mark.integration
def test_an_unreadable_alerts_table_is_shown_not_fatal(
    processor: RunningProcessor, local_stack: Settings
) -> None:
    missing = local_stack.model_copy(update={"alerts_table": "missing-alerts"})
    collector = Collector.from_settings(missing, metrics_url=processor.url)
    snapshot = collector.poll()
    assert snapshot.metrics_up
    assert snapshot.alerts_error is not None and "missing-alerts" in snapshot.alerts_error


@pytest.mark.integration
def test_the_background_thread_polls_until_stopped(processor: RunningProcessor) -> None:
    polled = threading.Event()

    def scrape(url: str) -> str:
        polled.set()
        return scrape_text(url)

    with Collector(processor.url, None, interval=0.1, scrape=scrape) as collector:
        assert collector.start() is collector  # starting twice is harmless
        assert polled.wait(10)
    assert collector.snapshot().metrics_up
    with pytest.raises(ValueError, match="positive"):
        Collector(processor.url, interval=0)
    with pytest.raises(ValueError, match="alerts_limit"):
        Collector(processor.url, alerts_limit=0)
