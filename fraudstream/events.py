"""The event contract: one definition of a transaction event and of a ground-truth label.

The producer serialises with :meth:`TransactionEvent.to_json`, the processor validates with
:func:`parse_event` (in columns, :mod:`processor.validation.arrow`, with the same field
constraints) and the lake stores the columns of :func:`arrow_schema`. All three derive from
:data:`EVENT_FIELDS`, so adding a field is a one-line change here.

Wire format: UTF-8 JSON object, partition key = ``card_id``, ``event_time`` RFC 3339 in UTC.
Labels never travel with events; they go to the labels stream as :class:`LabelRecord`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pyarrow as pa

from fraudstream.errors import FraudstreamError

SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = frozenset({1})
MAX_AMOUNT = 1_000_000.0
MAX_FUTURE = timedelta(minutes=5)
MIN_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
"""No card transaction of this system is older (a guard against zeroed or garbage clocks,
whose events would land in lake partitions decades away)."""
CARD_ID_PATTERN = r"^tok_[0-9a-f]{16}_[0-9]{4}$"
CHANNELS = ("pos", "online", "atm")

Kind = Literal["string", "double", "long", "timestamp"]


@dataclass(frozen=True)
class FieldSpec:
    """One field of the contract and the constraints every validator applies to it."""

    name: str
    kind: Kind
    required: bool
    description: str
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] | None = None
    max_length: int | None = None
    no_card_numbers: bool = False  # refuse a value holding a card number (Luhn-valid digits)


EVENT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("schema_version", "long", True, "Contract version of this event."),
    FieldSpec(
        "transaction_id",
        "string",
        True,
        "Unique id of the transaction.",
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        no_card_numbers=True,
    ),
    FieldSpec(
        "card_id",
        "string",
        True,
        "HMAC token of the card plus its last four digits.",
        pattern=CARD_ID_PATTERN,
    ),
    FieldSpec(
        "merchant_id",
        "string",
        True,
        "Merchant (or terminal) id.",
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        no_card_numbers=True,
    ),
    FieldSpec(
        "amount",
        "double",
        True,
        "Amount in the transaction currency.",
        minimum=0.0,
        exclusive_minimum=True,
        maximum=MAX_AMOUNT,
    ),
    FieldSpec("currency", "string", True, "ISO 4217 currency code.", pattern=r"^[A-Z]{3}$"),
    FieldSpec("event_time", "timestamp", True, "When the card was used (RFC 3339, UTC)."),
    FieldSpec(
        "merchant_category",
        "string",
        False,
        "Merchant category name.",
        max_length=64,
        no_card_numbers=True,
    ),
    FieldSpec("channel", "string", False, "Where the card was used.", choices=CHANNELS),
    FieldSpec(
        "country",
        "string",
        False,
        "ISO 3166-1 alpha-2 country of the merchant.",
        pattern=r"^[A-Z]{2}$",
    ),
    FieldSpec("lat", "double", False, "Latitude of the merchant.", minimum=-90.0, maximum=90.0),
    FieldSpec("lon", "double", False, "Longitude of the merchant.", minimum=-180.0, maximum=180.0),
)

LABEL_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("transaction_id", "string", True, "The labelled transaction."),
    FieldSpec("card_id", "string", True, "Card token of the transaction."),
    FieldSpec("merchant_id", "string", True, "Merchant of the transaction."),
    FieldSpec("is_fraud", "long", True, "1 when the transaction was fraud, else 0."),
    FieldSpec("scenario", "string", True, "Fraud scenario name, or 'genuine'."),
    FieldSpec("event_time", "timestamp", True, "Event time of the transaction."),
    FieldSpec("label_time", "timestamp", True, "When the label became known (chargeback)."),
)

EVENT_FIELD_NAMES = tuple(f.name for f in EVENT_FIELDS)


class InvalidEvent(FraudstreamError):
    """An event that breaks the contract; ``reason`` is a short code for quarantine counts.

    ``detail`` echoes parts of the input (a field name, a value), so anything shaped like a
    card number in it is masked here, once, whatever raised it."""

    def __init__(self, reason: str, detail: str) -> None:
        detail = redact_card_numbers(detail)
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision and a ``Z`` suffix."""
    if moment.tzinfo is None:
        raise ValueError("event times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp that carries an offset; naive timestamps are rejected."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("timestamp has no UTC offset")
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class TransactionEvent:
    """A card transaction as it travels on the stream."""

    transaction_id: str
    card_id: str
    merchant_id: str
    amount: float
    currency: str
    event_time: datetime
    merchant_category: str | None = None
    channel: str | None = None
    country: str | None = None
    lat: float | None = None
    lon: float | None = None
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; absent optional fields are left out rather than sent as null."""
        out: dict[str, Any] = {}
        for spec in EVENT_FIELDS:
            value = getattr(self, spec.name)
            if value is None:
                continue
            out[spec.name] = format_time(value) if spec.kind == "timestamp" else value
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @property
    def partition_key(self) -> str:
        """Kinesis partition key: the card, so one card's events stay ordered on one shard."""
        return self.card_id


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """Ground truth for one transaction, released after a delay like a chargeback."""

    transaction_id: str
    card_id: str
    merchant_id: str
    is_fraud: bool
    scenario: str
    event_time: datetime
    label_time: datetime = field(compare=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["is_fraud"] = int(self.is_fraud)
        out["event_time"] = format_time(self.event_time)
        out["label_time"] = format_time(self.label_time)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> LabelRecord:
        data = json.loads(raw)
        return cls(
            transaction_id=str(data["transaction_id"]),
            card_id=str(data["card_id"]),
            merchant_id=str(data["merchant_id"]),
            is_fraud=bool(int(data["is_fraud"])),
            scenario=str(data["scenario"]),
            event_time=parse_time(data["event_time"]),
            label_time=parse_time(data["label_time"]),
        )


def _check_value(spec: FieldSpec, value: Any) -> Any:
    """Type-check and constrain one present value; return it in its Python form."""
    if spec.kind == "string":
        if not isinstance(value, str):
            raise InvalidEvent("wrong_type", f"{spec.name} must be a string")
        if spec.max_length is not None and len(value) > spec.max_length:
            raise InvalidEvent("bad_value", f"{spec.name} is longer than {spec.max_length}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:  # an unpaired surrogate from a \uD8xx escape
            raise InvalidEvent("bad_value", f"{spec.name} is not valid Unicode") from error
        if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
            if spec.name == "card_id" and re.fullmatch(r"[0-9 -]{12,23}", value):
                raise InvalidEvent("raw_card_number", "card_id looks like a card number")
            raise InvalidEvent("bad_value", f"{spec.name} has an invalid format")
        if spec.choices is not None and value not in spec.choices:
            raise InvalidEvent("bad_value", f"{spec.name} must be one of {', '.join(spec.choices)}")
        if spec.no_card_numbers and contains_card_number(value):
            raise InvalidEvent("raw_card_number", f"{spec.name} holds a card number")
        return value
    if spec.kind == "timestamp":
        if not isinstance(value, str):
            raise InvalidEvent("wrong_type", f"{spec.name} must be an RFC 3339 string")
        try:
            moment = parse_time(value)
        except (ValueError, OverflowError) as error:
            raise InvalidEvent("bad_timestamp", f"{spec.name}: {error}") from error
        if moment < MIN_EVENT_TIME:
            raise InvalidEvent("bad_timestamp", f"{spec.name} is before {MIN_EVENT_TIME:%Y-%m-%d}")
        return moment
    # numbers: bool is an int subclass in Python but never a valid number here
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent("wrong_type", f"{spec.name} must be a number")
    if spec.kind == "long":
        if isinstance(value, float) and not value.is_integer():
            raise InvalidEvent("wrong_type", f"{spec.name} must be an integer")
        return int(value)
    try:
        number = float(value)
    except OverflowError:  # an integer with hundreds of digits
        number = math.inf if value > 0 else -math.inf
    if not math.isfinite(number):
        raise InvalidEvent("bad_value", f"{spec.name} must be finite")
    too_low = spec.minimum is not None and (
        number <= spec.minimum if spec.exclusive_minimum else number < spec.minimum
    )
    if too_low or (spec.maximum is not None and number > spec.maximum):
        reason = "bad_amount" if spec.name == "amount" else "bad_value"
        raise InvalidEvent(reason, f"{spec.name}={number} is outside its allowed range")
    return number


def validate_event(
    data: Any, *, now: datetime | None = None, max_future: timedelta = MAX_FUTURE
) -> TransactionEvent:
    """Check a decoded JSON value against the contract and build the event.

    Raises :class:`InvalidEvent` with the first problem found. ``now`` bounds how far in the
    future an event may claim to be (clock skew allowance ``max_future``).
    """
    if not isinstance(data, Mapping):
        raise InvalidEvent("bad_json", "event must be a JSON object")
    version = data.get("schema_version")
    if version is None:
        raise InvalidEvent("missing_field", "schema_version is required")
    if (
        isinstance(version, bool)
        or not isinstance(version, int)
        or (version not in SUPPORTED_SCHEMA_VERSIONS)
    ):
        raise InvalidEvent("unknown_schema_version", f"schema_version {version!r} is not supported")
    unknown = set(data) - set(EVENT_FIELD_NAMES)
    if unknown:
        raise InvalidEvent("unknown_field", f"unexpected field(s): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for spec in EVENT_FIELDS:
        value = data.get(spec.name)
        if value is None:
            if spec.required:
                raise InvalidEvent("missing_field", f"{spec.name} is required")
            continue
        values[spec.name] = _check_value(spec, value)
    if ("lat" in values) != ("lon" in values):
        raise InvalidEvent("bad_value", "lat and lon must be given together")
    now = now or datetime.now(UTC)
    if values["event_time"] > now + max_future:
        raise InvalidEvent("future_event_time", "event_time is too far in the future")
    return TransactionEvent(**values)


def parse_event(
    raw: str | bytes, *, now: datetime | None = None, max_future: timedelta = MAX_FUTURE
) -> TransactionEvent:
    """Decode and validate one wire payload; raise :class:`InvalidEvent` with a reason."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidEvent("bad_json", f"not valid JSON: {error}") from error
    except RecursionError as error:
        raise InvalidEvent("bad_json", "JSON nested too deeply") from error
    return validate_event(data, now=now, max_future=max_future)


_ARROW_TYPES = {
    "string": pa.string(),
    "double": pa.float64(),
    "long": pa.int64(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def arrow_schema(fields: tuple[FieldSpec, ...] = EVENT_FIELDS) -> pa.Schema:
    """Arrow schema of the contract's fields (the lake's leading columns)."""
    return pa.schema(
        [pa.field(f.name, _ARROW_TYPES[f.kind], nullable=not f.required) for f in fields]
    )


_PAN = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_CARD_SHAPE = re.compile(
    r"(?<!\d)(?:\d{13,19}"  # 13 to 19 digits in a row
    r"|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"  # in fours: 4111 1111 1111 1111
    r"|\d{4}([ -])\d{6}\2\d{4,5})(?!\d)"  # 4-6-5 and 4-6-4 (American Express, Diners)
)


def redact_card_numbers(text: str) -> str:
    """Mask anything shaped like a card number (13 to 19 digits, single spaces or dashes
    allowed between them), keeping the last four digits.

    Applied to every echo of input that may be stored or logged: quarantined payloads, the
    details of rejections, label records. It masks more than :func:`contains_card_number`
    refuses (no Luhn check), on purpose: a mistaken card number never reaches the lake.
    """

    def _mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return "*" * (len(digits) - 4) + digits[-4:]

    return _PAN.sub(_mask, text)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def contains_card_number(text: str) -> bool:
    """Whether ``text`` holds a payment card number: 13 to 19 digits in a row, or grouped the
    way cards print them (fours, or 4-6-5 / 4-6-4, by spaces or dashes), not part of a longer
    number, passing the Luhn check. Such a value must not be stored (PCI DSS), so an id field
    holding one is refused; ids like ``tx-3f2a-0000000123`` never match."""
    for match in _CARD_SHAPE.finditer(text):
        if luhn_valid(re.sub(r"\D", "", match.group(0))):
            return True
    return False


_LABEL_STRINGS = {spec.name: spec for spec in LABEL_FIELDS if spec.kind == "string"}
_LABEL_IDS = {spec.name: spec for spec in EVENT_FIELDS if spec.name in _LABEL_STRINGS}


def parse_label(raw: str | bytes) -> LabelRecord:
    """Decode and validate one labels-stream payload; raise :class:`InvalidEvent` with reason
    ``bad_label`` and a detail saying what is wrong (card numbers masked)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise InvalidEvent("bad_label", f"label record is not valid JSON: {error}") from error
    if not isinstance(data, Mapping):
        raise InvalidEvent("bad_label", "label record must be a JSON object")
    names = {spec.name for spec in LABEL_FIELDS}
    unknown = set(data) - names
    if unknown:
        raise InvalidEvent("bad_label", f"unexpected field(s): {', '.join(sorted(unknown))}")
    for spec in LABEL_FIELDS:
        if data.get(spec.name) is None and spec.name != "scenario":
            raise InvalidEvent("bad_label", f"{spec.name} is required")
    for name in _LABEL_STRINGS:
        value = data.get(name)
        if name == "scenario" and value is None:
            continue
        if not isinstance(value, str):
            raise InvalidEvent("bad_label", f"{name} must be a string")
        if contains_card_number(value) and name != "card_id":
            raise InvalidEvent("bad_label", f"{name} holds a card number")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise InvalidEvent("bad_label", f"{name} is not valid Unicode") from error
        rule = _LABEL_IDS.get(name)
        if rule is not None:  # the same id rules as the transaction's fields
            try:
                _check_value(rule, value)
            except InvalidEvent as error:
                raise InvalidEvent("bad_label", error.detail) from error
        elif len(value) > 64:
            raise InvalidEvent("bad_label", f"{name} is longer than 64")
    fraud = data["is_fraud"]
    if isinstance(fraud, bool) or fraud not in (0, 1) or not isinstance(fraud, int):
        raise InvalidEvent("bad_label", "is_fraud must be 0 or 1")
    times = {}
    for name in ("event_time", "label_time"):
        value = data[name]
        if not isinstance(value, str):
            raise InvalidEvent("bad_label", f"{name} must be an RFC 3339 string")
        try:
            times[name] = parse_time(value)
        except (ValueError, OverflowError) as error:
            raise InvalidEvent("bad_label", f"{name}: {error}") from error
        if times[name] < MIN_EVENT_TIME:
            raise InvalidEvent("bad_label", f"{name} is before {MIN_EVENT_TIME:%Y-%m-%d}")
    return LabelRecord(
        transaction_id=data["transaction_id"],
        card_id=data["card_id"],
        merchant_id=data["merchant_id"],
        is_fraud=bool(fraud),
        scenario=data.get("scenario") or "unknown",
        event_time=times["event_time"],
        label_time=times["label_time"],
    )
