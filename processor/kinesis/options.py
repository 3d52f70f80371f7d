"""Options of ``spark.readStream.format("kinesis")``: parsed and validated once, up front.

Spark hands a data source its options as strings in a case-insensitive map. :func:`parse_options`
turns them into a frozen, picklable :class:`SourceOptions` or raises
:class:`~processor.kinesis.errors.InvalidOptionError` (a ``ValueError``) naming the option.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from fraudstream.cells import HashRange
from processor.kinesis.errors import InvalidOptionError

if TYPE_CHECKING:
    from fraudstream.settings import Settings

StartingPosition = Literal["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"]
DataType = Literal["binary", "string"]

STARTING_POSITIONS: tuple[StartingPosition, ...] = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
DATA_TYPES: tuple[DataType, ...] = ("binary", "string")
GET_RECORDS_MAX = 10_000  # Kinesis rejects a larger GetRecords Limit

# Option names as users write them; Spark lower-cases the keys it hands us.
OPTION_DOCS: dict[str, str] = {
    "streamName": "Kinesis stream to read (required).",
    "region": "AWS region; default from FRAUDSTREAM_REGION / AWS_REGION.",
    "endpointUrl": "AWS endpoint override (emulator, LocalStack); default from AWS_ENDPOINT_URL.",
    "startingPosition": "TRIM_HORIZON, LATEST (default) or AT_TIMESTAMP; new queries only.",
    "startingTimestamp": "With AT_TIMESTAMP: RFC 3339 time with a zone, or epoch milliseconds.",
    "maxRecordsPerTrigger": "Most records admitted per micro-batch (admission control).",
    "maxBytesPerTrigger": "Most bytes of records admitted per micro-batch (admission control).",
    "failOnDataLoss": "true (default): fail when records the checkpoint needs have expired.",
    "dataType": "Type of the data column: binary (default) or string (UTF-8, bad bytes replaced).",
    "maxRecordsPerFetch": "GetRecords Limit, 1-10000 (default 10000).",
    "idleTimeBetweenReadsMs": "Pause before polling a shard that was caught up (default 1000).",
    "shardSyncIntervalMs": "How often shards and the stream's identity are re-listed (10000).",
    "fetchThreads": "Shards fetched concurrently on the driver (default 8).",
    "prefetch": "true (default): fetch the next batch while Spark processes this one.",
    "hashRange": "This reader's cell, <index>/<count> (default 0/1, every shard): the shards "
    "meeting that share of the hash-key space, their records of keys hashing into it.",
}
_KNOWN = {name.lower(): name for name in OPTION_DOCS}
# Keys Spark itself may add to a streaming source's options.
_SPARK_KEYS = frozenset({"path", "paths"})

_STREAM_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_URL = re.compile(r"^https?://[^/\s]+")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


@dataclass(frozen=True)
class SourceOptions:
    """Validated options; every field is a primitive so the object pickles to executors."""

    stream_name: str
    region: str | None = None
    endpoint_url: str | None = None
    starting_position: StartingPosition = "LATEST"
    starting_timestamp_ms: int | None = None
    max_records_per_trigger: int | None = None
    max_bytes_per_trigger: int | None = None
    fail_on_data_loss: bool = True
    data_type: DataType = "binary"
    max_records_per_fetch: int = GET_RECORDS_MAX
    idle_time_between_reads_ms: int = 1000
    shard_sync_interval_ms: int = 10_000
    fetch_threads: int = 8
    prefetch: bool = True
    hash_range: str = "0/1"

    @property
    def cell(self) -> HashRange:
        """The cell this reader serves (:mod:`processor.kinesis.cells`)."""
        return HashRange.parse(self.hash_range)


def _int(name: str, raw: str, low: int, high: int | None = None) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidOptionError(f"option {name} must be an integer, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise InvalidOptionError(f"option {name} must be {bound}, got {value}")
    return value


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise InvalidOptionError(f"option {name} must be true or false, got {raw!r}")
    return value == "true"


def parse_timestamp_ms(raw: str, name: str = "startingTimestamp") -> int:
    """Epoch milliseconds from epoch milliseconds or an RFC 3339 time with a zone."""
    text = raw.strip()
    if re.fullmatch(r"\d{1,15}", text):
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidOptionError(
            f"option {name} must be epoch milliseconds or an RFC 3339 time such as "
            f"2024-05-01T12:00:00Z, got {raw!r}"
        ) from None
    if moment.tzinfo is None:
        raise InvalidOptionError(f"option {name} must name its time zone (e.g. end in Z): {raw!r}")
    return int(moment.timestamp() * 1000)


def parse_options(options: Mapping[str, str]) -> SourceOptions:
    """Validate Spark's option map; raise :class:`InvalidOptionError` on the first problem."""
    given = {str(key).lower(): str(value) for key, value in options.items()}
    unknown = sorted(key for key in given if key not in _KNOWN and key not in _SPARK_KEYS)
    if unknown:
        raise InvalidOptionError(
            f"unknown option(s) {', '.join(unknown)} for format kinesis; "
            f"known options: {', '.join(OPTION_DOCS)}"
        )

    def get(name: str) -> str | None:
        value = given.get(name.lower())
        return None if value is None or value.strip() == "" else value

    stream_name = get("streamName")
    if stream_name is None:
        raise InvalidOptionError('option streamName is required, e.g. .option("streamName", "tx")')
    stream_name = stream_name.strip()
    if not _STREAM_NAME.match(stream_name):
        raise InvalidOptionError(
            f"option streamName must be 1-128 letters, digits, '_', '.' or '-', got {stream_name!r}"
        )

    region = get("region")
    if region is not None:
        region = region.strip()
        if not _REGION.match(region):
            raise InvalidOptionError(f"option region must look like us-east-1, got {region!r}")

    endpoint_url = get("endpointUrl")
    if endpoint_url is not None:
        endpoint_url = endpoint_url.strip().rstrip("/")
        if not _URL.match(endpoint_url):
            raise InvalidOptionError(
                f"option endpointUrl must be an http:// or https:// URL, got {endpoint_url!r}"
            )

    position = (get("startingPosition") or "LATEST").strip().upper()
    if position not in STARTING_POSITIONS:
        raise InvalidOptionError(
            f"option startingPosition must be one of {', '.join(STARTING_POSITIONS)}, "
            f"got {position!r}"
        )
    raw_timestamp = get("startingTimestamp")
    timestamp_ms = None
    if position == "AT_TIMESTAMP":
        if raw_timestamp is None:
            raise InvalidOptionError("startingPosition AT_TIMESTAMP needs option startingTimestamp")
        timestamp_ms = parse_timestamp_ms(raw_timestamp)
    elif raw_timestamp is not None:
        raise InvalidOptionError(
            f"option startingTimestamp only applies to startingPosition AT_TIMESTAMP, "
            f"not {position}"
        )

    raw_max = get("maxRecordsPerTrigger")
    max_per_trigger = None if raw_max is None else _int("maxRecordsPerTrigger", raw_max, 1)
    raw_bytes = get("maxBytesPerTrigger")
    max_bytes = None if raw_bytes is None else _int("maxBytesPerTrigger", raw_bytes, 1)

    data_type = (get("dataType") or "binary").strip().lower()
    if data_type not in DATA_TYPES:
        raise InvalidOptionError(f"option dataType must be binary or string, got {data_type!r}")

    def tuning(name: str, default: int, low: int, high: int | None = None) -> int:
        raw = get(name)
        return default if raw is None else _int(name, raw, low, high)

    try:
        cell = HashRange.parse(get("hashRange") or "0/1")
    except ValueError as error:
        raise InvalidOptionError(f"option hashRange {error}") from None

    return SourceOptions(
        stream_name=stream_name,
        region=region,
        endpoint_url=endpoint_url,
        starting_position=position,
        starting_timestamp_ms=timestamp_ms,
        max_records_per_trigger=max_per_trigger,
        max_bytes_per_trigger=max_bytes,
        fail_on_data_loss=_bool("failOnDataLoss", get("failOnDataLoss") or "true"),
        data_type=data_type,
        max_records_per_fetch=tuning("maxRecordsPerFetch", GET_RECORDS_MAX, 1, GET_RECORDS_MAX),
        idle_time_between_reads_ms=tuning("idleTimeBetweenReadsMs", 1000, 0, 600_000),
        shard_sync_interval_ms=tuning("shardSyncIntervalMs", 10_000, 0, 3_600_000),
        fetch_threads=tuning("fetchThreads", 8, 1, 64),
        prefetch=_bool("prefetch", get("prefetch") or "true"),
        hash_range=str(cell),
    )


def options_from_settings(settings: Settings, **extra: str) -> dict[str, str]:
    """Reader options for the transactions stream as ``settings`` describe it.

    Stream, region, endpoint (honouring ``AWS_ENDPOINT_URL_KINESIS`` like every other client),
    admission control and the processor's cell come from settings; ``extra`` adds or overrides
    options, e.g. ``startingPosition="TRIM_HORIZON"``. The result is validated like any option map.
    """
    from fraudstream.aws import endpoint_for

    options = {"streamName": settings.stream_name, "region": settings.region}
    endpoint = endpoint_for("kinesis", settings)
    if endpoint:
        options["endpointUrl"] = endpoint
    if settings.max_records_per_trigger is not None:
        options["maxRecordsPerTrigger"] = str(settings.max_records_per_trigger)
    if settings.max_bytes_per_trigger is not None:
        options["maxBytesPerTrigger"] = str(settings.max_bytes_per_trigger)
    options["idleTimeBetweenReadsMs"] = str(settings.kinesis_poll_ms)
    if not settings.cell.whole:
        options["hashRange"] = str(settings.cell)
    options.update(extra)
    parse_options(options)
    return options
