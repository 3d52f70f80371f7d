"""The poll / claim / send loop that turns new block alerts into webhook posts.

Each poll reads the block alerts of the ``recent-by-decision`` index from a window start on,
oldest first. The window reaches ``lookback`` (event time) behind the newest block seen,
because the processor does not write alerts in strict ``alert_key`` order (shards and
micro-batches interleave, late events arrive): a cursor that only moved forward would skip
them. Re-reading the window is cheap (blocks are rare) and safe (claims make it idempotent).

For each alert not yet handled: claim it (conditional put), post it with retries, record the
outcome. Claim-before-send makes delivery at-most-once across crashes; see
docs/adr/0005-block-alert-webhook.md for why and for the one case an alert can be lost.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from fraudstream.alerting.errors import AlertingOffError, LedgerUnavailableError
from fraudstream.alerting.ledger import Cursor, Ledger
from fraudstream.alerting.message import block_message
from fraudstream.alerting.retry import RetryPolicy, Verdict
from fraudstream.alerting.webhook import Webhook
from fraudstream.alerts_table import ALERTS_TTL_ATTRIBUTE
from fraudstream.events import format_time, parse_time
from fraudstream.live.alerts import Alert, alert_from_item
from fraudstream.settings import Settings

log = logging.getLogger(__name__)

# Outcome recorded on a claim for each delivery verdict.
STATUS = {
    Verdict.DELIVERED: "sent",
    Verdict.PERMANENT: "rejected",  # the receiver refused it (4xx): not sent again
    Verdict.EXHAUSTED: "failed",  # 5xx / 429 / no response until the attempts ran out
}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def utc_now() -> datetime:
    return datetime.now(UTC)


def since_floor(text: str, now: datetime) -> str:
    """The exclusive alert-key floor for ``--since``: ``all``, a duration back from ``now``
    (``30m``, ``2h``, ``1d``) or an RFC 3339 time with offset. Raises ValueError otherwise."""
    value = text.strip()
    if value.lower() == "all":
        return ""
    match = _DURATION.match(value.lower())
    if match:
        back = timedelta(seconds=float(match.group(1)) * _UNIT[match.group(2)])
        return format_time(now - back)
    try:
        return format_time(parse_time(value))
    except ValueError as error:
        raise ValueError(
            f"--since {text!r}: expected 'all', a duration like 30m / 2h / 1d, or an RFC 3339 "
            "time with offset like 2026-01-01T00:00:00Z"
        ) from error


def window_start(cursor: Cursor, lookback: timedelta) -> str:
    """The exclusive ``alert_key`` a poll starts after: ``lookback`` behind the high-water
    mark, never below the floor."""
    if cursor.high_water is None:
        return cursor.floor
    event_time = cursor.high_water.partition("#")[0]
    try:
        behind = format_time(parse_time(event_time) - lookback)
    except (ValueError, OverflowError):
        return cursor.floor
    return max(cursor.floor, behind)


@dataclass
class PollResult:
    """Counts of one poll, or of a whole run when added up."""

    seen: int = 0  # block alerts in the window not yet handled by this process
    sent: int = 0
    rejected: int = 0
    failed: int = 0
    already_claimed: int = 0  # sent (or being sent) by an earlier run or another notifier
    errors: int = 0  # polls that could not reach the table

    def __iadd__(self, other: PollResult) -> PollResult:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def summary(self) -> str:
        return (
            f"{self.sent} sent, {self.rejected} rejected by the webhook, {self.failed} failed "
            f"after retries, {self.already_claimed} already handled, {self.errors} poll errors"
        )


class Notifier:
    """Sends every new block alert to the webhook once. One loop; several may run (claims
    keep them from sending the same alert twice)."""

    def __init__(
        self,
        ledger: Ledger,
        webhook: Webhook,
        *,
        lookback: timedelta = timedelta(minutes=15),
        owner: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.ledger = ledger
        self.webhook = webhook
        self.lookback = lookback
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.clock = clock
        self.cursor: Cursor | None = None
        self._done: set[tuple[str, str]] = set()  # handled in this process: skip the claim call

    @classmethod
    def from_settings(cls, settings: Settings, *, owner: str | None = None) -> Notifier:
        """A notifier for the configured webhook; :class:`AlertingOffError` when it is unset."""
        if settings.webhook_url is None:
            raise AlertingOffError(
                "block alerting is off: set FRAUDSTREAM_WEBHOOK_URL to a Slack-compatible "
                "incoming-webhook URL (see docs/alerting.md)"
            )
        webhook = Webhook(
            settings.webhook_url.get_secret_value(),
            timeout=settings.webhook_timeout_seconds,
            policy=RetryPolicy(max_attempts=settings.webhook_max_attempts),
        )
        lookback = timedelta(seconds=settings.webhook_lookback_seconds)
        return cls(Ledger(settings), webhook, lookback=lookback, owner=owner)

    def start(self, since: str | None = None) -> Cursor:
        """Decide where to begin: ``--since`` (a floor for this run), else the stored cursor,
        else just after the newest block alert now in the table (the backlog is not sent)."""
        if since is not None:
            self.cursor = Cursor(floor=since_floor(since, self.clock()), high_water=None)
            return self.cursor
        stored = self.ledger.load_cursor()
        if stored is None:
            self.ledger.start_cursor(self.ledger.newest_block_key() or "")
            stored = self.ledger.load_cursor() or Cursor(floor="", high_water=None)
        self.cursor = stored
        return stored

    def poll(self, stop: threading.Event | None = None) -> PollResult:
        """One pass over the window; stops between alerts (never mid-post) when ``stop`` is set."""
        if self.cursor is None:
            self.start()
        assert self.cursor is not None
        start = window_start(self.cursor, self.lookback)
        self._done = {key for key in self._done if key[1] > start}
        result = PollResult()
        high_water = self.cursor.high_water
        try:
            for item in self.ledger.blocks_after(start):
                if stop is not None and stop.is_set():
                    break
                alert = alert_from_item(item)
                key = (alert.card_id, alert.alert_key)
                if key in self._done or alert.alert_key <= self.cursor.floor:
                    continue
                result.seen += 1
                self._handle(alert, item, result)
                self._done.add(key)
                high_water = max(high_water or "", alert.alert_key)
        finally:
            if high_water and high_water != self.cursor.high_water:
                self.cursor = Cursor(floor=self.cursor.floor, high_water=high_water)
                self.ledger.advance(high_water)
        return result

    def _handle(self, alert: Alert, item: Mapping[str, Any], result: PollResult) -> None:
        """Claim, post, record one alert."""
        expires = (item.get(ALERTS_TTL_ATTRIBUTE) or {}).get("N")
        expires_at = int(expires) if expires is not None else None
        claimed = self.ledger.claim(
            alert.card_id,
            alert.alert_key,
            owner=self.owner,
            at=format_time(self.clock()),
            expires_at=expires_at,
        )
        if not claimed:
            result.already_claimed += 1
            return
        delivery = self.webhook.deliver(
            block_message(alert), key=f"{alert.card_id}#{alert.alert_key}"
        )
        status = STATUS[delivery.verdict]
        setattr(result, status, getattr(result, status) + 1)
        if delivery.delivered:
            log.info("sent block alert %s (card %s)", alert.alert_key, alert.card_id)
        else:
            log.error(
                "block alert %s (card %s) not delivered, recorded as %s after %d attempt(s): %s",
                alert.alert_key,
                alert.card_id,
                status,
                delivery.attempts,
                delivery.detail,
            )
        try:
            self.ledger.record(
                alert.card_id,
                alert.alert_key,
                status=status,
                at=format_time(self.clock()),
                attempts=delivery.attempts,
                http_status=delivery.status,
                detail=delivery.detail,
            )
        except LedgerUnavailableError as error:
            # The claim stays "sending": never resent, visible as in doubt (ADR 0005).
            log.error("could not record the outcome of %s: %s", alert.alert_key, error)

    def run(
        self,
        stop: threading.Event,
        interval: float,
        on_poll: Callable[[PollResult], None] | None = None,
    ) -> PollResult:
        """Poll every ``interval`` seconds until ``stop`` is set; a poll that cannot reach the
        table is logged and retried at the next interval. Returns the totals."""
        total = PollResult()
        while not stop.is_set():
            try:
                result = self.poll(stop)
            except LedgerUnavailableError as error:
                log.warning("poll failed, retrying in %.1fs: %s", interval, error)
                result = PollResult(errors=1)
            total += result
            if on_poll is not None:
                on_poll(result)
            stop.wait(interval)
        return total
