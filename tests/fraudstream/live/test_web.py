"""The dashboard server over real HTTP: the JSON API, the static page, and its safe defaults."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from fraudstream.live.collector import Collector
from fraudstream.live.policy import PolicyWatch
from fraudstream.live.web import DashboardServer, _finite, is_loopback
from tests.fraudstream.live.simulated import RunningProcessor, record_batch

pytestmark = pytest.mark.integration


@pytest.fixture
def dashboard(processor: RunningProcessor) -> Iterator[DashboardServer]:
    collector = Collector(processor.url, None)
    collector.poll()
    record_batch(processor.metrics, 1, 300, quarantined=2)
    collector.poll()
    with DashboardServer(collector) as server:
        yield server


def request(
    server: DashboardServer, path: str, method: str = "GET", host: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Host": host} if host else {}
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def get_json(server: DashboardServer, path: str) -> Any:
    status, headers, body = request(server, path)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    return json.loads(body)


def test_the_api_serves_summary_alerts_and_history(dashboard: DashboardServer) -> None:
    summary = get_json(dashboard, "/api/summary")
    assert summary["metrics_up"] is True
    assert summary["rows_total"] == 300
    assert summary["quarantined_total"] == 2
    assert summary["rows_per_second"] > 0
    assert set(summary["decisions_total"]) == {"approve", "review", "block"}
    assert get_json(dashboard, "/api/alerts") == {"alerts": [], "updated_at": None, "error": None}
    points = get_json(dashboard, "/api/history")["points"]
    assert len(points) == 1 and points[0]["rows_per_second"] > 0


def test_the_policy_panel_is_served_when_watched(
    processor: RunningProcessor, dashboard: DashboardServer
) -> None:
    assert get_json(dashboard, "/api/policy")["available"] is False  # not watched
    watch = PolicyWatch(lambda: {"policy": {"precision": 0.6, "recall": float("nan")}})
    watch.poll()
    with DashboardServer(Collector(processor.url, None), policy=watch) as server:
        served = get_json(server, "/api/policy")
    assert served["available"] is True and served["error"] is None
    assert served["policy"] == {"policy": {"precision": 0.6, "recall": None}}


def test_the_page_and_its_assets_come_from_this_server_only(dashboard: DashboardServer) -> None:
    status, headers, page = request(dashboard, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    html = page.decode()
    assert 'src="/static/dashboard.js"' in html and 'href="/static/dashboard.css"' in html
    assert "http://" not in html.replace('"http://www.w3.org', "") and "https://" not in html
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    status, headers, script = request(dashboard, "/static/dashboard.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    # Data reaches the page through textContent only: nothing parses strings as HTML.
    assert not re.search(rb"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", script)
    assert b"https://" not in script
    status, headers, _ = request(dashboard, "/static/dashboard.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    status, headers, body = request(dashboard, "/index.html", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) == len(page)


def test_read_only_unknown_paths_and_foreign_hosts_are_refused(
    dashboard: DashboardServer,
) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        status, headers, _ = request(dashboard, "/api/summary", method=method)
        assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert request(dashboard, "/static/../../etc/passwd")[0] == 404
    assert request(dashboard, "/api/nothing")[0] == 404
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 must not read the alerts.
    assert request(dashboard, "/api/alerts", host=f"evil.example:{dashboard.port}")[0] == 421
    assert request(dashboard, "/api/alerts", host=f"localhost:{dashboard.port}")[0] == 200
    assert request(dashboard, "/api/alerts", host=f"[::1]:{dashboard.port}")[0] == 200


def test_json_never_carries_nan_and_loopback_is_recognised() -> None:
    assert _finite({"a": [float("nan"), 1.0, float("inf")], "b": (2,)}) == {
        "a": [None, 1.0, None],
        "b": [2],
    }
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")
