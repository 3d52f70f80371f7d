"""``fraudstream alerts notify`` through the CLI: off by default, one pass with --once."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from fraudstream.cli import cli
from fraudstream.settings import Settings, load_settings
from tests.fraudstream.alerting.receiver import Receiver
from tests.fraudstream.alerting.test_notifier import rows, write


def test_off_by_default_with_a_clear_message() -> None:
    assert load_settings().webhook_url is None
    result = CliRunner().invoke(cli, ["alerts", "notify", "--once"])
    assert result.exit_code == 1
    assert "alerting is off" in result.output and "FRAUDSTREAM_WEBHOOK_URL" in result.output


def test_help_names_the_settings() -> None:
    result = CliRunner().invoke(cli, ["alerts", "notify", "--help"])
    assert result.exit_code == 0
    for word in ("--once", "--since", "FRAUDSTREAM_WEBHOOK_URL", "Retry-After"):
        assert word in result.output


def test_a_bad_webhook_url_is_refused_without_echoing_it() -> None:
    result = CliRunner().invoke(
        cli, ["alerts", "notify"], env={"FRAUDSTREAM_WEBHOOK_URL": "ftp://token-xyz"}
    )
    assert result.exit_code == 1
    assert "webhook_url" in result.output and "token-xyz" not in result.output


@pytest.mark.integration
def test_once_sends_the_blocks_and_prints_a_summary(
    fresh_sinks: Settings, receiver: Receiver
) -> None:
    write(fresh_sinks, rows(["block", "review", "block"]))
    env = {
        "FRAUDSTREAM_ENDPOINT_URL": fresh_sinks.endpoint_url or "",
        "FRAUDSTREAM_ALERTS_TABLE": fresh_sinks.alerts_table,
        "FRAUDSTREAM_STATE_DIR": str(fresh_sinks.state_dir),
        "FRAUDSTREAM_WEBHOOK_URL": receiver.url,
    }
    runner = CliRunner()
    first = runner.invoke(cli, ["alerts", "notify", "--once", "--since", "all"], env=env)
    assert first.exit_code == 0, first.output
    assert "2 sent" in first.output
    again = runner.invoke(cli, ["alerts", "notify", "--once", "--since", "all"], env=env)
    assert again.exit_code == 0 and "0 sent" in again.output and "2 already" in again.output
    assert len(receiver.delivered) == 2
    bad = runner.invoke(cli, ["alerts", "notify", "--once", "--since", "yesterday"], env=env)
    assert bad.exit_code == 2 and "--since" in bad.output
