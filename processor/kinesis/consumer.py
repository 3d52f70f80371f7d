"""Kinesis calls for one stream, and what each failure means (the loops are in shard_reader).

Failures are sorted by what fixes them (STYLE item 6), with the platform's one classifier of
AWS errors and one backoff (:mod:`fraudstream.retry`):

- ``ProvisionedThroughputExceededException`` (and other throttles): that shard alone backs off,
  exponentially with jitter; the other shards keep going.
- ``ExpiredIteratorException``: the iterator is re-acquired after the last sequence number read.
- Transient failures (5xx, connection errors): retried a few times, then fatal.
- Anything else: :class:`~processor.kinesis.errors.KinesisReadError`, which fails the batch.
  Nothing here swallows an error and lets the source report an unchanged offset.

Clients are made with botocore retries off (``max_attempts=1``: one attempt per call):
botocore would otherwise sleep on a throttled shard inside the call, stalling every other
shard behind it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fraudstream import retry
from fraudstream.aws import client
from fraudstream.retry import Streak
from fraudstream.settings import load_settings
from processor.kinesis.errors import KinesisReadError
from processor.kinesis.offsets import ShardInfo, ShardPosition, StartSpec, StreamIdentity
from processor.kinesis.options import SourceOptions

log = logging.getLogger(__name__)

MAX_TRANSIENT_RETRIES = 3
MAX_ITERATOR_REFRESHES = 5


class Throttled(Exception):
    """GetRecords was throttled for this shard."""


class IteratorExpired(Exception):
    """The shard iterator is older than five minutes."""


def make_client(options: SourceOptions, max_pool_connections: int = 16) -> Any:
    """A Kinesis client for the source's region and endpoint, via the project's factory."""
    overrides: dict[str, Any] = {}
    if options.region:
        overrides["region"] = options.region
    if options.endpoint_url:
        overrides["endpoint_url"] = options.endpoint_url
    settings = load_settings(**overrides)
    return client("kinesis", settings, max_attempts=1, max_pool_connections=max_pool_connections)


class Backoff(Streak):
    """A throttled shard's backoff: 0.2 s doubling to 10 s, full jitter (the shared policy,
    :mod:`fraudstream.retry`), counted per shard and reset by its next success."""

    def __init__(self, base_s: float = 0.2, cap_s: float = 10.0) -> None:
        super().__init__(retry.Backoff(base=base_s, cap=cap_s))


@dataclass
class Fetch:
    """One GetRecords answer."""

    records: list[dict[str, Any]]  # Kinesis records as boto3 returns them
    next_iterator: str | None  # None: the shard is closed and this was its end
    millis_behind: int


class KinesisShards:
    """Kinesis calls for one stream, failures turned into the outcomes the loops handle."""

    def __init__(
        self,
        client: Any,
        stream_name: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.stream_name = stream_name
        self.sleep = sleep

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """Call ``operation``; retry transient failures; raise the loop's signals."""

        def once() -> dict[str, Any]:
            try:
                result: dict[str, Any] = getattr(self.client, operation)(**kwargs)
            except ClientError as error:
                if retry.is_throttling(error):
                    raise Throttled(retry.error_code(error)) from error
                if retry.error_code(error) == "ExpiredIteratorException":
                    raise IteratorExpired("ExpiredIteratorException") from error
                raise
            return result

        def failed(error: BaseException) -> KinesisReadError:
            detail = str(error)
            if isinstance(error, ClientError):
                message = error.response.get("Error", {}).get("Message", error)
                detail = f"{retry.error_code(error)}: {message}"
            return KinesisReadError(
                f"Kinesis {operation} on stream {self.stream_name} failed: {detail}"
            )

        def warn(attempt: int, error: BaseException) -> None:
            log.warning("Kinesis %s failed (%s); retrying (%d)", operation, error, attempt)

        try:
            return retry.retry(
                once,
                max_attempts=MAX_TRANSIENT_RETRIES + 1,
                backoff=retry.Backoff(base=0.1, cap=2.0),
                sleep=self.sleep,
                on_retry=warn,
            )
        except retry.GaveUp as gave_up:
            raise failed(gave_up.last) from gave_up.last
        except (ClientError, BotoCoreError) as error:
            raise failed(error) from error

    def identity(self) -> StreamIdentity:
        """The stream's ARN and creation time."""
        summary = self._call("describe_stream_summary", StreamName=self.stream_name)[
            "StreamDescriptionSummary"
        ]
        created: datetime = summary["StreamCreationTimestamp"]
        return StreamIdentity(
            name=self.stream_name,
            arn=str(summary["StreamARN"]),
            created_ms=int(created.astimezone(UTC).timestamp() * 1000),
        )

    def list_shards(self) -> list[ShardInfo]:
        """Every shard the stream still has, open or closed (within retention)."""
        shards: list[ShardInfo] = []
        result = self._call("list_shards", StreamName=self.stream_name)
        while True:
            shards.extend(ShardInfo.from_api(s) for s in result.get("Shards", []))
            token = result.get("NextToken")
            if not token:
                return shards
            result = self._call("list_shards", NextToken=token)

    def iterator(self, shard_id: str, position: ShardPosition, start: StartSpec) -> str:
        """A shard iterator just after ``position`` (or at ``start`` if nothing is consumed)."""
        kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": shard_id}
        if position.seq is not None:
            kwargs.update(
                ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=position.seq
            )
        elif start.type == "AT_TIMESTAMP":
            assert start.timestamp_ms is not None
            moment = datetime.fromtimestamp(start.timestamp_ms / 1000, tz=UTC)
            kwargs.update(ShardIteratorType="AT_TIMESTAMP", Timestamp=moment)
        else:
            kwargs.update(ShardIteratorType="TRIM_HORIZON")
        # GetShardIterator is limited to 5 calls/s per shard; a throttle raises Throttled.
        return str(self._call("get_shard_iterator", **kwargs)["ShardIterator"])

    def get_records(self, iterator: str, limit: int) -> Fetch:
        result = self._call("get_records", ShardIterator=iterator, Limit=limit)
        return Fetch(
            records=result.get("Records", []),
            next_iterator=result.get("NextShardIterator"),
            millis_behind=int(result.get("MillisBehindLatest", 0)),
        )
