"""Validation of raw Kinesis payloads for a whole batch, in Arrow: what the source's ``read()``
runs, so the stream reaches Spark already typed, with a quarantine reason on every reject.

The reference is the contract's Python validator (:func:`fraudstream.events.parse_event`,
:func:`~fraudstream.events.parse_label`). The fast path here is *sound*, not complete: a
record it accepts is one the reference accepts, with the very same values; anything it cannot
vouch for goes to the reference, one record at a time, which then gives the exact reason and
detail. The usual record, a flat JSON object with only the contract's keys, is decided in
columns:

1. a regular expression (RE2, linear time) finds the records that are one flat JSON object on
   one line with known keys only;
2. Arrow's JSON reader parses those with the contract's types in one call (a record it refuses,
   e.g. a duplicated key or a string where a number belongs, is isolated by bisection and left
   to the reference);
3. every constraint of the contract runs as an Arrow or numpy operation over the batch.

Rejected records keep their payload as text with anything shaped like a card number masked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from fraudstream.events import (
    CARD_ID_PATTERN,
    EVENT_FIELD_NAMES,
    EVENT_FIELDS,
    LABEL_FIELDS,
    MAX_FUTURE,
    MIN_EVENT_TIME,
    SUPPORTED_SCHEMA_VERSIONS,
    FieldSpec,
    InvalidEvent,
    arrow_schema,
    parse_label,
)
from processor.validation import fallback

UTC_US = pa.timestamp("us", tz="UTC")

# JSON grammar (RFC 8259) for one flat object on one line: whitespace is space or tab only, so
# a record can be handed to the newline-delimited reader as is.
_WS = r"[ \t]*"
_STRING = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_SCALAR = rf"(?:{_STRING}|{_NUMBER}|true|false|null)"


def flat_object(names: Sequence[str]) -> str:
    """RE2 pattern of a flat JSON object whose keys are all among ``names`` (spelt plainly)."""
    keys = "|".join(re.escape(name) for name in names)
    member = rf'"(?:{keys})"{_WS}:{_WS}{_SCALAR}{_WS}'
    return rf"^{_WS}\{{{_WS}(?:{member}(?:,{_WS}{member})*)?\}}{_WS}$"


CANONICAL_TIMESTAMP = (
    r"^[1-8][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:0[0-9]|1[0-7]):[0-5][0-9])$"
)
"""RFC 3339 in the one shape Arrow's cast and Python's ``fromisoformat`` read alike; other ISO
forms Python accepts go to the reference."""
MAYBE_CARD_NUMBER = r"[0-9]{13}|[0-9]{4}[ -][0-9]{4,6}[ -][0-9]{4}"
"""Superset of :func:`fraudstream.events.contains_card_number`: a value matching it is left to
the reference, which runs the Luhn check."""
_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_EVENT_OBJECT = flat_object(EVENT_FIELD_NAMES)
_LABEL_NAMES = tuple(spec.name for spec in LABEL_FIELDS)
_LABEL_OBJECT = flat_object(_LABEL_NAMES)
_JSON_TYPES = {"string": pa.string(), "double": pa.float64(), "long": pa.int64()}
EVENT_JSON = pa.schema(
    [pa.field(s.name, _JSON_TYPES.get(s.kind, pa.string())) for s in EVENT_FIELDS]
)
LABEL_JSON = pa.schema(
    [pa.field(s.name, _JSON_TYPES.get(s.kind, pa.string())) for s in LABEL_FIELDS]
)
REJECT_FIELDS = (
    pa.field("raw", pa.string()),
    pa.field("reason", pa.string()),
    pa.field("detail", pa.string()),
)
EVENTS_OUT = pa.schema([f.with_nullable(True) for f in arrow_schema()] + list(REJECT_FIELDS))
LABELS_OUT = pa.schema(
    [
        pa.field("transaction_id", pa.string()),
        pa.field("card_id", pa.string()),
        pa.field("merchant_id", pa.string()),
        pa.field("is_fraud", pa.bool_()),
        pa.field("scenario", pa.string()),
        pa.field("label_event_time", UTC_US),
        pa.field("label_time", UTC_US),
        *REJECT_FIELDS,
    ]
)
_MIN_US = int(MIN_EVENT_TIME.timestamp() * 1_000_000)
_FUTURE_US = int(MAX_FUTURE / timedelta(microseconds=1))


def _regex(pattern: str) -> str:
    """A contract pattern (``re.fullmatch`` semantics) for RE2's whole-value match."""
    body = pattern.removeprefix("^").removesuffix("$")
    return rf"^(?:{body})$"


