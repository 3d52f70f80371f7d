"""`fraudstream dashboard` as a user runs it, against a running processor's metrics endpoint
(the real exporter, fed committed batches) and real alerts in the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from typing import Any

import pytest

from fraudstream.settings import Settings
from tests.fraudstream.live.simulated import (
    RunningProcessor,
    alert_rows,
    alerts_settings_fixture,
    processor_fixture,
    record_batch,
    write_alerts,
)

__all__ = ["alerts_settings_fixture", "processor_fixture"]  # fixtures used below

pytestmark = [pytest.mark.e2e]

DASHBOARD = (sys.executable, "-m", "fraudstream", "dashboard")


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": settings.endpoint_url or "",
        "FRAUDSTREAM_ALERTS_TABLE": settings.alerts_table,
        "COLUMNS": "160",
        **extra,
    }


def test_terminal_view_shows_the_processor_and_the_latest_alerts(
    processor: RunningProcessor, alerts_settings: Settings
) -> None:
    record_batch(processor.metrics, 41, 2000, quarantined=3)
    write_alerts(alerts_settings, alert_rows(12))
    result = subprocess.run(
        [*DASHBOARD, "--terminal", "--duration", "2", "--metrics-url", processor.url],
        env=cli_env(alerts_settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    screen = result.stdout
    assert "processor up" in screen and "batch #41" in screen
    assert "2,000" in screen  # rows processed
    assert "tx-000011" in screen and "velocity_burst" in screen


def test_web_dashboard_serves_the_api_until_its_duration_ends(
    processor: RunningProcessor, alerts_settings: Settings
) -> None:
    record_batch(processor.metrics, 7, 500)
    write_alerts(alerts_settings, alert_rows(6))
    # The processor's address comes from its own settings, as on a user's machine.
    host, port = processor.server.host, str(processor.server.port)
    with subprocess.Popen(
        [*DASHBOARD, "--port", "0", "--duration", "30", "--alerts", "2"],
        env=cli_env(alerts_settings, FRAUDSTREAM_METRICS_HOST=host, FRAUDSTREAM_METRICS_PORT=port),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("dashboard at http://127.0.0.1:"), line
            base = line.split()[2]

            def get(path: str) -> Any:
                with urllib.request.urlopen(base + path.lstrip("/"), timeout=10) as response:
                    return json.load(response)

            summary = get("/api/summary")
            assert summary["metrics_url"] == processor.url
            alerts = get("/api/alerts")["alerts"]
            assert [a["transaction_id"] for a in alerts] == ["tx-000005", "tx-000004"]
            assert summary["metrics_up"] and summary["rows_total"] == 500
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_a_busy_port_is_one_line_of_error(
    processor: RunningProcessor, local_stack: Settings
) -> None:
    busy = str(processor.server.port)
    result = subprocess.run(
        [*DASHBOARD, "--port", busy, "--duration", "1"],
        env=cli_env(local_stack),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert f"cannot serve the dashboard on 127.0.0.1:{busy}" in result.stderr
    assert "Traceback" not in result.stderr
