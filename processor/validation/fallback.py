"""The Python side of validation: the contract's own validator over an Arrow batch.

Spark decides most records with SQL expressions (:mod:`processor.validation.spark`); the few it
cannot decide exactly as :func:`fraudstream.events.parse_event` would (payloads that are not a
flat JSON object, timestamps in a non-canonical ISO form, invalid UTF-8, ...) and the quarantined
records whose raw text needs card numbers masked come here, one Arrow batch at a time. Only the
event contract, pyarrow and the standard library are imported: this runs in Spark's Python workers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from fraudstream.events import (
    EVENT_FIELDS,
    InvalidEvent,
    TransactionEvent,
    arrow_schema,
    parse_event,
    redact_card_numbers,
)

VERDICT_FIELDS: tuple[pa.Field, ...] = (
    pa.field("reason", pa.string()),
    pa.field("detail", pa.string()),
    pa.field("raw", pa.string()),
    *(field.with_nullable(True) for field in arrow_schema()),
)
VERDICT_TYPE = pa.struct(list(VERDICT_FIELDS))


def _printable(text: str) -> str:
    """Text that survives UTF-8 encoding (lone surrogates become U+FFFD)."""
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text


def raw_text(payload: bytes) -> str:
    """The payload as quarantine stores it: decoded leniently, card numbers masked."""
    return redact_card_numbers(payload.decode("utf-8", "replace"))


def _unencodable(event: TransactionEvent) -> str | None:
    """Name of a string field Arrow cannot hold (a lone surrogate from a JSON escape)."""
    for spec in EVENT_FIELDS:
        value = getattr(event, spec.name)
        if isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return spec.name
    return None


def verdict(payload: bytes, now: datetime, max_future: timedelta) -> dict[str, Any]:
    """One record's verdict: ``reason`` is None for a valid event, whose fields are filled.

    Failures of the validator itself (deep nesting, numbers too large for a float, dates that
    overflow when moved to UTC) become quarantine reasons instead of stopping the stream.
    """
    out: dict[str, Any] = {"reason": None, "detail": None, "raw": raw_text(payload)}
    try:
        event = parse_event(payload, now=now, max_future=max_future)
    except InvalidEvent as error:
        out.update(reason=error.reason, detail=_printable(error.detail))
        return out
    except RecursionError:
        out.update(reason="bad_json", detail="not valid JSON: nested too deeply")
        return out
    except OverflowError as error:
        out.update(reason="bad_value", detail=f"value out of range: {error}")
        return out
    field = _unencodable(event)
    if field is not None:
        out.update(reason="bad_value", detail=f"{field} holds an unpaired UTF-16 surrogate")
        return out
    for spec in EVENT_FIELDS:
        out[spec.name] = getattr(event, spec.name)
    return out


def verdicts(payloads: pa.Array, now: pa.Array, max_future_seconds: float) -> pa.StructArray:
    """Verdicts for a batch; a null payload (decided by SQL) gives an all-null struct."""
    max_future = timedelta(seconds=max_future_seconds)
    rows: list[dict[str, Any] | None] = []
    for payload, moment in zip(payloads.to_pylist(), now.to_pylist(), strict=True):
        if payload is None:
            rows.append(None)
            continue
        if moment is None:
            moment = datetime.now(UTC)
        elif moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        rows.append(verdict(payload, moment, max_future))
    result: pa.StructArray = pa.array(rows, type=VERDICT_TYPE)
    return result