def _parse(lines: pa.Array, schema: pa.Schema) -> tuple[pa.Table | None, np.ndarray]:
    """Parse one-line JSON objects with ``schema``; returns the table of those that parsed
    (in order) and their positions. Records Arrow refuses are found by bisection."""
    if len(lines) == 0:
        return None, np.empty(0, dtype=np.int64)
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
    read = pa_json.ReadOptions(use_threads=False, block_size=1 << 24)

    def attempt(start: int, stop: int) -> list[tuple[int, int, pa.Table]]:
        part = lines.slice(start, stop - start)
        joined = pa.ListArray.from_arrays(pa.array([0, len(part)], pa.int32()), part)
        body = pc.binary_join(joined, b"\n")[0].as_buffer()
        try:
            table = pa_json.read_json(
                pa.BufferReader(body), parse_options=options, read_options=read
            )
        except (pa.ArrowInvalid, UnicodeDecodeError, ValueError):
            if stop - start == 1:
                return []
            middle = (start + stop) // 2
            return attempt(start, middle) + attempt(middle, stop)
        if table.num_rows != stop - start:
            if stop - start == 1:
                return []
            middle = (start + stop) // 2
            return attempt(start, middle) + attempt(middle, stop)
        return [(start, stop, table)]

    pieces = attempt(0, len(lines))
    if not pieces:
        return None, np.empty(0, dtype=np.int64)
    table = pa.concat_tables([t for _, _, t in pieces]).combine_chunks()
    where = np.concatenate([np.arange(a, b) for a, b, _ in pieces])
    return table, where


def _text_ok(column: pa.ChunkedArray | pa.Array, spec: FieldSpec) -> np.ndarray:
    """Where a present string passes its field's constraints (absent counts as passing)."""
    checks = []
    if spec.max_length is not None:
        checks.append(pc.less_equal(pc.utf8_length(column), spec.max_length))
    if spec.pattern is not None:
        checks.append(pc.match_substring_regex(column, _regex(spec.pattern)))
    if spec.choices is not None:
        checks.append(pc.is_in(column, pa.array(spec.choices)))
    if spec.no_card_numbers:
        checks.append(pc.invert(pc.match_substring_regex(column, MAYBE_CARD_NUMBER)))
    result = np.ones(len(column), dtype=bool)
    for check in checks:
        result &= pc.fill_null(check, True).to_numpy(zero_copy_only=False)
    return result


