"""The notifier's DynamoDB I/O: new block alerts from the index, claims, outcomes, cursor.

Everything the notifier records lives in the alerts table itself, in items the processor never
writes (docs/adr/0005-block-alert-webhook.md):

- a **claim** per notified alert: hash ``notified#<card_id>``, range the alert's ``alert_key``,
  created with a conditional PutItem (only if absent) *before* the post, then updated with the
  outcome. It is not on the alert item because the processor's sink replaces whole items
  (BatchWriteItem PutRequest) when it replays a batch, which would erase a mark and resend.
  It has no ``decision`` attribute, so it stays out of the ``recent-by-decision`` index, and it
  expires with its alert (same ``expires_at``).
- one **cursor** item (hash ``notifier#cursor``): where the first run started (``floor``) and
  the newest block alert seen (``high_water``), so a restart resumes rather than skipping the
  alerts written while it was down.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fraudstream import aws
from fraudstream.alerting.errors import AlertingError, LedgerUnavailableError
from fraudstream.alerts_table import (
    ALERTS_HASH_KEY,
    ALERTS_RANGE_KEY,
    ALERTS_RECENT_INDEX,
    ALERTS_RECENT_INDEX_HASH_KEY,
    ALERTS_TTL_ATTRIBUTE,
)
from fraudstream.settings import Settings

BLOCK = "block"
CLAIM_PREFIX = "notified#"
CURSOR_HASH = "notifier#cursor"
CURSOR_RANGE = "block"
SENDING = "sending"  # claimed; the post is under way (or the notifier died: never resent)

Item = Mapping[str, Any]


@dataclass(frozen=True)
class Cursor:
    floor: str  # alert keys at or below this are never sent ("" = no floor)
    high_water: str | None  # newest block alert_key seen so far


def claim_key(card_id: str, alert_key: str) -> dict[str, dict[str, str]]:
    return {ALERTS_HASH_KEY: {"S": CLAIM_PREFIX + card_id}, ALERTS_RANGE_KEY: {"S": alert_key}}


def _cursor_key() -> dict[str, dict[str, str]]:
    return {ALERTS_HASH_KEY: {"S": CURSOR_HASH}, ALERTS_RANGE_KEY: {"S": CURSOR_RANGE}}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class Ledger:
    """Reads block alerts and records claims in the alerts table ``settings.alerts_table``."""

    def __init__(self, settings: Settings, *, dynamodb: Any | None = None) -> None:
        self.table = settings.alerts_table
        self._dynamodb = dynamodb or aws.client(
            "dynamodb", settings, max_attempts=3, connect_timeout=2.0, read_timeout=10.0
        )

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._dynamodb, operation)(TableName=self.table, **kwargs)
        except ClientError as error:
            code = _code(error)
            if code == "ConditionalCheckFailedException":
                raise
            if code in ("ResourceNotFoundException", "ValidationException"):
                raise AlertingError(
                    f"alerts table {self.table} or its {ALERTS_RECENT_INDEX} index not usable: "
                    f"{error} (`fraudstream stack up` creates both; on AWS, apply Terraform)"
                ) from error
            if code in ("AccessDeniedException", "UnrecognizedClientException"):
                raise AlertingError(f"alerts table {self.table}: {error}") from error
            raise LedgerUnavailableError(f"alerts table {self.table}: {error}") from error
        except BotoCoreError as error:
            raise LedgerUnavailableError(f"alerts table {self.table}: {error}") from error

    def blocks_after(self, start: str) -> Iterator[Item]:
        """Block alert items with ``alert_key`` > ``start`` ("" = all), oldest first."""
        condition = "#d = :d"
        values: dict[str, Any] = {":d": {"S": BLOCK}}
        names = {"#d": ALERTS_RECENT_INDEX_HASH_KEY}
        if start:
            condition += " AND #k > :k"
            values[":k"] = {"S": start}
            names["#k"] = ALERTS_RANGE_KEY
        page: dict[str, Any] = {}
        while True:
            response = self._call(
                "query",
                IndexName=ALERTS_RECENT_INDEX,
                KeyConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ScanIndexForward=True,
                **page,
            )
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            page = {"ExclusiveStartKey": last}

    def newest_block_key(self) -> str | None:
        response = self._call(
            "query",
            IndexName=ALERTS_RECENT_INDEX,
            KeyConditionExpression="#d = :d",
            ExpressionAttributeNames={"#d": ALERTS_RECENT_INDEX_HASH_KEY},
            ExpressionAttributeValues={":d": {"S": BLOCK}},
            ScanIndexForward=False,
            Limit=1,
        )
        items = response.get("Items") or []
        return str(items[0][ALERTS_RANGE_KEY]["S"]) if items else None

    def claim(
        self, card_id: str, alert_key: str, *, owner: str, at: str, expires_at: int | None
    ) -> bool:
        """Create the claim for one alert if nobody has; True if this call created it."""
        item: dict[str, Any] = {
            **claim_key(card_id, alert_key),
            "status": {"S": SENDING},
            "claimed_at": {"S": at},
            "owner": {"S": owner},
            "attempts": {"N": "0"},
        }
        if expires_at is not None:
            item[ALERTS_TTL_ATTRIBUTE] = {"N": str(expires_at)}
        try:
            self._call(
                "put_item",
                Item=item,
                ConditionExpression="attribute_not_exists(#h)",
                ExpressionAttributeNames={"#h": ALERTS_HASH_KEY},
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def record(
        self,
        card_id: str,
        alert_key: str,
        *,
        status: str,
        at: str,
        attempts: int,
        http_status: int | None,
        detail: str,
    ) -> None:
        """Write the outcome onto a claim this notifier holds."""
        self._call(
            "update_item",
            Key=claim_key(card_id, alert_key),
            UpdateExpression=(
                "SET #s = :s, finished_at = :t, attempts = :a, http_status = :h, detail = :d"
            ),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":s": {"S": status},
                ":t": {"S": at},
                ":a": {"N": str(attempts)},
                ":h": {"NULL": True} if http_status is None else {"N": str(http_status)},
                ":d": {"S": detail[:1000]},
            },
        )

    def claim_status(self, card_id: str, alert_key: str) -> dict[str, Any] | None:
        """The claim item of one alert (consistent read), or None: for reports and tests."""
        response = self._call("get_item", Key=claim_key(card_id, alert_key), ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def load_cursor(self) -> Cursor | None:
        response = self._call("get_item", Key=_cursor_key(), ConsistentRead=True)
        item = response.get("Item")
        if not item:
            return None
        high = (item.get("high_water") or {}).get("S")
        return Cursor(floor=str((item.get("floor") or {}).get("S", "")), high_water=high)

    def start_cursor(self, floor: str) -> None:
        """Record where the first run starts; a cursor that already exists keeps its floor."""
        self._call(
            "update_item",
            Key=_cursor_key(),
            UpdateExpression="SET #f = if_not_exists(#f, :f)",
            ExpressionAttributeNames={"#f": "floor"},
            ExpressionAttributeValues={":f": {"S": floor}},
        )

    def advance(self, high_water: str) -> None:
        """Move the cursor's high-water mark forward (never back, whoever else writes it)."""
        try:
            self._call(
                "update_item",
                Key=_cursor_key(),
                UpdateExpression="SET #w = :w",
                ConditionExpression="attribute_not_exists(#w) OR #w < :w",
                ExpressionAttributeNames={"#w": "high_water"},
                ExpressionAttributeValues={":w": {"S": high_water}},
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
