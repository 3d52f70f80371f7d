"""The latest alerts for the live view, read from the DynamoDB alerts table.

Access pattern (docs/adr/0004-latest-alerts-index.md): the table is keyed by card, so "the
newest alerts across all cards" needs either a Scan (its cost grows with the table: not
something to run every second) or an index. The ``recent-by-decision`` global secondary index
is keyed by ``decision`` (review / block) and sorted by ``alert_key`` (``<event time>#<id>``),
so each refresh is one Query per decision with ``ScanIndexForward=False`` and ``Limit=N``: at
most 2·N items read, whatever the table holds. Newest means latest event time, which also holds
for a historical replay.

:func:`alert_from_item` and :func:`newest` are pure; :class:`AlertReader` does the I/O.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fraudstream import aws
from fraudstream.alerts_table import (
    ALERTS_HASH_KEY,
    ALERTS_RANGE_KEY,
    ALERTS_RECENT_INDEX,
    ALERTS_RECENT_INDEX_HASH_KEY,
)
from fraudstream.errors import FraudstreamError
from fraudstream.settings import Settings

# Decisions the processor writes to the alerts table (processor.sinks.alerts.ALERT_DECISIONS;
# the shared package imports no service, a test keeps the two equal).
ALERT_DECISIONS = ("review", "block")


class AlertsUnavailableError(FraudstreamError):
    """The alerts table or its latest-alerts index cannot be read."""


@dataclass(frozen=True)
class Alert:
    """One review/block decision as the live view shows it."""

    card_id: str
    alert_key: str
    transaction_id: str
    decision: str
    event_time: str
    score: float | None = None
    reasons: tuple[str, ...] = ()
    amount: float | None = None
    currency: str | None = None
    merchant_id: str | None = None
    model_version: str | None = None
    scored_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        return data


def _text(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name) or {}
    text = value.get("S")
    return None if text is None else str(text)


def _number(item: Mapping[str, Any], name: str) -> float | None:
    value = (item.get(name) or {}).get("N")
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def alert_from_item(item: Mapping[str, Any]) -> Alert:
    """An :class:`Alert` from a DynamoDB item in attribute-value form (as the writer stores it).

    Tolerant of missing or NULL attributes (an item written by an older processor)."""
    key = _text(item, ALERTS_RANGE_KEY) or ""
    event_time, _, transaction = key.partition("#")
    reasons = [
        str(entry["S"]) for entry in (item.get("reasons") or {}).get("L") or [] if "S" in entry
    ]
    return Alert(
        card_id=_text(item, ALERTS_HASH_KEY) or "",
        alert_key=key,
        transaction_id=_text(item, "transaction_id") or transaction,
        decision=_text(item, "decision") or "",
        event_time=_text(item, "event_time") or event_time,
        score=_number(item, "score"),
        reasons=tuple(reasons),
        amount=_number(item, "amount"),
        currency=_text(item, "currency"),
        merchant_id=_text(item, "merchant_id"),
        model_version=_text(item, "model_version"),
        scored_by=_text(item, "scored_by"),
    )


def newest(groups: Iterable[Sequence[Alert]], limit: int) -> list[Alert]:
    """The ``limit`` newest alerts (by ``alert_key``, newest first) of several newest-first
    lists, each alert once."""
    seen: set[tuple[str, str]] = set()
    out: list[Alert] = []
    merged = heapq.merge(*groups, key=lambda a: a.alert_key, reverse=True)
    for alert in merged:
        key = (alert.card_id, alert.alert_key)
        if key in seen:
            continue
        seen.add(key)
        out.append(alert)
        if len(out) >= limit:
            break
    return out


class AlertReader:
    """Reads the newest alerts through the ``recent-by-decision`` index."""

    def __init__(self, settings: Settings, *, dynamodb: Any | None = None) -> None:
        self.table = settings.alerts_table
        self._dynamodb = dynamodb or aws.client(
            "dynamodb", settings, max_attempts=2, connect_timeout=2.0, read_timeout=5.0
        )

    def latest(self, limit: int = 20) -> list[Alert]:
        """The ``limit`` newest review/block alerts, newest first.

        Raises :class:`AlertsUnavailableError` when the table or index is missing or the
        endpoint cannot be reached."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        groups = []
        for decision in ALERT_DECISIONS:
            try:
                response = self._dynamodb.query(
                    TableName=self.table,
                    IndexName=ALERTS_RECENT_INDEX,
                    KeyConditionExpression="#d = :d",
                    ExpressionAttributeNames={"#d": ALERTS_RECENT_INDEX_HASH_KEY},
                    ExpressionAttributeValues={":d": {"S": decision}},
                    ScanIndexForward=False,
                    Limit=limit,
                )
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                raise AlertsUnavailableError(_explain(self.table, code, error)) from error
            except BotoCoreError as error:
                raise AlertsUnavailableError(f"alerts table {self.table}: {error}") from error
            groups.append([alert_from_item(item) for item in response.get("Items", [])])
        return newest(groups, limit)


def _explain(table: str, code: str, error: ClientError) -> str:
    # AWS answers a missing index with ValidationException, moto with ResourceNotFound.
    if code in ("ResourceNotFoundException", "ValidationException"):
        return (
            f"alerts table {table} or its {ALERTS_RECENT_INDEX} index not found "
            "(`fraudstream stack up` creates both; on AWS, apply Terraform)"
        )
    return f"alerts table {table}: {error}"