def _times(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(ok mask, timestamps) of canonical RFC 3339 strings that are real calendar times."""
    n = len(column)
    canonical = pc.fill_null(pc.match_substring_regex(column, CANONICAL_TIMESTAMP), False)
    ok = canonical.to_numpy(zero_copy_only=False).copy()
    if not ok.any():
        return ok, pa.nulls(n, UTC_US)
    text = pc.if_else(canonical, column, "2000-01-01T00:00:00Z")

    def part(start: int, length: int) -> np.ndarray:
        piece = pc.utf8_slice_codeunits(text, start, start + length)
        return pc.cast(piece, pa.int64()).to_numpy(zero_copy_only=False)

    year, month, day = part(0, 4), part(5, 2), part(8, 2)
    hour, minute, second = part(11, 2), part(14, 2), part(17, 2)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_ok = (month >= 1) & (month <= 12)
    days = _DAYS[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    ok &= month_ok & (day >= 1) & (day <= days) & (hour <= 23) & (minute <= 59) & (second <= 59)
    stamps = pc.cast(pc.if_else(pa.array(ok), text, "2000-01-01T00:00:00Z"), UTC_US)
    return ok, stamps


def _micros(values: pa.Array) -> np.ndarray:
    return pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False)


def _event_checks(table: pa.Table, now_us: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """Rows that pass every constraint, and their event times."""
    ok = np.ones(table.num_rows, dtype=bool)
    for spec in EVENT_FIELDS:
        column = table.column(spec.name)
        present = column.is_valid().to_numpy(zero_copy_only=False)
        if spec.required:
            ok &= present
        if spec.kind == "string":
            ok &= _text_ok(column, spec)
        elif spec.kind == "double":
            values = pc.fill_null(column, 1.0).to_numpy(zero_copy_only=False)
            inside = np.isfinite(values)
            if spec.minimum is not None:
                inside &= (
                    values > spec.minimum if spec.exclusive_minimum else values >= spec.minimum
                )
            if spec.maximum is not None:
                inside &= values <= spec.maximum
            ok &= inside | ~present
    version = pc.fill_null(table.column("schema_version"), -1).to_numpy(zero_copy_only=False)
    ok &= np.isin(version, sorted(SUPPORTED_SCHEMA_VERSIONS))
    lat = table.column("lat").is_valid().to_numpy(zero_copy_only=False)
    lon = table.column("lon").is_valid().to_numpy(zero_copy_only=False)
    ok &= lat == lon
    timed, stamps = _times(table.column("event_time"))
    micros = _micros(stamps)
    ok &= timed & (micros >= _MIN_US) & (micros <= now_us + _FUTURE_US)
    return ok, stamps


def _python_events(payloads: list[bytes], now_us: np.ndarray) -> list[dict[str, Any]]:
    """The reference's verdict on records the fast path left (card numbers masked)."""
    rows = []
    for payload, micros in zip(payloads, now_us.tolist(), strict=True):
        now = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
        verdict = fallback.verdict(payload, now, MAX_FUTURE)
        if verdict["reason"] is None:
            verdict["raw"] = None
        rows.append(verdict)
    return rows


def _assemble(
    n: int,
    schema: pa.Schema,
    fast: pa.Table | None,
    fast_rows: np.ndarray,
    slow: list[dict[str, Any]],
    slow_rows: np.ndarray,
) -> pa.Table:
    if fast is not None and fast.num_rows == n:  # the usual batch: every record in columns
        return fast.select(schema.names).cast(schema)
    parts = []
    order = []
    if fast is not None and fast.num_rows:
        parts.append(fast.select(schema.names).cast(schema))
        order.append(fast_rows)
    if slow:
        parts.append(pa.Table.from_pylist(slow, schema=schema))
        order.append(slow_rows)
    if not parts:
        return schema.empty_table()
    table = pa.concat_tables(parts).combine_chunks()
    position = np.empty(n, dtype=np.int64)
    position[np.concatenate(order)] = np.arange(n)
    return table.take(pa.array(position))


def _split(
    data: pa.Array, pattern: str, schema: pa.Schema
) -> tuple[pa.Table | None, np.ndarray, np.ndarray]:
    """Parse the records shaped like ``pattern``; (table, their rows, the other rows)."""
    n = len(data)
    shaped = pc.fill_null(pc.match_substring_regex(data, pattern), False)
    candidates = np.flatnonzero(shaped.to_numpy(zero_copy_only=False))
    lines = data if len(candidates) == n else data.take(pa.array(candidates, pa.int64()))
    table, parsed = _parse(lines, schema)
    rows = candidates[parsed]
    others = np.setdiff1d(np.arange(n), rows, assume_unique=True)
    return table, rows, others


def validate_events(data: pa.Array, now_us: np.ndarray) -> pa.Table:
    """Verdicts for transaction payloads (``data`` binary; ``now_us`` each record's arrival,
    epoch microseconds, the reference time for the future-event check): rows of
    :data:`EVENTS_OUT`, the contract's fields typed for valid rows, ``raw``/``reason``/
    ``detail`` for rejected ones."""
    n = len(data)
    now_us = np.asarray(now_us, dtype=np.int64)
    table, rows, others = _split(data, _EVENT_OBJECT, EVENT_JSON)
    fast = None
    if table is not None:
        ok, stamps = _event_checks(table, now_us[rows])
        table = table.set_column(table.schema.get_field_index("event_time"), "event_time", stamps)
        good = np.flatnonzero(ok)
        fast = table if len(good) == table.num_rows else table.take(pa.array(good, pa.int64()))
        for field in REJECT_FIELDS:
            fast = fast.append_column(field, pa.nulls(len(good), field.type))
        others = np.union1d(others, rows[~ok])
        rows = rows[good]
    payloads = data.take(pa.array(others, pa.int64())).to_pylist()
    slow = _python_events(payloads, now_us[others])
    return _assemble(n, EVENTS_OUT, fast, rows, slow, others)


def _label_checks(table: pa.Table) -> tuple[np.ndarray, pa.Array, pa.Array]:
    ok = np.ones(table.num_rows, dtype=bool)
    event_specs = {spec.name: spec for spec in EVENT_FIELDS}
    for spec in LABEL_FIELDS:
        column = table.column(spec.name)
        if spec.name != "scenario":
            ok &= column.is_valid().to_numpy(zero_copy_only=False)
        if spec.kind == "string":
            rule = event_specs.get(spec.name)
            if rule is None:  # scenario: any short text without a card number
                rule = FieldSpec(
                    spec.name, "string", False, "", max_length=64, no_card_numbers=True
                )
            elif spec.name == "card_id":
                rule = FieldSpec("card_id", "string", True, "", pattern=CARD_ID_PATTERN)
            ok &= _text_ok(column, rule)
    fraud = pc.fill_null(table.column("is_fraud"), -1).to_numpy(zero_copy_only=False)
    ok &= (fraud == 0) | (fraud == 1)
    stamps = []
    for name in ("event_time", "label_time"):
        timed, moments = _times(table.column(name))
        ok &= timed & (_micros(moments) >= _MIN_US)
        stamps.append(moments)
    return ok, stamps[0], stamps[1]


def _python_labels(payloads: list[bytes]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for payload in payloads:
        raw = fallback.raw_text(payload)
        try:
            label = parse_label(payload)
        except InvalidEvent as error:
            rows.append({"raw": raw, "reason": error.reason, "detail": error.detail})
            continue
        rows.append(
            {
                "transaction_id": label.transaction_id,
                "card_id": label.card_id,
                "merchant_id": label.merchant_id,
                "is_fraud": label.is_fraud,
                "scenario": label.scenario,
                "label_event_time": label.event_time,
                "label_time": label.label_time,
            }
        )
    return rows


def validate_labels(data: pa.Array) -> pa.Table:
    """Verdicts for labels-stream payloads: rows of :data:`LABELS_OUT`; a rejected label has
    reason ``bad_label``, a detail and its payload masked."""
    n = len(data)
    table, rows, others = _split(data, _LABEL_OBJECT, LABEL_JSON)
    fast = None
    if table is not None:
        ok, event_time, label_time = _label_checks(table)
        good = pa.array(np.flatnonzero(ok), pa.int64())
        scenario = pc.fill_null(table.column("scenario"), "unknown")
        fast = pa.table(
            {
                "transaction_id": table.column("transaction_id"),
                "card_id": table.column("card_id"),
                "merchant_id": table.column("merchant_id"),
                "is_fraud": pc.equal(table.column("is_fraud"), 1),
                "scenario": scenario,
                "label_event_time": event_time,
                "label_time": label_time,
            }
        ).take(good)
        for field in REJECT_FIELDS:
            fast = fast.append_column(field, pa.nulls(len(good), field.type))
        others = np.union1d(others, rows[~ok])
        rows = rows[np.flatnonzero(ok)]
    slow = _python_labels(data.take(pa.array(others, pa.int64())).to_pylist())
    return _assemble(n, LABELS_OUT, fast, rows, slow, others)
