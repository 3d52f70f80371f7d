"""``fraudstream alerts notify``: post each new block decision to a Slack-compatible webhook."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from fraudstream.cli.context import CliContext


@click.group()
def alerts() -> None:
    """Alerts of the processor's decisions (DynamoDB table FRAUDSTREAM_ALERTS_TABLE)."""


@alerts.command()
@click.option("--once", is_flag=True, help="Poll once, send what is new, print a summary, exit.")
@click.option(
    "--since",
    default=None,
    metavar="WHEN",
    help="Send unsent block alerts with event time after WHEN: 'all', a duration back from now "
    "(30m, 2h, 1d) or an RFC 3339 time (2026-01-01T00:00:00Z). Default: resume where the last "
    "run stopped; on the very first run, start after the newest block already in the table.",
)
@click.option(
    "--poll-seconds",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds between polls [FRAUDSTREAM_WEBHOOK_POLL_SECONDS, default 5].",
)
@click.pass_obj
def notify(obj: CliContext, once: bool, since: str | None, poll_seconds: float | None) -> None:
    """Send every new BLOCK decision to the webhook FRAUDSTREAM_WEBHOOK_URL, once each.

    Off by default: without FRAUDSTREAM_WEBHOOK_URL the command exits with an error. Polls the
    alerts table's recent-by-decision index, claims each alert in the table before posting
    (so a restart or a second notifier never sends it twice), retries 5xx / 429 / connection
    errors with backoff (FRAUDSTREAM_WEBHOOK_MAX_ATTEMPTS, honouring Retry-After) and records
    other 4xx as rejected. Runs until Ctrl-C or SIGTERM unless --once. See docs/alerting.md.
    """
    from fraudstream.alerting import Notifier, PollResult

    settings = obj.settings
    notifier = Notifier.from_settings(settings)
    if since is not None:
        try:
            notifier.start(since)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--since") from error
    else:
        notifier.start()
    assert notifier.cursor is not None
    floor = notifier.cursor.floor or "the oldest alert"
    if once:
        result = notifier.poll()
        click.echo(f"block alerts after {floor}: {result.summary()}")
        return
    interval = poll_seconds or settings.webhook_poll_seconds
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _stop)

    def _progress(result: PollResult) -> None:
        if result.seen or result.errors:
            click.echo(result.summary(), err=True)

    click.echo(
        f"notifying block alerts of {settings.alerts_table} after {floor} every {interval:g}s; "
        "Ctrl-C stops",
        err=True,
    )
    total = PollResult()
    try:
        total = notifier.run(stop, interval, on_poll=_progress)
    except KeyboardInterrupt:
        stop.set()
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo(f"stopped: {total.summary()}")
